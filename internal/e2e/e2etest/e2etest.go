// Package e2etest starts real `crieur serve` processes for end-to-end,
// durability, multi-instance and chaos tests: the binary is built once for
// all the test binaries of a checkout, each process gets its own port and
// log, and can be stopped with SIGTERM or killed with SIGKILL like an
// operator or a crash would.
//
// It must not import the daemon's packages: it drives the built binary
// from outside, as an operator would. (apicheck, which checks exchanges
// against the OpenAPI document the process serves, imports none either.)
package e2etest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/web/apicheck"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds ./cmd/crieur once and returns its path.
//
// The path is the same for every test binary of this checkout (a
// directory named after the module's path, in the user's cache): go build
// leaves an up-to-date binary as it is, so the packages that start
// daemons (and the Firefox tests' children) link it once between them
// instead of once each, several seconds apiece on a busy machine. A lock
// keeps two test binaries from building it at the same time; a changed
// source is rebuilt as usual.
func Binary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() { binPath, buildErr = build() })
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

func build() (string, error) {
	root := moduleRoot()
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(base, "crieur-e2e", hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("build crieur: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("build crieur: %w", err)
	}
	defer lock.Close() // releases the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("build crieur: lock: %w", err)
	}
	bin := filepath.Join(dir, "crieur")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/crieur")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Env is a crieur environment: CRIEUR_* variables.
type Env map[string]string

func (e Env) list() []string {
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

// NewEnv returns the environment of a test daemon with its SQLite
// database, mail outbox and log in dir.
func NewEnv(dir string) Env {
	return Env{
		"CRIEUR_DATABASE_URL":       "sqlite:" + filepath.Join(dir, "crieur.db"),
		"CRIEUR_MAIL_OUTBOX":        filepath.Join(dir, "outbox"),
		"CRIEUR_PUSH_ALLOW_PRIVATE": "true",
		"CRIEUR_LOG_LEVEL":          "debug",
		"CRIEUR_RETRY_BASE":         "200ms",
		"CRIEUR_LEASE":              "5s",
	}
}

// CLI runs a one-shot crieur command and returns its stdout; it fails the
// test on a non-zero exit.
func CLI(tb testing.TB, env Env, stdin string, args ...string) string {
	tb.Helper()
	out, errOut, code := RunCLI(tb, env, stdin, args...)
	if code != 0 {
		tb.Fatalf("crieur %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// RunCLI runs a crieur command and returns stdout, stderr and exit code.
func RunCLI(tb testing.TB, env Env, stdin string, args ...string) (string, string, int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(tb), args...)
	cmd.Env = env.list()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		tb.Fatalf("run crieur: %v", err)
	}
	return out.String(), errb.String(), code
}

// Proc is one running `crieur serve`.
type Proc struct {
	URL  string // http://127.0.0.1:PORT
	Env  Env
	Log  string // path of its combined output
	cmd  *exec.Cmd
	done chan error
	tb   testing.TB

	checkOnce sync.Once // fetches the OpenAPI document Do checks against
	checker   *apicheck.Checker
	checkErr  error
}

// FreeAddr returns a free loopback address.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Start runs `crieur serve` with env on a free port and waits until
// /readyz answers. The process is killed at the end of the test.
func Start(tb testing.TB, env Env, logDir string) *Proc {
	tb.Helper()
	addr := FreeAddr(tb)
	e := Env{}
	for k, v := range env {
		e[k] = v
	}
	e["CRIEUR_LISTEN"] = addr
	if _, ok := e["CRIEUR_BASE_URL"]; !ok {
		e["CRIEUR_BASE_URL"] = "http://" + addr
	}
	f, err := os.CreateTemp(logDir, "crieur-*.log")
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(Binary(tb), "serve")
	cmd.Env = e.list()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &Proc{URL: "http://" + addr, Env: e, Log: f.Name(), cmd: cmd, done: make(chan error, 1), tb: tb}
	go func() { p.done <- cmd.Wait(); f.Close() }()
	tb.Cleanup(func() { p.Kill() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := HTTPClient().Get(p.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case err := <-p.done:
			p.done <- err
			tb.Fatalf("crieur serve exited at start: %v\n%s", err, p.Logs())
		case <-time.After(50 * time.Millisecond):
		}
	}
	tb.Fatalf("crieur serve not ready in 30s\n%s", p.Logs())
	return nil
}

// PID is the process id of crieur serve (to read its CPU time).
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Logs returns what the process printed.
func (p *Proc) Logs() string {
	b, _ := os.ReadFile(p.Log)
	return string(b)
}

// Kill sends SIGKILL and waits for the process to die.
func (p *Proc) Kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(10 * time.Second)
}

// Term sends SIGTERM and returns the exit error after the process ends
// (nil for exit status 0) and how long it took.
func (p *Proc) Term(timeout time.Duration) (error, time.Duration) {
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	err := p.wait(timeout)
	return err, time.Since(start)
}

func (p *Proc) wait(timeout time.Duration) error {
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(timeout):
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		err := <-p.done
		p.done <- err
		return fmt.Errorf("did not exit within %s: %v", timeout, err)
	}
}

// Do sends a JSON request with an optional bearer token and decodes the
// JSON answer into out (when not nil); it returns the status. An /api/v1
// exchange the process's OpenAPI document does not describe fails tb
// (see apicheck).
func (p *Proc) Do(tb testing.TB, method, path, token string, body, out any) int {
	tb.Helper()
	var reqBody []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			tb.Fatal(err)
		}
		reqBody = b
	}
	req, err := http.NewRequest(method, p.URL+path, bytes.NewReader(reqBody))
	if err != nil {
		tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := HTTPClient().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if apicheck.Described(method, req.URL.Path) {
		if err := p.OpenAPI(tb).Check(apicheck.Exchange{Request: req, RequestBody: reqBody, Status: resp.StatusCode, Header: resp.Header, Body: raw}); err != nil {
			tb.Errorf("OpenAPI: %v", err)
		}
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

// WaitFor polls cond every 50ms until it is true or timeout passes.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("timed out after %s waiting for %s", timeout, what)
}

// Token creates an API token with `crieur token create` and checks that
// the command printed exactly one token.
func Token(tb testing.TB, env Env, name, role string) string {
	tb.Helper()
	tok := strings.TrimSpace(CLI(tb, env, "", "token", "create", "--name", name, "--role", role))
	if tok == "" || strings.ContainsAny(tok, " \n") {
		tb.Fatalf("token create printed %q", tok)
	}
	return tok
}

// HTTPClient returns a client with a transport of its own, without
// keep-alives. Tests must not use http.DefaultClient: every
// httptest.Server.Close, in any parallel test, closes the default
// transport's idle connections, and a POST that picked one up fails.
func HTTPClient() *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
}
