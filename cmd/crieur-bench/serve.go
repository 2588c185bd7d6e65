package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The serve scenario (-only serve) measures the daemon as a publisher runs
// it: a `crieur serve` process built from ./cmd/crieur, configured by its
// environment, set up with its commands (`topic add`, `token create`,
// `subscribers import`) and driven through its HTTP API only, next to
// baselines measured in the same run. Nothing is wired by hand: whatever
// the daemon does between the API call and the SMTP sink or the push stub
// (the HTTP server, the queue, its own wake-ups and polls) is in the
// figures. The daemon's CPU and peak RSS are read from /proc/PID.
//
// serve_digest.go holds the digest path, serve_push.go the push path.

// serveSecret is the daemon's fixed CRIEUR_SECRET_KEY (link tokens).
const serveSecret = "crieur-bench-secret-key-0123456789abcdef"

// serveBase is the daemon's CRIEUR_BASE_URL: every link in a digest is on
// it, so it is a publisher's, not the loopback address.
const serveBase = "https://lettres.news.example.com"

// topicNames are the names `crieur topic add` gives topicSlugs.
var topicNames = map[string]string{"politique": "Politique", "international": "International", "economie": "Économie",
	"sport": "Sport", "culture": "Culture", "sciences": "Sciences", "societe": "Société", "planete": "Planète"}

// buildCrieur builds ./cmd/crieur as it ships (CGO_ENABLED=0, -trimpath)
// into dir and returns the binary's path.
func buildCrieur(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "crieur")
	t := time.Now()
	// The package path, not ./cmd/crieur: it resolves from any directory
	// of the module (the bench's tests run in cmd/crieur-bench).
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "github.com/crieur/crieur/cmd/crieur")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/crieur (run the bench from inside the crieur module): %v\n%s", err, out)
	}
	progress("built crieur (CGO_ENABLED=0) in %v", dur(time.Since(t)))
	return bin, nil
}

// serveProc is one `crieur serve` process and the admin token the bench
// drives it with.
type serveProc struct {
	bin    string
	env    []string
	url    string // http://127.0.0.1:PORT
	log    string // its stdout and stderr
	token  string // an admin API token, made with `crieur token create`
	client *http.Client
	cmd    *exec.Cmd
	done   chan struct{}
}

// serveDatabase returns the CRIEUR_DATABASE_URL of one daemon: a fresh
// SQLite file in the temporary directory, or the -db PostgreSQL database
// migrated and emptied (openDB), with its postmaster's pid when it runs
// here and can be read (0 otherwise).
func serveDatabase(ctx context.Context, o options, name string) (url string, postmaster int, err error) {
	if o.db == "" {
		return "sqlite:" + filepath.Join(o.tmp, name+".db"), 0, nil
	}
	st, err := openDB(ctx, o, name)
	if err != nil {
		return "", 0, err
	}
	defer st.Close()
	pm := o.postmaster
	if pm == 0 {
		pm = findPostmaster(ctx, st.DB())
	}
	return o.db, pm, nil
}

