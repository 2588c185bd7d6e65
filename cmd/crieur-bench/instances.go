package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/crieur/crieur/internal/daemon"
	"github.com/crieur/crieur/internal/gcpolicy"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/push/pushtest"
)

// The instances scenario runs the digest and the alert with N crieur
// instances sharing one database. Each instance is this binary re-executed
// with -worker digest|push: a process that builds the daemon through
// internal/daemon with one side (daemon.MailOnly: digest enqueuer and mail
// pipeline; daemon.PushOnly: alert enqueuer and push pipeline; each names
// its own owner as the daemon does) on the shared database and runs it
// until its stdin closes. The parent seeds, creates the run or the alert as
// an editor's API call would, through a daemon of the same side that it
// does not start, wakes the workers (a line "kick" on their stdin;
// without it they would find the work at their next 1 s poll) and waits at
// the sink and in the database until everything is recorded. CPU is read
// from /proc/PID/stat (utime+stime) of the workers and of every process of
// the PostgreSQL server before and after, so the parent's own seeding and
// polling count for neither.

// instanceResult is one measured configuration.
type instanceResult struct {
	db        string // "SQLite" or "PostgreSQL"
	instances int
	msgs      int
	ok        bool // every message delivered and recorded
	detail    string
	wall      time.Duration
	crieurCPU time.Duration // sum over the workers
	dbCPU     time.Duration // the PostgreSQL processes; 0 for SQLite (in process)
	hasDB     bool
	rss       []int64  // peak RSS of each worker
	split     []string // messages per instance, from locked_by
	top       []string // the statements that took the most database time
}

func (r instanceResult) rate() float64 { return rate(r.msgs, r.wall) }

func (r instanceResult) perMsg(d time.Duration) float64 {
	return us(d) / float64(max(r.msgs, 1))
}

