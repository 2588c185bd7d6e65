package daemon_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/daemon"
)

// TestServeOnEphemeralPort runs the whole daemon in process on :0 and
// stops it as SIGTERM would.
func TestServeOnEphemeralPort(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := daemon.Defaults()
	cfg.DatabaseURL = "sqlite:" + filepath.Join(dir, "c.db")
	cfg.MailOutbox = filepath.Join(dir, "outbox")
	cfg.Listen = "127.0.0.1:0"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	app, err := daemon.New(ctx, cfg, log)
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

// TestOneSide: MailOnly and PushOnly build their side's services and the
// janitor, serve no HTTP, and start and stop like the whole daemon.
func TestOneSide(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		opt        daemon.Option
		mail, push bool
	}{
		{"mail", daemon.MailOnly(), true, false},
		{"push", daemon.PushOnly(), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := daemon.Defaults()
			cfg.DatabaseURL = "sqlite:" + filepath.Join(dir, "c.db")
			cfg.MailOutbox = filepath.Join(dir, "outbox")
			ctx := context.Background()
			d, err := daemon.New(ctx, cfg, slog.New(slog.DiscardHandler), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if (d.Mailer != nil) != tc.mail || (d.Digests != nil) != tc.mail || (d.Scheduler != nil) != tc.mail {
				t.Errorf("mail side built: mailer %v, digests %v, scheduler %v; want %v", d.Mailer != nil, d.Digests != nil, d.Scheduler != nil, tc.mail)
			}
			if (d.Pusher != nil) != tc.push || (d.Alerts != nil) != tc.push || (d.VAPIDPublicKey != "") != tc.push {
				t.Errorf("push side built: pusher %v, alerts %v; want %v", d.Pusher != nil, d.Alerts != nil, tc.push)
			}
			if d.Janitor == nil || d.Handler != nil || d.Poller != nil {
				t.Errorf("janitor %v, handler %v, poller %v: want a janitor, no HTTP, no poller", d.Janitor != nil, d.Handler != nil, d.Poller != nil)
			}
			if _, err := d.Listen(); err == nil {
				t.Error("Listen on a one-sided daemon: no error")
			}
			if err := d.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if err := d.Start(ctx); err != nil {
				t.Fatal(err)
			}
			stop, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			d.Stop(stop)
			d.Stop(stop)
		})
	}
}
