package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// envFor returns a lookup over a test database and outbox.
func envFor(t *testing.T, extra ...string) func(string) (string, bool) {
	t.Helper()
	dir := t.TempDir()
	m := map[string]string{
		"CRIEUR_DATABASE_URL": "sqlite:" + filepath.Join(dir, "c.db"),
		"CRIEUR_MAIL_OUTBOX":  filepath.Join(dir, "outbox"),
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func runMain(t *testing.T, env func(string) (string, bool), stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(stdin), &out, &errb, env)
	return code, out.String(), errb.String()
}

func TestExitStatuses(t *testing.T) {
	t.Parallel()
	env := envFor(t)
	cases := []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"frobnicate"}, 2},
		{[]string{"token"}, 2},
		{[]string{"token", "create"}, 2},
		{[]string{"topic", "add", "only-slug"}, 2},
		{[]string{"digest", "run", "hourly"}, 2},
		{[]string{"user", "add", "--email", "x@example.com", "--role", "boss"}, 2},
		{[]string{"topic", "add", "Bad Slug", "Name"}, 1},
		{[]string{"migrate"}, 0},
		{[]string{"topic", "add", "afrique", "Afrique"}, 0},
		{[]string{"topic", "add", "afrique", "Afrique"}, 1},
	}
	for _, c := range cases {
		code, _, errOut := runMain(t, env, "", c.args...)
		if code != c.code {
			t.Errorf("crieur %v: exit %d, want %d (stderr %q)", c.args, code, c.code, errOut)
		}
		if code == 1 && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("crieur %v: error is not one line: %q", c.args, errOut)
		}
	}
}

func TestTokenCreatePrintsOnlyTheToken(t *testing.T) {
	t.Parallel()
	code, out, errOut := runMain(t, envFor(t), "", "token", "create", "--name", "cms", "--role", "admin")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "crieur_") || strings.Count(out, "\n") != 1 || len(strings.TrimSpace(out)) < 40 {
		t.Fatalf("stdout = %q", out)
	}
}

func TestUserAddReadsOrGeneratesPassword(t *testing.T) {
	t.Parallel()
	env := envFor(t)
	if code, out, errOut := runMain(t, env, "correct horse battery\n", "user", "add", "--email", "a@example.com", "--role", "editor"); code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ := runMain(t, env, "", "user", "add", "--email", "b@example.com", "--role", "admin")
	if code != 0 || len(strings.TrimSpace(out)) < 16 {
		t.Fatalf("generated password: exit %d, %q", code, out)
	}
	if code, _, _ := runMain(t, env, "short\n", "user", "add", "--email", "c@example.com", "--role", "admin"); code != 1 {
		t.Fatalf("short password accepted: %d", code)
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	bad := [][]string{
		{"CRIEUR_BASE_URL", "ftp://x"},
		{"CRIEUR_MAIL_FROM", "not an address"},
		{"CRIEUR_TIMEZONE", "Mars/Olympus"},
		{"CRIEUR_DIGEST_DAILY", "every morning"},
		{"CRIEUR_FEED_INTERVAL", "soon"},
		{"CRIEUR_LOG_FORMAT", "xml"},
		{"CRIEUR_FEEDS", "file:///etc/passwd"},
		{"CRIEUR_DKIM_DOMAIN", "example.com"},
		{"CRIEUR_PUSH_ALLOW_PRIVATE", "maybe"},
	}
	for _, b := range bad {
		code, _, errOut := runMain(t, envFor(t, b...), "", "migrate")
		if code != 1 || !strings.Contains(errOut, strings.SplitN(b[0], "_", 3)[1]) && !strings.Contains(errOut, b[0]) {
			t.Errorf("%s=%s: exit %d, stderr %q", b[0], b[1], code, errOut)
		}
	}
}

// TestServeOnEphemeralPort runs the whole daemon in process on :0 and
// stops it as SIGTERM would.
func TestServeOnEphemeralPort(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := defaultConfig()
	cfg.DatabaseURL = "sqlite:" + filepath.Join(dir, "c.db")
	cfg.MailOutbox = filepath.Join(dir, "outbox")
	cfg.Listen = "127.0.0.1:0"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	app, err := NewApp(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	addr, err := app.Listen()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/api/v1/topics", "/api/v1/push/key", "/subscribe"} {
		resp, err := http.Get("http://" + addr.String() + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
	// The database holds the secrets: nobody but its owner may read it.
	for _, f := range []string{"c.db", "c.db-wal"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s mode %v: readable by others", f, fi.Mode().Perm())
		}
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("idle daemon did not stop within 10 s")
	}
	t.Logf("idle shutdown took %s", time.Since(start))
}

func TestAlertSendFlagsInAnyOrder(t *testing.T) {
	t.Parallel()
	env := envFor(t)
	if code, _, errOut := runMain(t, env, "", "topic", "add", "afrique", "Afrique"); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := runMain(t, env, "", "alert", "send", "--title", "Séisme", "--email", "--topic", "afrique",
		"--body", "Un séisme a frappé", "--url", "https://journal.example/seisme")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.TrimSpace(out) != "1" {
		t.Fatalf("stdout = %q, want the alert id", out)
	}
	if code, _, _ := runMain(t, env, "", "alert", "send", "--title", "x", "--url", "https://a.example", "--topic", "sport"); code != 1 {
		t.Fatalf("unknown topic: exit %d", code)
	}
}
