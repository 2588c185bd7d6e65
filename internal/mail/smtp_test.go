package mail_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

const bounce = "bounces@news.example.com"

// setup starts a sink with opts and returns it with a connected Sender.
func setup(t *testing.T, opts ...mailtest.Option) (*mailtest.Server, mail.Sender) {
	t.Helper()
	srv := mailtest.NewServer(t, opts...)
	tr, err := mail.NewSMTP(srv.URL(), mail.SMTPOptions{Timeout: 5 * time.Second, HELO: "crieur.test", TLSConfig: srv.ClientTLSConfig()})
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	s, err := tr.NewSender(t.Context())
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return srv, s
}

// send composes a digest for to and sends it.
func send(t *testing.T, s mail.Sender, to string) error {
	t.Helper()
	return s.Send(t.Context(), bounce, to, mustBytes(t, digest(to)))
}

// wantKind asserts err is a *SendError of kind k (and code, when non-zero).
func wantKind(t *testing.T, err error, k mail.Kind, code int) *mail.SendError {
	t.Helper()
	var se *mail.SendError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want *SendError", err, err)
	}
	if se.Kind != k || (code != 0 && se.Code != code) {
		t.Fatalf("err = %v: kind %v code %d, want %v %d", err, se.Kind, se.Code, k, code)
	}
	return se
}

func TestSMTPConversations(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]mailtest.Option{
		"plain":         nil,
		"starttls":      {mailtest.WithStartTLS()},
		"auth-clear":    {mailtest.WithAuth("crieur", "s3cret:/@")},
		"starttls+auth": {mailtest.WithStartTLS(), mailtest.WithAuth("crieur", "s3cret")},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, s := setup(t, opts...)
			if err := send(t, s, "reader@example.org"); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.Wait(1, 5*time.Second)[0]
			if got.From != bounce || len(got.To) != 1 || got.To[0] != "reader@example.org" {
				t.Errorf("envelope %q → %q", got.From, got.To)
			}
			if got.Header("Subject") != "Économie : le point du matin" {
				t.Errorf("Subject = %q", got.Header("Subject"))
			}
			if want := digest("x@example.org").Text; got.Text() != want {
				t.Errorf("text part = %q", got.Text())
			}
			if !strings.Contains(got.HTML(), "Se désabonner") {
				t.Error("html part lost")
			}
		})
	}
}

// lockedBuffer is a bytes.Buffer safe for the SMTP server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSMTPEnvelopeInAngleBrackets: RFC 5321 §4.1.2 spells the paths
// "MAIL FROM:<addr>" and "RCPT TO:<addr>"; strict servers (Gmail's relays
// among them) answer 555 to a bare address, and the sink under test
// accepts both, so the test reads the conversation itself.
func TestSMTPEnvelopeInAngleBrackets(t *testing.T) {
	t.Parallel()
	var log lockedBuffer
	srv, s := setup(t, mailtest.WithProtocolLog(&log))
	if err := send(t, s, "reader@example.org"); err != nil {
		t.Fatalf("Send: %v", err)
	}
	srv.Wait(1, 5*time.Second)
	conv := log.String()
	for _, want := range []string{"MAIL FROM:<" + bounce + ">", "RCPT TO:<reader@example.org>"} {
		if !strings.Contains(conv, want) {
			t.Errorf("the conversation has no %q:\n%s", want, conv)
		}
	}
}

