package mail_test

import (
	"bytes"
	"context"
	"errors"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"

	crieurmail "github.com/crieur/crieur/internal/mail"
)

func TestFileTransport(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "mail-outbox")
	tr := crieurmail.NewFileTransport(dir)
	var _ crieurmail.Transport = tr
	s, err := tr.NewSender(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"a@example.org", "b@example.org", "c@example.org"} {
		if err := s.Send(t.Context(), "bounces@news.example.com", to, mustBytes(t, digest(to))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("dir mode = %v, %v; want 0750", fi.Mode().Perm(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Fatalf("%d files, want 3", len(entries))
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".eml") || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("unexpected file %q", e.Name())
		}
		info, _ := e.Info()
		if info.Mode().Perm() != 0o640 {
			t.Errorf("%s mode %v, want 0640", e.Name(), info.Mode().Perm())
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s does not parse: %v", e.Name(), err)
		}
		seen[m.Header.Get("To")] = true
	}
	if len(seen) != 3 {
		t.Errorf("recipients %v", seen)
	}
	err = s.Send(t.Context(), "b@news.example.com", "not an address", []byte("x"))
	if se := crieurmail.Classify(err); se == nil || se.Kind != crieurmail.Recipient {
		t.Errorf("bad rcpt: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = s.Send(ctx, "b@news.example.com", "a@example.org", []byte("x"))
	if se := crieurmail.Classify(err); se == nil || se.Kind != crieurmail.Temporary || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
