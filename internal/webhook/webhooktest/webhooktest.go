// Package webhooktest is a webhook receiver for tests: it records every
// request, can answer 500 for a while, and has the messages verified by
// the Standard Webhooks reference implementation (the npm package
// standardwebhooks, run with node).
//
// Only tests import it.
package webhooktest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/testenv"
)

// Request is one request the receiver got.
type Request struct {
	Header http.Header
	Body   []byte
	// Status is what the receiver answered.
	Status int
}

// Receiver is an HTTP endpoint recording what it receives.
type Receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	reqs     []Request
	failNext int
	failing  bool
	delay    time.Duration
	arrived  chan struct{}
}

// New starts a receiver, closed when the test ends.
func New(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{arrived: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// URL is the receiver's address (http on loopback).
func (r *Receiver) URL() string { return r.srv.URL + "/hooks" }

// FailNext makes the next n requests answer 500.
func (r *Receiver) FailNext(n int) {
	r.mu.Lock()
	r.failNext = n
	r.mu.Unlock()
}

// SetDelay makes every request wait d before its answer (it is recorded
// at once): a request in flight when the sender dies.
func (r *Receiver) SetDelay(d time.Duration) {
	r.mu.Lock()
	r.delay = d
	r.mu.Unlock()
}

// SetFailing makes every request answer 500 until called with false.
func (r *Receiver) SetFailing(on bool) {
	r.mu.Lock()
	r.failing = on
	r.mu.Unlock()
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	r.mu.Lock()
	status := http.StatusNoContent
	if r.failing || r.failNext > 0 {
		status = http.StatusInternalServerError
		if r.failNext > 0 {
			r.failNext--
		}
	}
	r.reqs = append(r.reqs, Request{Header: req.Header.Clone(), Body: body, Status: status})
	delay := r.delay
	r.mu.Unlock()
	select {
	case r.arrived <- struct{}{}:
	default:
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
		}
	}
	w.WriteHeader(status)
	if status != http.StatusNoContent {
		io.WriteString(w, "receiver down for a while")
	}
}

// Requests returns a copy of every request so far.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

// Accepted returns the requests answered 2xx, first of each webhook-id
// only, in arrival order; dups counts the others answered 2xx again.
func (r *Receiver) Accepted() (first []Request, dups int) {
	seen := map[string]bool{}
	for _, q := range r.Requests() {
		if q.Status >= 300 {
			continue
		}
		id := q.Header.Get("webhook-id")
		if seen[id] {
			dups++
			continue
		}
		seen[id] = true
		first = append(first, q)
	}
	return first, dups
}

// WaitAccepted waits until n distinct messages were accepted.
func (r *Receiver) WaitAccepted(t testing.TB, n int, timeout time.Duration) []Request {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if got, _ := r.Accepted(); len(got) >= n {
			return got
		}
		select {
		case <-r.arrived:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			got, _ := r.Accepted()
			t.Fatalf("%d messages accepted after %s, want %d", len(got), timeout, n)
		}
	}
}

// Verified is the reference implementation's verdict on one message.
type Verified struct {
	// Payload is the verified, parsed body; nil when refused.
	Payload map[string]any `json:"payload"`
	Error   string         `json:"error"`
}

// Verify has the npm package standardwebhooks verify each request with
// secret (in order). It skips the test when node or the package is
// missing, and fails it then under CI.
func Verify(t testing.TB, secret string, reqs []Request) []Verified {
	t.Helper()
	modules := nodeModules(t)
	node := testenv.LookPath(t, "node", "nodejs")
	type msg struct {
		Secret  string            `json:"secret"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
	in := make([]msg, 0, len(reqs))
	for _, q := range reqs {
		h := map[string]string{}
		for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
			h[k] = q.Header.Get(k)
		}
		in = append(in, msg{Secret: secret, Headers: h, Body: string(q.Body)})
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(filepath.Dir(modules), "verify.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Stdin = bytes.NewReader(b)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node verify.js: %v: %s", err, stderr.String())
	}
	var res []Verified
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("verify.js output %q: %v", out, err)
	}
	if len(res) != len(reqs) {
		t.Fatalf("verify.js answered %d of %d", len(res), len(reqs))
	}
	return res
}

// nodeModules finds the npm tree holding standardwebhooks.
func nodeModules(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("CRIEUR_WEBHOOK_NODE_MODULES")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "testdata", "node_modules")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(abs, "standardwebhooks", "package.json")); err != nil {
		testenv.Missing(t, "standardwebhooks (npm ci --prefix internal/webhook/testdata)")
	}
	return abs
}