func TestSMTPReusesOneConnection(t *testing.T) {
	t.Parallel()
	srv, s := setup(t)
	for i := range 20 {
		if err := send(t, s, fmt.Sprintf("r%d@example.org", i)); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	msgs := srv.Wait(20, 5*time.Second)
	if n := srv.Connections(); n != 1 {
		t.Errorf("server saw %d connections, want 1", n)
	}
	for i, m := range msgs {
		if m.To[0] != fmt.Sprintf("r%d@example.org", i) {
			t.Errorf("message %d to %v", i, m.To)
		}
	}
}

func TestSMTPRedialsDroppedConnection(t *testing.T) {
	t.Parallel()
	srv, s := setup(t)
	if err := send(t, s, "a@example.org"); err != nil {
		t.Fatal(err)
	}
	srv.DropConnections()
	// The next Send finds the connection dead at MAIL FROM, re-dials and
	// succeeds without the caller noticing.
	if err := send(t, s, "b@example.org"); err != nil {
		t.Fatalf("after drop: %v", err)
	}
	srv.Wait(2, 5*time.Second)
	if n := srv.Connections(); n != 2 {
		t.Errorf("connections = %d, want 2", n)
	}
}

func TestSMTPTemporaryRcpt(t *testing.T) {
	t.Parallel()
	srv, s := setup(t, mailtest.WithRcptHook(func(rcpt string, n int) *smtp.SMTPError {
		if n == 1 {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox full, try later"}
		}
		return nil
	}))
	se := wantKind(t, send(t, s, "full@example.org"), mail.Temporary, 451)
	if se.Enhanced != "4.2.2" || se.Stage != "rcpt" {
		t.Errorf("enhanced %q stage %q", se.Enhanced, se.Stage)
	}
	var te *textproto.Error
	if !errors.As(se, &te) {
		t.Error("SendError does not unwrap to the SMTP reply")
	}
	if err := send(t, s, "full@example.org"); err != nil {
		t.Fatalf("retry: %v", err)
	}
	srv.Wait(1, 5*time.Second)
}

func TestSMTPRecipientRejectedThenNextGoes(t *testing.T) {
	t.Parallel()
	srv, s := setup(t, mailtest.WithRcptHook(func(rcpt string, n int) *smtp.SMTPError {
		if strings.HasPrefix(rcpt, "gone@") {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
		}
		return nil
	}))
	se := wantKind(t, send(t, s, "gone@example.org"), mail.Recipient, 550)
	if se.Enhanced != "5.1.1" {
		t.Errorf("enhanced = %q", se.Enhanced)
	}
	if err := send(t, s, "ok@example.org"); err != nil {
		t.Fatalf("next message on the same Sender: %v", err)
	}
	msgs := srv.Wait(1, 5*time.Second)
	if len(msgs) != 1 || msgs[0].To[0] != "ok@example.org" || srv.Connections() != 1 {
		t.Errorf("msgs %d to %v, connections %d", len(msgs), msgs[0].To, srv.Connections())
	}
}

func TestSMTPDataReplies(t *testing.T) {
	t.Parallel()
	srv, s := setup(t, mailtest.WithDataHook(func(rcpt string, n int) *smtp.SMTPError {
		switch n {
		case 1:
			return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Message rejected"}
		case 2:
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again"}
		}
		return nil
	}))
	wantKind(t, send(t, s, "a@example.org"), mail.Rejected, 554)
	wantKind(t, send(t, s, "a@example.org"), mail.Temporary, 451)
	if err := send(t, s, "a@example.org"); err != nil {
		t.Fatal(err)
	}
	srv.Wait(1, 5*time.Second)
	if srv.Connections() != 1 {
		t.Errorf("connections = %d, want 1", srv.Connections())
	}
}

func TestSMTP421ClosesAndRedials(t *testing.T) {
	t.Parallel()
	srv, s := setup(t, mailtest.WithRcptHook(func(rcpt string, n int) *smtp.SMTPError {
		if n == 1 {
			return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many messages, closing"}
		}
		return nil
	}))
	wantKind(t, send(t, s, "a@example.org"), mail.Temporary, 421)
	if err := send(t, s, "a@example.org"); err != nil {
		t.Fatal(err)
	}
	srv.Wait(1, 5*time.Second)
	if srv.Connections() != 2 {
		t.Errorf("connections = %d, want 2 (421 drops the connection)", srv.Connections())
	}
}

func TestSMTPDropDuringData(t *testing.T) {
	t.Parallel()
	srv, s := setup(t, mailtest.WithDropDuringData(func(rcpt string, n int) bool { return n == 1 }))
	se := wantKind(t, send(t, s, "a@example.org"), mail.Temporary, 0)
	if se.Stage != "end-of-data" && se.Stage != "write" {
		t.Errorf("stage = %q", se.Stage)
	}
	if err := send(t, s, "a@example.org"); err != nil {
		t.Fatalf("after drop: %v", err)
	}
	srv.Wait(1, 5*time.Second)
}

func TestSMTPStallTimesOut(t *testing.T) {
	t.Parallel()
	srv := mailtest.NewServer(t, mailtest.WithStall(func(rcpt string, n int) time.Duration {
		if n == 1 {
			return time.Minute
		}
		return 0
	}))
	tr, err := mail.NewSMTP(srv.URL(), mail.SMTPOptions{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s, err := tr.NewSender(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	wantKind(t, send(t, s, "a@example.org"), mail.Temporary, 0)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timeout took %v", d)
	}
	// A cancelled context interrupts a stalled exchange too.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	srv2 := mailtest.NewServer(t, mailtest.WithStall(func(string, int) time.Duration { return time.Minute }))
	tr2, _ := mail.NewSMTP(srv2.URL(), mail.SMTPOptions{Timeout: 10 * time.Second})
	s2, err := tr2.NewSender(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	err = s2.Send(ctx, bounce, "a@example.org", mustBytes(t, digest("a@example.org")))
	wantKind(t, err, mail.Temporary, 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
}

func TestSMTPServerErrors(t *testing.T) {
	t.Parallel()
	t.Run("auth refused", func(t *testing.T) {
		t.Parallel()
		srv := mailtest.NewServer(t, mailtest.WithRefuseAuth())
		tr, err := mail.NewSMTP(srv.URL(), mail.SMTPOptions{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_, err = tr.NewSender(t.Context())
		wantKind(t, err, mail.Server, 535)
		if strings.Contains(err.Error(), "pass") {
			t.Errorf("error leaks the password: %v", err)
		}
	})
	t.Run("starttls required but not offered", func(t *testing.T) {
		t.Parallel()
		srv := mailtest.NewServer(t)
		tr, err := mail.NewSMTP(strings.Replace(srv.URL(), "tls=none", "tls=starttls", 1), mail.SMTPOptions{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_, err = tr.NewSender(t.Context())
		wantKind(t, err, mail.Server, 0)
	})
	t.Run("default is starttls", func(t *testing.T) {
		t.Parallel()
		srv := mailtest.NewServer(t)
		tr, err := mail.NewSMTP("smtp://"+srv.Addr(), mail.SMTPOptions{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_, err = tr.NewSender(t.Context())
		wantKind(t, err, mail.Server, 0)
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		t.Parallel()
		srv := mailtest.NewServer(t, mailtest.WithStartTLS())
		tr, err := mail.NewSMTP(srv.URL(), mail.SMTPOptions{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_, err = tr.NewSender(t.Context())
		wantKind(t, err, mail.Server, 0)
	})
	t.Run("auth required but no credentials", func(t *testing.T) {
		t.Parallel()
		srv := mailtest.NewServer(t, mailtest.WithAuth("u", "p"))
		tr, err := mail.NewSMTP("smtp://"+srv.Addr()+"?tls=none", mail.SMTPOptions{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		s, err := tr.NewSender(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		// go-smtp answers 502 5.7.0 to MAIL FROM: a 5xx there stops the run.
		wantKind(t, send(t, s, "a@example.org"), mail.Server, 502)
	})
}

func TestSMTPDialFailureIsTemporary(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	tr, err := mail.NewSMTP("smtp://"+addr+"?tls=none", mail.SMTPOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.NewSender(t.Context())
	wantKind(t, err, mail.Temporary, 0)
}

func TestNewSMTPURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]struct {
		addr string
		mode mail.TLSMode
	}{
		"smtp://mail.example.com":                   {"mail.example.com:587", mail.TLSStartTLS},
		"smtp://u:p@mail.example.com:2525?tls=none": {"mail.example.com:2525", mail.TLSNone},
		"smtp://mail.example.com?tls=tls":           {"mail.example.com:465", mail.TLSImplicit},
		"smtps://mail.example.com":                  {"mail.example.com:465", mail.TLSImplicit},
		"smtp://mail.example.com?tls=none":          {"mail.example.com:25", mail.TLSNone},
		"smtp://[::1]:25?tls=starttls":              {"[::1]:25", mail.TLSStartTLS},
	} {
		tr, err := mail.NewSMTP(in, mail.SMTPOptions{})
		if err != nil {
			t.Errorf("NewSMTP(%q): %v", in, err)
			continue
		}
		if tr.Addr() != want.addr || tr.Mode() != want.mode {
			t.Errorf("NewSMTP(%q) = %s %s, want %s %s", in, tr.Addr(), tr.Mode(), want.addr, want.mode)
		}
	}
	for _, in := range []string{"http://mail.example.com", "smtp://", "smtp://h?tls=maybe", "smtp://h:0", "smtp://h:99999", "smtp://h?foo=1", "smtp://u:se%ZZcret@h"} {
		_, err := mail.NewSMTP(in, mail.SMTPOptions{})
		if err == nil {
			t.Errorf("NewSMTP(%q) succeeded", in)
		} else if strings.Contains(err.Error(), "cret") {
			t.Errorf("NewSMTP(%q) error leaks the password: %v", in, err)
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	if mail.Classify(nil) != nil {
		t.Error("Classify(nil) != nil")
	}
	for _, tc := range []struct {
		err  error
		kind mail.Kind
		code int
		enh  string
	}{
		{&textproto.Error{Code: 451, Msg: "4.3.0 Try later"}, mail.Temporary, 451, "4.3.0"},
		{&textproto.Error{Code: 550, Msg: "5.1.1 Unknown user"}, mail.Recipient, 550, "5.1.1"},
		{&textproto.Error{Code: 535, Msg: "5.7.8 Bad credentials"}, mail.Server, 535, "5.7.8"},
		{&textproto.Error{Code: 530, Msg: "Must issue STARTTLS"}, mail.Server, 530, ""},
		{fmt.Errorf("wrapped: %w", &textproto.Error{Code: 552, Msg: "5.2.2 Over quota"}), mail.Temporary, 552, "5.2.2"},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, mail.Temporary, 0, ""},
		{context.DeadlineExceeded, mail.Temporary, 0, ""},
		{fmt.Errorf("x: %w", mail.ErrInvalidAddress), mail.Recipient, 0, ""},
		{errors.New("something else"), mail.Temporary, 0, ""},
		{&mail.SendError{Kind: mail.Server, Code: 554}, mail.Server, 554, ""},
	} {
		se := mail.Classify(tc.err)
		if se.Kind != tc.kind || se.Code != tc.code || se.Enhanced != tc.enh {
			t.Errorf("Classify(%v) = %v/%d/%q, want %v/%d/%q", tc.err, se.Kind, se.Code, se.Enhanced, tc.kind, tc.code, tc.enh)
		}
	}
}
