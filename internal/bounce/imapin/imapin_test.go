package imapin_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"

	"github.com/crieur/crieur/internal/bounce"
	"github.com/crieur/crieur/internal/bounce/bouncetest"
	"github.com/crieur/crieur/internal/bounce/dovecottest"
	"github.com/crieur/crieur/internal/bounce/imapin"
)

const domain = "bounces.example.net"

var ref = bounce.Ref{DeliveryID: 31, SubscriberID: 7}

func tokens() *bounce.Tokens { return bounce.NewTokens([]byte("imap test key, thirty-two bytes long")) }

// report is a fixture of the bounce package, its placeholders filled.
func report(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "reports", name))
	if err != nil {
		t.Fatal(err)
	}
	tk := tokens()
	raw = bytes.ReplaceAll(raw, []byte("@@VERP@@"), []byte(tk.ReturnPath(ref, domain)))
	return bytes.ReplaceAll(raw, []byte("@@MSGID@@"), []byte(strings.Trim(tk.MessageID(ref, "news.example.com"), "<>")))
}

func newPoller(t *testing.T, rawURL string, rec bounce.Recorder, log *slog.Logger) *imapin.Poller {
	t.Helper()
	m, err := imapin.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return imapin.New(imapin.Config{Mailbox: m, Log: log, Timeout: 10 * time.Second, MaxBackoff: time.Second,
		Intake: &bounce.Intake{Tokens: tokens(), Domain: domain, Recorder: rec, Log: log}})
}

func login(t *testing.T, d *dovecottest.Server) *client.Client {
	t.Helper()
	c, err := client.Dial(d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(d.User, d.Pass); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Logout() })
	return c
}