// parseInstances reads -instances: "1", "2" or "1,2".
func parseInstances(s string) ([]int, error) {
	var ns []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 8 {
			return nil, fmt.Errorf("-instances %q: want counts from 1 to 8, comma-separated", s)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// runInstances measures the digest and the alert with each -instances
// count on PostgreSQL (-db), and once with one instance on a SQLite file
// for comparison.
func runInstances(ctx context.Context, o options) (*section, error) {
	counts, err := parseInstances(o.instances)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(o.db, "postgres") {
		return nil, errors.New("-instances needs -db postgres or -db postgres://…")
	}
	type config struct {
		pg bool
		n  int
	}
	var configs []config
	if !o.noSQLite {
		configs = append(configs, config{false, 1})
	}
	for _, n := range counts {
		configs = append(configs, config{true, n})
	}
	var digests, pushes []instanceResult
	for _, c := range configs {
		r, err := measureInstances(ctx, o, "digest", c.pg, c.n)
		if err != nil {
			return nil, fmt.Errorf("digest, %d instances: %w", c.n, err)
		}
		digests = append(digests, r)
	}
	for _, c := range configs {
		r, err := measureInstances(ctx, o, "push", c.pg, c.n)
		if err != nil {
			return nil, fmt.Errorf("push, %d instances: %w", c.n, err)
		}
		pushes = append(pushes, r)
	}

	sec := &section{title: fmt.Sprintf("D. Several instances on one database: %d digests, one alert to %d browsers", o.n, o.pushN)}
	sec.setup = []string{
		"Each instance is a separate process (this binary with -worker) running the shipped daemon, built by internal/daemon with one side, on the shared database: daemon.MailOnly " +
			fmt.Sprintf("(digest enqueuer + mail pipeline, %d SMTP connections) to the SMTP sink process, or daemon.PushOnly (alert enqueuer + push pipeline, concurrency %d) to the push stub process; each has its own owner. ", o.smtpConns, o.pushConc) +
			"The bench creates the run (or sends the alert), wakes the instances and waits until the sink has every message and the database has every outcome.",
		"CPU: utime+stime from /proc/PID/stat (10 ms ticks) before and after, of the instances (summed) and of every PostgreSQL process (postmaster, its live children, and its reaped children's cutime+cstime). The sink, the stub and the bench's own seeding and polling are not counted. With SQLite the database runs inside the instance: its CPU is in the instance's figure.",
		"PostgreSQL: " + o.pgNote + "; tables emptied, seeded, then VACUUM ANALYZE before each measurement.",
		fmt.Sprintf("Everything shares this machine's %d cores: the instances, the database, the sink and the stub compete for them, so the rates are a floor and the CPU per message (not the wall time) is what extrapolates.", o.cores),
	}
	sec.head = []string{"scenario, database, instances", "messages/s (n in wall time)", "CPU per message", "check; work per instance; peak RSS per instance"}
	table := func(kind string, rs []instanceResult) {
		for _, r := range rs {
			share := "in process"
			dbc := "(in crieur's)"
			if r.hasDB {
				dbc = fmt.Sprintf("%.0f", r.perMsg(r.dbCPU))
				share = fmt.Sprintf("%.0f%%", 100*float64(r.dbCPU)/float64(r.dbCPU+r.crieurCPU))
			} else if !strings.HasPrefix(r.db, "SQLite") {
				dbc, share = "n/a (server not on this machine or not readable)", "n/a"
			}
			rss := make([]string, len(r.rss))
			for i, b := range r.rss {
				rss[i] = mb(b)
			}
			sec.rows = append(sec.rows, [4]string{
				fmt.Sprintf("%s, %s, %d instance%s", kind, r.db, r.instances, plural(r.instances)),
				fmt.Sprintf("**%.0f/s** (%d in %v)", r.rate(), r.msgs, dur(r.wall)),
				fmt.Sprintf("%.0f µs crieur + %s µs database; database share **%s**; cores busy %.2f",
					r.perMsg(r.crieurCPU), dbc, share, (r.crieurCPU+r.dbCPU).Seconds()/r.wall.Seconds()),
				verdict(r.ok) + " " + r.detail + splitNote(r.split) + "; peak RSS " + strings.Join(rss, " / "),
			})
		}
	}
	table("digest", digests)
	table("push", pushes)
	for i, rs := range [][]instanceResult{digests, pushes} {
		kind := []string{"digests", "pushes"}[i]
		for _, r := range rs {
			if !r.hasDB || r.dbCPU <= 0 {
				continue
			}
			perCore := 1e6 / r.perMsg(r.dbCPU)
			sec.note("- %s, %d instance%s: %.0f µs of database CPU per message → one database core carries ≈ %.0f %s/s; a dedicated 8-core server at 70%% ≈ %.0f/s (%.1f million an hour).",
				kind, r.instances, plural(r.instances), r.perMsg(r.dbCPU), perCore, kind, 8*0.7*perCore, 8*0.7*perCore*3600/1e6)
		}
	}
	for i, rs := range [][]instanceResult{digests, pushes} {
		for _, r := range rs {
			if len(r.top) == 0 {
				continue
			}
			sec.note("\nStatements that took the most database time, %s, %d instance%s (pg_stat_statements, measured phase):\n", []string{"digest", "push"}[i], r.instances, plural(r.instances))
			for _, t := range r.top {
				sec.note("- %s", t)
			}
		}
	}
	return sec, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func verdict(ok bool) string {
	if ok {
		return "met:"
	}
	return "**missed**:"
}

func splitNote(split []string) string {
	if len(split) < 2 {
		return ""
	}
	return " (per instance " + strings.Join(split, " / ") + ")"
}

// measureInstances seeds a fresh database, starts n workers of kind
// ("digest" or "push") on it and measures one run or one alert.
func measureInstances(ctx context.Context, o options, kind string, pg bool, n int) (instanceResult, error) {
	res := instanceResult{db: "SQLite", instances: n}
	name := fmt.Sprintf("inst-%s-%d", kind, n)
	oo := o
	url := "sqlite:" + filepath.Join(o.tmp, name+".db")
	if pg {
		res.db = "PostgreSQL"
		url = o.db
	} else {
		oo.db = ""
	}
	fmt.Fprintf(os.Stderr, "== instances: %s, %s, %d instance%s\n", kind, res.db, n, plural(n))

	helper := "-sink"
	if kind == "push" {
		helper = "-push-stub"
	}
	sink, err := startChild(helper)
	if err != nil {
		return res, err
	}
	defer sink.Stop()

	st, err := openDB(ctx, oo, name)
	if err != nil {
		return res, err
	}
	defer st.Close()
	t := time.Now()
	sd := newSeeder(st)
	topicIDs, err := sd.topics(ctx)
	if err != nil {
		return res, err
	}
	env := os.Environ()
	args := []string{"-worker", kind, "-db", url, "-smtp-conns", strconv.Itoa(o.smtpConns), "-push-concurrency", strconv.Itoa(o.pushConc)}
	if o.dkim {
		args = append(args, "-dkim")
	}
	if o.verbose {
		args = append(args, "-v")
	}
	want := o.n
	if kind == "digest" {
		if err := sd.subscribers(ctx, o.n, topicIDs); err != nil {
			return res, err
		}
		if err := sd.articles(ctx, o.articles); err != nil {
			return res, err
		}
		args = append(args, "-smtp", "smtp://"+sink.Addr+"?tls=none")
	} else {
		want = o.pushN
		keys := make([][2]string, 512)
		for i := range keys {
			b := pushtest.NewBrowser()
			keys[i] = [2]string{b.P256dh, b.Auth}
		}
		if err := sd.pushSubscriptions(ctx, o.pushN, "http://"+sink.Addr, keys); err != nil {
			return res, err
		}
	}
	if pg {
		if _, err := st.DB().ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
			return res, err
		}
	}
	progress("seeded %d in %v", want, dur(time.Since(t)))

	workers := make([]*worker, 0, n)
	defer func() {
		for _, w := range workers {
			w.stop()
		}
	}()
	for range n {
		w, err := startWorker(args, env)
		if err != nil {
			return res, err
		}
		workers = append(workers, w)
	}
	pm := 0
	if pg {
		pm = o.postmaster
		if pm == 0 {
			pm = findPostmaster(ctx, st.DB())
		}
	}
	res.hasDB = pm != 0
	workersCPU := func() time.Duration {
		var d time.Duration
		for _, w := range workers {
			d += procCPU(w.cmd.Process.Pid)
		}
		return d
	}
	dbCPU := func() (time.Duration, error) {
		if pm == 0 {
			return 0, nil
		}
		return clusterCPU(pm)
	}
	if err := sink.Reset(); err != nil {
		return res, err
	}

	if pg {
		_, _ = st.DB().ExecContext(ctx, "SELECT pg_stat_statements_reset()")
	}
	c0 := workersCPU()
	d0, err := dbCPU()
	if err != nil {
		return res, err
	}
	t0 := time.Now()
	// As an editor's request to one instance: create the work there
	// (here: in the bench, through the daemon's services, not started),
	// then wake all. The secrets and VAPID keys are the database's, shared
	// with the workers.
	side := daemon.MailOnly()
	if kind == "push" {
		side = daemon.PushOnly()
	}
	editor, err := newDaemon(ctx, o, url, side, nil)
	if err != nil {
		return res, err
	}
	defer editor.Close()
	var id int64
	var progressQ, pendingQ, splitQ string
	if kind == "digest" {
		id, err = editor.Digests.RunNow(ctx, news.Daily, "bench")
		progressQ = "SELECT enqueued, recipients FROM digest_runs WHERE id = ?"
		pendingQ = "SELECT COUNT(*) FROM deliveries WHERE run_id = ? AND state IN ('pending', 'sending')"
		splitQ = "SELECT COALESCE(locked_by, ''), COUNT(*) FROM deliveries WHERE run_id = ? GROUP BY 1 ORDER BY 1"
	} else {
		id, err = editor.Alerts.Send(ctx, benchAlert)
		progressQ = "SELECT enqueued, targeted FROM alerts WHERE id = ?"
		pendingQ = "SELECT COUNT(*) FROM push_windows WHERE alert_id = ? AND state IN ('pending', 'sending')"
		splitQ = "SELECT COALESCE(locked_by, ''), SUM(handled) FROM push_windows WHERE alert_id = ? GROUP BY 1 ORDER BY 1"
	}
	if err != nil {
		return res, err
	}
	for _, w := range workers {
		w.kick()
	}
	// Cheap polling: one primary-key read until the work is fully
	// enqueued, then the sink's counter, then one count of what is left.
	var total int64
	if err := waitFor(ctx, 30*time.Minute, func() (bool, error) {
		var enq int64
		if err := st.DB().QueryRowContext(ctx, sd.rebind(progressQ), id).Scan(&enq, &total); err != nil {
			return false, err
		}
		if enq == 0 {
			return false, nil
		}
		ss, err := sink.Stats()
		return ss.Count >= total, err
	}); err != nil {
		return res, err
	}
	if err := waitFor(ctx, time.Minute, func() (bool, error) {
		var left int64
		err := st.DB().QueryRowContext(ctx, sd.rebind(pendingQ), id).Scan(&left)
		return left == 0, err
	}); err != nil {
		return res, err
	}
	res.wall = time.Since(t0)
	res.crieurCPU = workersCPU() - c0
	d1, err := dbCPU()
	if err != nil {
		return res, err
	}
	res.dbCPU = d1 - d0
	for _, w := range workers {
		res.rss = append(res.rss, peakRSS(strconv.Itoa(w.cmd.Process.Pid)))
	}

	if pg {
		res.top = topStatements(ctx, st.DB(), 5)
	}
	res.msgs = int(total)
	if kind == "digest" {
		run, err := st.Run(ctx, id)
		if err != nil {
			return res, err
		}
		res.ok = run.Sent == int64(want) && run.Failed == 0
		res.detail = fmt.Sprintf("%d sent, %d failed", run.Sent, run.Failed)
	} else {
		a, err := st.Alert(ctx, id)
		if err != nil {
			return res, err
		}
		res.ok = a.Delivered == int64(want)
		res.detail = fmt.Sprintf("%d delivered, %d failed, %d expired", a.Delivered, a.Failed, a.Expired)
	}
	rows, err := st.DB().QueryContext(ctx, sd.rebind(splitQ), id)
	if err != nil {
		return res, err
	}
	for rows.Next() {
		var owner string
		var k int64
		if err := rows.Scan(&owner, &k); err != nil {
			rows.Close()
			return res, err
		}
		res.split = append(res.split, strconv.FormatInt(k, 10))
	}
	rows.Close()
	progress("%d messages in %v: %.0f/s; CPU per message %.0f µs crieur, %.0f µs database",
		res.msgs, dur(res.wall), res.rate(), res.perMsg(res.crieurCPU), res.perMsg(res.dbCPU))
	return res, nil
}

// worker is one crieur instance process (-worker).
type worker struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
}

// startWorker re-executes this binary with args and waits for "ready".
func startWorker(args, env []string) (*worker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = env
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	w := &worker{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(w.done) }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		w.stop()
		return nil, fmt.Errorf("worker did not start (%q): %v", line, err)
	}
	return w, nil
}

