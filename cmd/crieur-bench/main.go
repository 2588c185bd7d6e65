// Command crieur-bench measures crieur's delivery paths on this machine and
// writes a report (stdout and bench-out/report.md), each figure next to its
// baseline measured in the same run. crieur is the shipped daemon, built by
// internal/daemon with one side (daemon.MailOnly or daemon.PushOnly) and
// started as `crieur serve` starts it; the bench wires no pipeline itself:
//
//   - digest: one daily digest run to -n readers through the daemon's mail
//     side (digest enqueuer, dispatch.Mailer, MessageBuilder, compose,
//     go-mail) to a loopback SMTP sink that discards, against raw go-mail on
//     the same sink;
//   - assembly: the daemon's digest runner choosing the articles of
//     -assembly-n readers and writing their deliveries, without sending;
//   - push: one alert to -push-n browser subscriptions through the daemon's
//     push side (alert.Service and dispatch.Pusher) to a loopback push
//     service answering 201, against a plain webpush-go v1.4.0 loop and the
//     RFC 8291 encryption floor;
//   - serve (only with -only serve): the shipped daemon, a `crieur serve`
//     process built from ./cmd/crieur, set up with its commands and driven
//     through its HTTP API only: a daily digest to -n imported readers
//     against raw go-mail, then an alert to -push-n browsers registered
//     through the API against webpush-go and the encryption floor
//     (serve.go).
//
// The SMTP sink and the push stub run as separate processes (this binary
// re-executed with -sink or -push-stub), so that the CPU time and peak RSS
// reported are crieur's alone.
//
//	go run ./cmd/crieur-bench                       # all three, defaults
//	go run ./cmd/crieur-bench -only push -push-n 20000
//	go run ./cmd/crieur-bench -only serve -n 20000 -push-n 20000
//	go run ./cmd/crieur-bench -db postgres://…      # PostgreSQL (wiped!)
//	go run ./cmd/crieur-bench -db postgres -only instances -instances 1,2
//	                                  # throwaway PostgreSQL, 1 then 2 instances
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/gcpolicy"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/pgcluster"
)