// folder lists a folder's messages: subject → flags.
func folder(t *testing.T, c *client.Client, name string) map[string][]string {
	t.Helper()
	mb, err := c.Select(name, true)
	if err != nil {
		t.Fatalf("select %s: %v", name, err)
	}
	out := map[string][]string{}
	if mb.Messages == 0 {
		return out
	}
	set := new(imap.SeqSet)
	set.AddRange(1, mb.Messages)
	ch := make(chan *imap.Message, 16)
	done := make(chan error, 1)
	go func() { done <- c.Fetch(set, []imap.FetchItem{imap.FetchEnvelope, imap.FetchFlags}, ch) }()
	for m := range ch {
		out[m.Envelope.Subject] = m.Flags
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPollerMovesReportsLeavesOthers: against a real Dovecot, a poll
// hands the DSN and the complaint to the intake (a hard bounce and a
// complaint about their delivery), flags them \Seen and moves them with
// the out-of-office to crieur-processed (created), deletes nothing, and
// leaves the readers' mail where it was, unread stays unread; a second
// poll does nothing more.
func TestPollerMovesReportsLeavesOthers(t *testing.T) {
	t.Parallel()
	d := dovecottest.Start(t)
	c := login(t, d)
	person := "From: Paul <paul@example.org>\r\nTo: newsletter@news.example.com\r\nSubject: A question from a reader\r\n\r\nHello?\r\n"
	read := "From: Editor <ed@news.example.com>\r\nTo: newsletter@news.example.com\r\nSubject: Already read\r\n\r\nSeen.\r\n"
	for _, m := range []struct {
		raw   []byte
		flags []string
	}{
		{report(t, "postfix-user-unknown.eml"), nil},
		{[]byte(person), nil},
		{report(t, "arf-abuse.eml"), nil},
		{[]byte(read), []string{imap.SeenFlag}},
		{report(t, "ooo-english.eml"), nil},
	} {
		if err := c.Append("INBOX", m.flags, time.Now(), bytes.NewReader(m.raw)); err != nil {
			t.Fatal(err)
		}
	}
	rec := &bouncetest.Recorder{}
	p := newPoller(t, d.URL(d.Pass), rec, slog.New(slog.NewTextHandler(io.Discard, nil)))
	st, err := p.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("poll: %v\n%s", err, d.Logs())
	}
	if st.Handled != 3 || st.LeftAlone != 2 {
		t.Errorf("stats = %+v, want 3 handled, 2 left alone", st)
	}
	kinds := []bounce.Kind{}
	for _, r := range rec.Reports() {
		if r.DeliveryID != ref.DeliveryID || r.SubscriberID != ref.SubscriberID || r.Source != "imap" {
			t.Errorf("report %+v: want delivery %d reader %d from imap", r, ref.DeliveryID, ref.SubscriberID)
		}
		kinds = append(kinds, r.Kind)
	}
	slices.Sort(kinds)
	if !slices.Equal(kinds, []bounce.Kind{bounce.Complaint, bounce.Hard}) {
		t.Errorf("kinds = %v, want a complaint and a hard bounce", kinds)
	}
	inbox := folder(t, c, "INBOX")
	if len(inbox) != 2 || inbox["A question from a reader"] == nil || inbox["Already read"] == nil {
		t.Errorf("INBOX = %v, want the two messages for people only", inbox)
	}
	if f := inbox["A question from a reader"]; slices.Contains(f, imap.SeenFlag) {
		t.Errorf("the reader's unread mail was marked %v", f)
	}
	if f := inbox["Already read"]; !slices.Equal(f, []string{imap.SeenFlag}) {
		t.Errorf("the read mail's flags became %v", f)
	}
	done := folder(t, c, "crieur-processed")
	if len(done) != 3 {
		t.Errorf("crieur-processed = %v, want the three reports", done)
	}
	for subj, f := range done {
		if !slices.Contains(f, imap.SeenFlag) || slices.Contains(f, imap.DeletedFlag) {
			t.Errorf("processed %q flags %v: want \\Seen, never \\Deleted", subj, f)
		}
	}
	st, err = p.RunOnce(context.Background())
	if err != nil || st.Handled != 0 || len(rec.Reports()) != 2 {
		t.Errorf("second poll: %+v, %v, %d reports; want nothing new", st, err, len(rec.Reports()))
	}
}

// TestPollerLoginFailure: a refused login is an error that names neither
// the password nor the URL, and the log of the retrying poller never
// holds the password.
func TestPollerLoginFailure(t *testing.T) {
	t.Parallel()
	d := dovecottest.Start(t)
	wrong := "hunter2-not-the-password"
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	p := newPoller(t, d.URL(wrong), &bouncetest.Recorder{}, log)
	_, err := p.RunOnce(context.Background())
	if err == nil || strings.Contains(err.Error(), wrong) || !strings.Contains(strings.ToLower(err.Error()), "login") {
		t.Fatalf("RunOnce with a wrong password: %v; want a login error without the password", err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := strings.Count(logs.String(), "bounce mailbox poll failed")
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.Stop(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "bounce mailbox poll failed") || strings.Contains(logs.String(), wrong) {
		t.Errorf("log: %s\nwant the failures logged, never the password", logs.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestPollerBacksOff: a server that drops every connection is retried
// with a doubling wait, never in a loop: over 1.5 s with a 50 ms interval
// and the wait doubling from 100 ms, at most 5 connections.
func TestPollerBacksOff(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	p := newPoller(t, "imap://u:p@"+ln.Addr().String()+"/INBOX?tls=none&interval=50ms", &bouncetest.Recorder{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // the thing measured is the rate over time
	p.Stop(context.Background())
	if n := conns.Load(); n < 2 || n > 5 {
		t.Errorf("%d connections in 1.5 s, want 2 to 5 (backing off)", n)
	}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 5: 1600 * time.Millisecond, 40: time.Minute} {
		if got := imapin.Backoff(n, 50*time.Millisecond, time.Minute); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, want)
		}
	}
}

// TestParseURL: the forms the README documents, and the refusals.
func TestParseURL(t *testing.T) {
	t.Parallel()
	m, err := imapin.ParseURL("imaps://bounce%40news.example.com:s3cret@imap.example.com/Bounces?processed=Done")
	if err != nil || m.Addr != "imap.example.com:993" || m.User != "bounce@news.example.com" || m.Password != "s3cret" ||
		m.Folder != "Bounces" || m.Processed != "Done" || m.TLS != imapin.TLSImplicit {
		t.Errorf("imaps URL = %+v, %v", m, err)
	}
	m, err = imapin.ParseURL("imap://u:p@imap.example.com")
	if err != nil || m.Addr != "imap.example.com:143" || m.TLS != imapin.TLSStartTLS || m.Folder != "INBOX" || m.Processed != "crieur-processed" {
		t.Errorf("imap URL = %+v, %v", m, err)
	}
	for _, bad := range []string{"http://u:p@h/INBOX", "imap://h/INBOX", "imap://u:p@imap.example.com/INBOX?tls=none",
		"imaps://u:p@h/INBOX?tls=none", "imap://u:p@h/INBOX?processed=INBOX", "imap://u:p@h/?interval=fast", "imap://u:sekrit@h/?tls=maybe"} {
		_, err := imapin.ParseURL(bad)
		if err == nil {
			t.Errorf("ParseURL(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "sekrit") {
			t.Errorf("ParseURL error quotes the password: %v", err)
		}
	}
}

// TestPollerTLS: the production forms, imaps:// and imap:// with STARTTLS,
// against a real Dovecot with a certificate; an untrusted certificate is
// refused before the password is sent.
func TestPollerTLS(t *testing.T) {
	t.Parallel()
	d := dovecottest.Start(t, dovecottest.WithTLS())
	c := login(t, d)
	add := func() {
		if err := c.Append("INBOX", nil, time.Now(), bytes.NewReader(report(t, "gmail-no-such-user.eml"))); err != nil {
			t.Fatal(err)
		}
	}
	add()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	poll := func(rawURL string, tc *tls.Config) (imapin.Stats, error) {
		m, err := imapin.ParseURL(rawURL)
		if err != nil {
			t.Fatal(err)
		}
		p := imapin.New(imapin.Config{Mailbox: m, Log: log, TLSConfig: tc, Timeout: 10 * time.Second,
			Intake: &bounce.Intake{Tokens: tokens(), Domain: domain, Recorder: &bouncetest.Recorder{}, Log: log}})
		return p.RunOnce(context.Background())
	}
	creds := d.User + ":" + d.Pass + "@"
	if st, err := poll("imaps://"+creds+d.TLSAddr+"/INBOX", nil); err == nil || !strings.Contains(err.Error(), "certificate") || st.Handled != 0 {
		t.Errorf("untrusted certificate: %+v, %v; want a certificate error", st, err)
	}
	trust := &tls.Config{RootCAs: d.RootCAs}
	for i, u := range []string{"imaps://" + creds + d.TLSAddr + "/INBOX", "imap://" + creds + d.Addr + "/INBOX"} {
		if i > 0 {
			add()
		}
		st, err := poll(u, trust)
		if err != nil || st.Handled != 1 {
			t.Errorf("%s: %+v, %v; want the report handled", strings.Replace(u, d.Pass, "…", 1), st, err)
		}
	}
	st, err := c.Status("crieur-processed", []imap.StatusItem{imap.StatusMessages})
	if err != nil || st.Messages != 2 {
		t.Errorf("crieur-processed: %+v, %v; want 2 messages", st, err)
	}
}

// FuzzParseURL: any CRIEUR_BOUNCE_MAILBOX parses or is refused without
// panicking, a refusal never quotes the password, and plain text is only
// ever accepted for a loopback host.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"imaps://u:p@imap.example.com/INBOX", "imap://u:p@127.0.0.1:1143/INBOX?tls=none&interval=1s",
		"imap://u:p@[::1]/x?processed=y", "imaps://u:pw%40x@h:99999/", "imap://:@/?tls=none"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		m, err := imapin.ParseURL(raw)
		if err != nil {
			if m.Password != "" {
				t.Fatalf("a refusal returned a mailbox: %+v", m)
			}
			if i := strings.Index(raw, ":"); i >= 0 && len(raw) > 12 && strings.Contains(err.Error(), raw) {
				t.Fatalf("error quotes the URL: %v", err)
			}
			return
		}
		if m.TLS == imapin.TLSNone && m.Host != "localhost" && !strings.HasPrefix(m.Host, "127.") && m.Host != "::1" {
			if ip := net.ParseIP(m.Host); ip == nil || !ip.IsLoopback() {
				t.Fatalf("plain text accepted for %q", m.Host)
			}
		}
		if m.User == "" || m.Addr == "" || m.Folder == m.Processed {
			t.Fatalf("accepted an incomplete mailbox: %+v", m)
		}
	})
}