// startDaemon starts `crieur serve` with the bench's environment (without
// its CRIEUR_* variables) plus vars, on a free loopback port, and waits
// until /readyz answers. The digest schedules are set 12 hours away, so
// that no tick fires during the run.
func startDaemon(ctx context.Context, o options, name string, vars map[string]string) (*serveProc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	later := time.Now().UTC().Add(12 * time.Hour)
	env := map[string]string{
		"CRIEUR_LISTEN":        addr,
		"CRIEUR_BASE_URL":      serveBase,
		"CRIEUR_SECRET_KEY":    serveSecret,
		"CRIEUR_SITE_NAME":     "Le Quotidien",
		"CRIEUR_MAIL_FROM":     "Le Quotidien <newsletter@news.example.com>",
		"CRIEUR_MAIL_OUTBOX":   filepath.Join(o.tmp, name+"-outbox"),
		"CRIEUR_VAPID_SUBJECT": "mailto:ops@news.example.com",
		"CRIEUR_DIGEST_DAILY":  fmt.Sprintf("%d %d * * *", later.Minute(), later.Hour()),
		"CRIEUR_DIGEST_WEEKLY": fmt.Sprintf("%d %d * * %d", later.Minute(), later.Hour(), (later.Weekday()+3)%7),
	}
	if o.dkim {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(o.tmp, name+"-dkim.pem")
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		if err := os.WriteFile(path, pemKey, 0o600); err != nil {
			return nil, err
		}
		env["CRIEUR_DKIM_DOMAIN"], env["CRIEUR_DKIM_SELECTOR"], env["CRIEUR_DKIM_KEY_FILE"] = "news.example.com", "crieur", path
	}
	for k, v := range vars {
		env[k] = v
	}
	// The log is kept beside the report, for a look at what the daemon did.
	d := &serveProc{url: "http://" + addr, log: filepath.Join(o.out, name+".log"), done: make(chan struct{}),
		client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	d.bin = o.crieurBin
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CRIEUR_") {
			d.env = append(d.env, kv)
		}
	}
	for k, v := range env {
		d.env = append(d.env, k+"="+v)
	}
	f, err := os.Create(d.log)
	if err != nil {
		return nil, err
	}
	d.cmd = exec.Command(d.bin, "serve")
	d.cmd.Env = d.env
	d.cmd.Stdout, d.cmd.Stderr = f, f
	// A bench that dies does not leave a daemon behind.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start crieur serve: %w", err)
	}
	go func() { _ = d.cmd.Wait(); f.Close(); close(d.done) }()
	if o.verbose {
		progress("crieur serve (pid %d) on %s, log %s", d.pid(), addr, d.log)
	}
	err = waitFor(ctx, time.Minute, func() (bool, error) {
		select {
		case <-d.done:
			return false, errors.New("crieur serve exited at start")
		default:
		}
		resp, err := d.client.Get(d.url + "/readyz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		d.stop()
		return nil, fmt.Errorf("%w\n%s", err, d.logTail())
	}
	return d, nil
}

func (d *serveProc) pid() int { return d.cmd.Process.Pid }

// cpu is the daemon's user+system time so far (/proc/PID/stat).
func (d *serveProc) cpu() time.Duration { return procCPU(d.pid()) }

// rss is the daemon's peak RSS (VmHWM) since its last resetRSS.
func (d *serveProc) rss() int64 { return peakRSS(strconv.Itoa(d.pid())) }

func (d *serveProc) resetRSS() bool { return resetPeakRSSOf(d.pid()) }

// stop asks the daemon to stop (SIGTERM) and waits; after 15 s it kills it.
func (d *serveProc) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// logTail is the end of the daemon's log, for an error message.
func (d *serveProc) logTail() string {
	b, _ := os.ReadFile(d.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// cli runs a one-shot crieur command with the daemon's environment, as a
// publisher does on the same machine, and returns its stdout.
func (d *serveProc) cli(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, d.bin, args...)
	cmd.Env = d.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("crieur %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// setup does what a publisher does first on a new install: the topics
// (`crieur topic add`) and an admin API token (`crieur token create`).
func (d *serveProc) setup(ctx context.Context) error {
	for _, slug := range topicSlugs {
		if _, err := d.cli(ctx, "topic", "add", slug, topicNames[slug]); err != nil {
			return err
		}
	}
	tok, err := d.cli(ctx, "token", "create", "--name", "bench", "--role", "admin")
	if err != nil {
		return err
	}
	d.token = strings.TrimSpace(tok)
	return nil
}

// call makes one API request with the admin token: in is sent as JSON
// (when not nil), a 2xx answer is decoded into out (when not nil), any
// other status is an error carrying the answer.
func (d *serveProc) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.url+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2000))
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// callMany makes n API requests, inflight at a time; req(i) returns the
// i-th request's method, path and body.
func (d *serveProc) callMany(ctx context.Context, n, inflight int, req func(i int) (string, string, any)) error {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range inflight {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				method, path, body := req(i)
				if err := d.call(ctx, method, path, body, nil); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// waitDone polls the daemon's API at path until its "state" is done (it
// fails on "failed" or "cancelled"), and returns the last answer. The
// poll is cheap for the daemon (one row and its counters), but it is the
// daemon's CPU: it asks every 500 ms while helper (the sink or the stub,
// a separate process) has fewer than expect messages, then every 20 ms.
func (d *serveProc) waitDone(ctx context.Context, path string, helper *child, expect int64, out any) error {
	var state struct {
		State string `json:"state"`
		Error string `json:"error"`
	}
	var last time.Time
	return waitFor(ctx, 30*time.Minute, func() (bool, error) {
		if time.Since(last) < 500*time.Millisecond {
			ss, err := helper.Stats()
			if err != nil || ss.Count < expect {
				return false, err
			}
		}
		last = time.Now()
		var raw json.RawMessage
		if err := d.call(ctx, http.MethodGet, path, nil, &raw); err != nil {
			return false, err
		}
		if err := json.Unmarshal(raw, &state); err != nil {
			return false, err
		}
		switch state.State {
		case "done":
			return true, json.Unmarshal(raw, out)
		case "failed", "cancelled":
			return false, fmt.Errorf("%s: %s %s", path, state.State, state.Error)
		}
		return false, nil
	})
}

// measured is one measured step of the serve scenario: a POST that starts
// a run (a digest run, an alert), then its status polled until done.
type measured struct {
	id     string        // the run's id, from the POST's answer
	t0     time.Time     // just before the POST
	wall   time.Duration // from the POST to the answer saying done
	c0, c1 procSample    // the daemon's and its database's CPU before and after
	rss    int64         // the daemon's peak RSS after
	helper sinkStats     // the sink's or the stub's counters after
}

// measure times one step: it samples the CPU, POSTs body to startPath,
// reads the run's {"id"}, waits (waitDone) until statusPrefix+id says done
// with helper holding expect messages, decodes that last answer into
// status, then samples the CPU, the peak RSS and helper's counters.
func (d *serveProc) measure(ctx context.Context, postmaster int, helper *child, startPath string, body any,
	statusPrefix string, expect int64, status any) (measured, error) {
	var m measured
	var err error
	if m.c0, err = sampleCPU(d, postmaster); err != nil {
		return m, err
	}
	m.t0 = time.Now()
	var started struct {
		ID string `json:"id"`
	}
	if err := d.call(ctx, http.MethodPost, startPath, body, &started); err != nil {
		return m, err
	}
	m.id = started.ID
	if err := d.waitDone(ctx, statusPrefix+started.ID, helper, expect, status); err != nil {
		return m, fmt.Errorf("%w\n%s", err, d.logTail())
	}
	m.wall = time.Since(m.t0)
	if m.c1, err = sampleCPU(d, postmaster); err != nil {
		return m, err
	}
	m.rss = d.rss()
	m.helper, err = helper.Stats()
	return m, err
}

// perMsg is the daemon's and its database's CPU over the step, per
// message for msgs messages (at least one).
func (m measured) perMsg(msgs int64) (cpu, db time.Duration) {
	n := time.Duration(max(msgs, 1))
	return (m.c1.crieur - m.c0.crieur) / n, (m.c1.db - m.c0.db) / n
}

// sinceT0 is a helper timestamp (Unix ns) relative to the POST.
func (m measured) sinceT0(ns int64) time.Duration { return time.Duration(ns - m.t0.UnixNano()) }

// procSample is the CPU of the daemon and of its database server, read
// before and after a measured phase.
type procSample struct {
	crieur, db time.Duration
}

// sampleCPU reads the daemon's CPU and, when postmaster is not 0, the
// PostgreSQL server's.
func sampleCPU(d *serveProc, postmaster int) (procSample, error) {
	s := procSample{crieur: d.cpu()}
	if postmaster != 0 {
		var err error
		if s.db, err = clusterCPU(postmaster); err != nil {
			return s, err
		}
	}
	return s, nil
}

// medianOf is the median of f over rs and its range (" [min–max]",
// empty for one value), to follow the figure directly.
func medianOf[T any](rs []T, f func(T) float64) (float64, string) {
	vs := make([]float64, len(rs))
	for i, r := range rs {
		vs[i] = f(r)
	}
	if len(vs) < 2 {
		return median(vs), ""
	}
	return median(vs), " " + spread(vs)
}

// dbName says which database the daemon ran on, for the report.
func dbName(o options) string {
	if o.db == "" {
		return "SQLite (a temporary file)"
	}
	return "PostgreSQL: " + o.pgNote
}