// options are the command-line settings.
type options struct {
	n, pushN, assemblyN int
	only                string
	articles            int
	smtpConns           int
	smtpConnsSet        bool // -smtp-conns was given (serve defaults to 20 otherwise)
	pushConc            int
	pushConcSet         bool // -push-concurrency was given (push-scale leaves the daemon's default otherwise)
	scaleN              int  // push-scale: browsers
	stubStreams         int  // push-scale: the TLS stub's HTTP/2 streams per connection
	pushCert            string
	pushLatency         time.Duration
	rawN                int
	baseN               int
	reps                int
	db                  string
	out                 string
	profile             bool
	dkim                bool
	verbose             bool
	tmp                 string
	crieurBin           string // serve: the crieur binary built for this run

	// The instances scenario (instances.go) and its -worker processes.
	instances  string // -instances: "1", "2" or "1,2"
	noSQLite   bool   // skip the SQLite comparison row
	smtpURL    string // -worker digest: the sink
	pgNote     string // how the PostgreSQL server was set up, for the report
	postmaster int    // pid of the throwaway cluster's postmaster
	cores      int
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-worker" {
		if err := workerMain(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "crieur-bench worker:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	var sink, stub, stubTLS bool
	flag.IntVar(&o.n, "n", 100_000, "digest: readers (confirmed, daily, 2-4 of 8 topics)")
	flag.IntVar(&o.pushN, "push-n", 100_000, "push: browser subscriptions the alert goes to")
	flag.IntVar(&o.assemblyN, "assembly-n", 1_000_000, "assembly: readers whose digests are chosen and written")
	flag.StringVar(&o.only, "only", "", "run one scenario: digest, push, assembly, instances, serve or push-scale (default: digest, push and assembly)")
	flag.IntVar(&o.articles, "articles", 60, "articles published in the last 20 hours")
	flag.IntVar(&o.smtpConns, "smtp-conns", 4, "SMTP connections (the daemon's default is 4; -only serve uses 20 unless this is given)")
	flag.IntVar(&o.pushConc, "push-concurrency", 512, "push requests in flight (the serve and push scenarios; the daemon's own default, which push-scale uses unless this is set, is 1024)")
	flag.DurationVar(&o.pushLatency, "push-latency", 0, "push: how long the stub waits before answering, as a push service across the internet does (0: at once)")
	flag.IntVar(&o.rawN, "raw-n", 0, "messages for the raw go-mail baseline (default: -n, at most 50,000)")
	flag.IntVar(&o.baseN, "base-n", 0, "messages for each push baseline (default: -push-n, or -scale-n for push-scale's webpush-go loop, at most 50,000)")
	flag.IntVar(&o.reps, "reps", 3, "push and serve: repetitions of every measurement; the report gives medians")
	flag.StringVar(&o.db, "db", "", "database: empty for a temporary SQLite file; \"postgres\" starts a throwaway PostgreSQL cluster; postgres://… runs against that server (its crieur tables are emptied)")
	flag.StringVar(&o.instances, "instances", "", "instances scenario: crieur instances sharing the -db PostgreSQL database, e.g. 1, 2 or 1,2 (each a separate process)")
	flag.BoolVar(&o.noSQLite, "no-sqlite", false, "instances scenario: skip the 1-instance SQLite comparison")

	flag.StringVar(&o.crieurBin, "crieur-bin", "", "serve and push-scale: run this crieur binary instead of building ./cmd/crieur (A/B runs of two builds); with -only serve, -n 0 or -push-n 0 skips that part")
	flag.StringVar(&o.out, "out", "bench-out", "directory for report.md (and CPU profiles with -profile)")
	flag.BoolVar(&o.profile, "profile", false, "write a CPU profile of each measured phase to -out")
	flag.BoolVar(&o.dkim, "dkim", false, "digest: DKIM-sign every message (RSA-2048), as a production setup does")
	flag.BoolVar(&o.verbose, "v", false, "log crieur's warnings and errors to stderr")
	flag.BoolVar(&sink, "sink", false, "internal: run as the SMTP sink process")
	flag.BoolVar(&stub, "push-stub", false, "internal: run as the push service stub process")
	flag.BoolVar(&stubTLS, "push-stub-tls", false, "internal: run as the HTTP/2-over-TLS push service stub process")
	flag.StringVar(&o.pushCert, "push-cert", "", "internal: where the TLS push stub writes its certificate")
	flag.IntVar(&o.scaleN, "scale-n", 1_000_000, "push-scale: browsers the alert goes to")
	flag.IntVar(&o.stubStreams, "push-streams", 100, "push-scale: concurrent HTTP/2 streams the stub allows per connection")
	flag.Parse()
	flag.Visit(func(f *flag.Flag) {
		o.smtpConnsSet = o.smtpConnsSet || f.Name == "smtp-conns"
		o.pushConcSet = o.pushConcSet || f.Name == "push-concurrency"
	})
	// The collector paced as `crieur serve` paces it; GOGC and GOMEMLIMIT
	// still win. The baselines run in this process too, under the same pace.
	gcpolicy.Apply(os.Getenv)
	o.reps = max(o.reps, 1)

	var err error
	switch {
	case sink:
		err = runSMTPSink()
	case stub:
		err = runPushStub(o.pushLatency)
	case stubTLS:
		err = runPushStubTLS(o.pushLatency, o.pushCert, o.stubStreams)
	default:
		err = run(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "crieur-bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	switch o.only {
	case "", "digest", "push", "assembly", "instances", "serve", "push-scale":
	default:
		return fmt.Errorf("-only %q: want digest, push, assembly, instances, serve or push-scale", o.only)
	}
	o.cores = runtime.NumCPU()
	if o.db == "postgres" {
		fmt.Fprintln(os.Stderr, "== starting a throwaway PostgreSQL cluster")
		c, err := startPgCluster()
		if err != nil {
			return err
		}
		defer c.Remove()
		if err := pgcluster.Exec(c.URL("postgres"), "CREATE DATABASE crieur_bench"); err != nil {
			return err
		}
		// For the hot statements in the report; the bench works without.
		_ = pgcluster.Exec(c.URL("crieur_bench"), "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
		o.db, o.postmaster = c.URL("crieur_bench"), c.Pid()
		o.pgNote = fmt.Sprintf("throwaway cluster (%s, durable: fsync, synchronous_commit and full_page_writes on, shared_buffers=256MB) on loopback TCP", c.Version())
	} else if o.db != "" {
		o.pgNote = "the server at -db"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "crieur-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	o.tmp = tmp

	rep := &report{started: time.Now(), opts: o}
	type scenario struct {
		name string
		fn   func(context.Context, options) (*section, error)
	}
	scenarios := []scenario{{"digest", runDigest}, {"push", runPush}, {"assembly", runAssembly}}
	if o.instances != "" {
		scenarios = append(scenarios, scenario{"instances", runInstances})
	}
	if (o.only == "serve" || o.only == "push-scale") && o.crieurBin == "" {
		// On request only: it builds crieur and runs it as a process.
		if o.crieurBin, err = buildCrieur(ctx, tmp); err != nil {
			return err
		}
	}
	if o.only == "serve" {
		if o.n > 0 {
			scenarios = append(scenarios, scenario{"serve", runServeDigest})
		}
		if o.pushN > 0 {
			scenarios = append(scenarios, scenario{"serve", runServePush})
		}
	}
	if o.only == "push-scale" {
		scenarios = append(scenarios, scenario{"push-scale", runPushScale})
	}
	for _, sc := range scenarios {
		if o.only != "" && o.only != sc.name {
			continue
		}
		fmt.Fprintf(os.Stderr, "== %s\n", sc.name)
		sec, err := sc.fn(ctx, o)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		rep.sections = append(rep.sections, sec)
		runtime.GC()
	}
	md := rep.markdown()
	fmt.Print(md)
	path := filepath.Join(o.out, "report.md")
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "report written to", path)
	return nil
}

// logger returns crieur's logger: silent unless -v.
func (o options) logger() *slog.Logger {
	if !o.verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// openDB opens and migrates a fresh database for one scenario: a SQLite
// file in the temporary directory, or the -db PostgreSQL database with its
// tables emptied.
func openDB(ctx context.Context, o options, name string) (*store.Store, error) {
	st, err := store.Open(ctx, dbURL(o, name), store.Options{})
	if err != nil {
		return nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if st.Dialect() == store.Postgres {
		if err := wipePostgres(ctx, st); err != nil {
			st.Close()
			return nil, err
		}
	}
	return st, nil
}

// dbURL is the database of one scenario: a SQLite file in the temporary
// directory, or the -db PostgreSQL database.
func dbURL(o options, name string) string {
	if o.db != "" {
		return o.db
	}
	return "sqlite:" + filepath.Join(o.tmp, name+".db")
}

// prepareDB makes the database of one scenario fresh (openDB) and returns
// its URL, for the daemon to open.
func prepareDB(ctx context.Context, o options, name string) (string, error) {
	st, err := openDB(ctx, o, name)
	if err != nil {
		return "", err
	}
	return dbURL(o, name), st.Close()
}

// wipePostgres empties every crieur table (not the migrations' record).
func wipePostgres(ctx context.Context, st *store.Store) error {
	rows, err := st.DB().QueryContext(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'`)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, `"`+t+`"`)
	}
	rows.Close()
	if len(tables) == 0 {
		return errors.New("postgres: no tables after migrating")
	}
	_, err = st.DB().ExecContext(ctx, "TRUNCATE "+strings.Join(tables, ", ")+" RESTART IDENTITY CASCADE")
	return err
}

// profiler writes a CPU profile of one phase when -profile is set.
type profiler struct{ f *os.File }

func startProfile(o options, name string) *profiler {
	if !o.profile {
		return &profiler{}
	}
	f, err := os.Create(filepath.Join(o.out, name+".pprof"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return &profiler{}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		f.Close()
		return &profiler{}
	}
	return &profiler{f: f}
}

func (p *profiler) stop() {
	if p == nil || p.f == nil {
		return
	}
	pprof.StopCPUProfile()
	p.f.Close()
	fmt.Fprintln(os.Stderr, "profile written to", p.f.Name())
}

// progress prints a line to stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "  "+format+"\n", args...)
}
