package smtpin_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/crieur/crieur/internal/bounce"
	"github.com/crieur/crieur/internal/bounce/bouncetest"
	"github.com/crieur/crieur/internal/bounce/smtpin"
)

const domain = "bounces.example.net"

func setup(t *testing.T) (string, *bouncetest.Recorder, *bounce.Tokens, *prometheus.CounterVec) {
	t.Helper()
	rec := &bouncetest.Recorder{}
	counter := bounce.NewCounter()
	tk := bounce.NewTokens([]byte("listener test key, thirty-two bytes"))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	l := smtpin.New(smtpin.Config{Addr: "127.0.0.1:0", Domain: domain, Log: log, MaxConns: 4,
		Intake: &bounce.Intake{Tokens: tk, Domain: domain, Recorder: rec, Log: log, Counter: counter}})
	addr, err := l.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l.Stop(ctx)
	})
	return addr.String(), rec, tk, counter
}

func dsn(verp, status string) string {
	return "From: MAILER-DAEMON@mta.example\r\nTo: " + verp + "\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nFailed.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Reporting-MTA: dns; mta.example\r\n\r\nFinal-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: " + status +
		"\r\n\r\n--b--\r\n"
}

func send(addr, from string, rcpts []string, body string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.SendMail(from, rcpts, strings.NewReader(body))
}

// TestListenerTakesReports: a DSN to a VERP address is recorded against
// its delivery; mail that is no report is parked.
func TestListenerTakesReports(t *testing.T) {
	t.Parallel()
	addr, rec, tk, counter := setup(t)
	ref := bounce.Ref{DeliveryID: 9, SubscriberID: 3}
	verp := tk.ReturnPath(ref, domain)
	if err := send(addr, "", []string{verp}, dsn(verp, "5.1.1")); err != nil {
		t.Fatalf("send DSN: %v", err)
	}
	if err := send(addr, "someone@example.org", []string{"postmaster@" + strings.ToUpper(domain)}, "Subject: hello\r\n\r\nhi\r\n"); err != nil {
		t.Fatalf("send to postmaster: %v", err)
	}
	if reps := rec.Reports(); len(reps) != 1 || reps[0].DeliveryID != 9 || reps[0].SubscriberID != 3 || reps[0].Kind != bounce.Hard {
		t.Errorf("reports = %+v, want one hard bounce of delivery 9, reader 3", reps)
	}
	if parked := rec.Parked(); len(parked) != 1 || parked[0] != "not a report" {
		t.Errorf("parked = %q, want the mail that is no report", parked)
	}
	for result, want := range map[string]float64{"applied": 1, "parked": 1, "not_report": 0} {
		if got := testutil.ToFloat64(counter.WithLabelValues("smtp", result)); got != want {
			t.Errorf("smtp %s = %v, want %v", result, got, want)
		}
	}
}

// TestListenerRefusesRelayAndHugeMail: a recipient outside the bounce
// domain gets 550 5.7.1 (never relayed), a message over 1 MiB 552, and
// the listener keeps serving afterwards; a store failure answers 451 so
// the sender retries.
func TestListenerRefusesRelayAndHugeMail(t *testing.T) {
	t.Parallel()
	addr, rec, tk, _ := setup(t)
	var se *smtp.SMTPError
	err := send(addr, "spammer@example.org", []string{"victim@example.org"}, "Subject: x\r\n\r\nx\r\n")
	if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) {
		t.Errorf("relay attempt: %v, want 550 5.7.1", err)
	}
	err = send(addr, "", []string{"b-x@" + domain + ".evil.example"}, "Subject: x\r\n\r\nx\r\n")
	if !errors.As(err, &se) || se.Code != 550 {
		t.Errorf("look-alike domain: %v, want 550", err)
	}
	huge := "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 998)+"\r\n", bounce.MaxReportSize/1000+10)
	err = send(addr, "", []string{"b-x@" + domain}, huge)
	if !errors.As(err, &se) || se.Code != 552 {
		t.Errorf("huge message: %v, want 552", err)
	}
	// Garbage and broken connections do not stop it.
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Write(bytes.Repeat([]byte{0xff, 0, '\n'}, 5000))
		c.Close()
	}
	verp := tk.ReturnPath(bounce.Ref{DeliveryID: 1, SubscriberID: 1}, domain)
	rec.SetFail(true)
	err = send(addr, "", []string{verp}, dsn(verp, "5.1.1"))
	if !errors.As(err, &se) || se.Code != 451 {
		t.Errorf("store down: %v, want 451", err)
	}
	rec.SetFail(false)
	if err := send(addr, "", []string{verp}, dsn(verp, "4.2.2")); err != nil {
		t.Fatalf("after bad input the listener must still serve: %v", err)
	}
	if reps := rec.Reports(); len(reps) != 1 || reps[0].Kind != bounce.Soft {
		t.Errorf("reports = %+v, want the one soft bounce", reps)
	}
}

// TestListenerBoundsConnections: past MaxConns a connection waits for a
// slot (no greeting) and gets one when a client leaves; a client that
// says nothing is cut at the command timeout.
func TestListenerBoundsConnections(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	l := smtpin.New(smtpin.Config{Addr: "127.0.0.1:0", Domain: domain, Log: log, MaxConns: 1, CommandTimeout: 2 * time.Second,
		Intake: &bounce.Intake{Tokens: bounce.NewTokens([]byte("k")), Domain: domain, Recorder: &bouncetest.Recorder{}, Log: log}})
	addr, err := l.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer l.Stop(context.Background())
	greeting := func(c net.Conn, within time.Duration) bool {
		c.SetReadDeadline(time.Now().Add(within))
		b := make([]byte, 64)
		n, _ := c.Read(b)
		return n > 0 && strings.HasPrefix(string(b[:n]), "220 ")
	}
	first, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	if !greeting(first, 5*time.Second) {
		t.Fatal("no greeting for the first client")
	}
	second, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if greeting(second, 300*time.Millisecond) {
		t.Fatal("a second client was served beyond MaxConns=1")
	}
	// The silent first client is cut at the command timeout (2 s): then
	// the second is greeted.
	start := time.Now()
	if !greeting(second, 10*time.Second) {
		t.Fatal("the waiting client was never served")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the idle client held its slot %s, want about the 2 s command timeout", took)
	}
	first.Close()
}