func (w *worker) kick() { _, _ = io.WriteString(w.stdin, "kick\n") }

// stop closes the worker's stdin (it drains and exits) and waits.
func (w *worker) stop() {
	_ = w.stdin.Close()
	select {
	case <-w.done:
	case <-time.After(20 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.done
	}
}

// workerMain parses a worker's command line (as measureInstances builds
// it) and runs it.
func workerMain(args []string) error {
	var o options
	var kind string
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.StringVar(&kind, "worker", "", "digest or push")
	fs.StringVar(&o.db, "db", "", "database URL")
	fs.StringVar(&o.smtpURL, "smtp", "", "SMTP URL (digest)")
	fs.IntVar(&o.smtpConns, "smtp-conns", 4, "SMTP connections")
	fs.IntVar(&o.pushConc, "push-concurrency", 64, "push requests in flight")
	fs.BoolVar(&o.dkim, "dkim", false, "DKIM-sign every digest")
	fs.BoolVar(&o.verbose, "v", false, "log warnings and errors")
	if err := fs.Parse(args); err != nil {
		return err
	}
	gcpolicy.Apply(os.Getenv) // a worker is a crieur instance: paced as serve is
	return runWorker(o, kind)
}

// runWorker is the -worker process: one crieur instance, the daemon built
// with the digest's side (MailOnly) or the alert's (PushOnly) on the shared
// database -db and started as `crieur serve` starts it, until stdin
// closes. "kick" on stdin wakes its enqueuer, as the API call wakes the
// instance that received it.
func runWorker(o options, kind string) error {
	ctx := context.Background()
	var d *daemon.Daemon
	var err error
	switch kind {
	case "digest":
		d, err = newMailDaemon(ctx, o, o.db, o.smtpURL)
	case "push":
		d, err = newDaemon(ctx, o, o.db, daemon.PushOnly(), nil)
	default:
		return fmt.Errorf("-worker %q: want digest or push", kind)
	}
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Start(ctx); err != nil {
		return err
	}
	kick := func() {
		if d.Digests != nil {
			d.Digests.Kick()
		}
		if d.Alerts != nil {
			d.Alerts.Wake()
		}
	}
	fmt.Println("ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "kick" {
			kick()
		}
	}
	stopDaemon(d, 10*time.Second)
	return nil
}
