package e2e_test

import (
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/crieur/crieur/internal/bounce/postfixtest"
	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// TestPostfixBouncesThroughVERP: crieur sends a digest through a real
// Postfix with CRIEUR_BOUNCE_DOMAIN set. Postfix accepts every message,
// then fails some recipients for real: the remote server refuses one with
// 550 5.1.1 at RCPT, an error transport fails a dead domain with 5.1.1,
// the remote server answers another 452 4.2.2 (Postfix gives up at once
// here: a soft bounce). Postfix writes its own DSNs to each email's VERP
// envelope sender, routes the bounce domain to crieur's listener
// (CRIEUR_BOUNCE_LISTEN), and crieur makes those two readers bounced and
// suppressed while the others, the soft one included, stay confirmed. A
// forged report and a relay attempt at the listener change nothing.
func TestPostfixBouncesThroughVERP(t *testing.T) {
	e2etest.Parallel(t)
	remote := mailtest.NewServer(t, mailtest.WithRcptHook(func(rcpt string, _ int) *smtp.SMTPError {
		switch {
		case strings.HasPrefix(rcpt, "gone@"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + rcpt + ">: Recipient address rejected: User unknown in virtual mailbox table"}
		case strings.HasPrefix(rcpt, "full@"):
			return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox full"}
		}
		return nil
	}))
	listen := e2etest.FreeAddr(t)
	mta := postfixtest.Start(t, map[string]string{
		"remote.test":  "smtp:[" + strings.Replace(remote.Addr(), ":", "]:", 1),
		"dead.test":    "error:5.1.1 mailbox does not exist",
		"bounces.test": "smtp:[" + strings.Replace(listen, ":", "]:", 1),
	})
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": "smtp://" + mta.Addr + "?tls=none",
		"CRIEUR_BOUNCE_DOMAIN": "bounces.test", "CRIEUR_BOUNCE_LISTEN": listen}, "monde")
	defer f.logOnFailure(func() string { return "postfix log:\n" + e2etest.Tail(mta.Log(), 6000) })
	readers := []string{"alice@remote.test", "bob@remote.test", "gone@remote.test", "ghost@dead.test", "full@remote.test"}
	var rows []string
	for _, r := range readers {
		rows = append(rows, r+",monde,daily,fr,confirmed")
	}
	if rep := f.importCSV("readers.csv", rows); !strings.Contains(rep, "imported 5 ") {
		t.Fatalf("import: %s", rep)
	}
	f.start()
	f.article("verp1", "Un article qui rebondit", []string{"monde"}, time.Now().Add(-time.Hour))
	if r := f.waitRun(f.runDigest("daily"), 60*time.Second); r.State != "done" || r.Sent != 5 {
		t.Fatalf("run = %+v, want done with 5 sent (Postfix accepts all, bounces later)", r)
	}
	e2etest.WaitFor(t, 60*time.Second, "Postfix's DSNs to make gone@ and ghost@ bounced", func() bool {
		a, _ := f.subscriber("gone@remote.test")
		b, _ := f.subscriber("ghost@dead.test")
		return a.Status == "bounced" && b.Status == "bounced"
	})
	// The soft bounce is the third DSN: wait until the listener counted it.
	e2etest.WaitFor(t, 30*time.Second, "three reports counted", func() bool {
		return bounceMetric(t, f.p, "smtp", "applied")+bounceMetric(t, f.p, "smtp", "ignored") >= 3
	})
	for _, r := range []string{"alice@remote.test", "bob@remote.test", "full@remote.test"} {
		if s, _ := f.subscriber(r); s.Status != "confirmed" {
			t.Errorf("%s: %q, want confirmed", r, s.Status)
		}
	}
	if n := e2etest.Count(t, f.env, "SELECT COUNT(*) FROM suppressions"); n != 2 {
		t.Errorf("%d addresses suppressed, want 2 (gone@, ghost@)", n)
	}
	// What reached the remote server went out with a VERP envelope
	// sender, one per email.
	verp := regexp.MustCompile(`^b-[a-z2-7]{20,45}@bounces\.test$`)
	froms := map[string]bool{}
	for _, m := range remote.Messages() {
		if !verp.MatchString(m.From) {
			t.Errorf("envelope sender %q, want b-TOKEN@bounces.test", m.From)
		}
		froms[m.From] = true
	}
	if len(remote.Messages()) != 2 || len(froms) != 2 {
		t.Errorf("remote server got %d messages with %d envelope senders, want alice's and bob's, each its own", len(remote.Messages()), len(froms))
	}

	// A report with a forged token, straight to the listener, about alice.
	forged := "From: MAILER-DAEMON@mta.test\r\nTo: b-aaaaaaaaaaaaaaaaaaaaaaaaaaaa@bounces.test\r\nSubject: Undelivered Mail\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mta.test\r\n\r\n" +
		"Final-Recipient: rfc822; alice@remote.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n"
	c, err := smtp.Dial(listen)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("", []string{"b-aaaaaaaaaaaaaaaaaaaaaaaaaaaa@bounces.test"}, strings.NewReader(forged)); err != nil {
		t.Errorf("forged report refused at SMTP (%v): it should be taken and ignored", err)
	}
	c.Close()
	c, err = smtp.Dial(listen)
	if err != nil {
		t.Fatal(err)
	}
	var se *smtp.SMTPError
	if err := c.SendMail("spam@example.org", []string{"victim@example.org"}, strings.NewReader("Subject: x\r\n\r\nx\r\n")); !errors.As(err, &se) || se.Code != 550 {
		t.Errorf("relay through the listener: %v, want 550 5.7.1", err)
	}
	c.Close()
	if s, _ := f.subscriber("alice@remote.test"); s.Status != "confirmed" {
		t.Errorf("alice after a forged report: %q, want confirmed", s.Status)
	}
	if n := bounceMetric(t, f.p, "smtp", "forged"); n != 1 {
		t.Errorf("forged reports counted %v, want 1", n)
	}
	// Applied: the two hard bounces, and the soft one, counted in full@'s
	// history (one is not enough to make them bounced).
	if n := bounceMetric(t, f.p, "smtp", "applied"); n != 3 {
		t.Errorf("applied reports counted %v, want 3", n)
	}
	if s, _ := f.subscriber("full@remote.test"); len(s.Bounces) != 1 || s.Bounces[0].Kind != "soft" {
		t.Errorf("full@'s bounces %+v, want one soft bounce", s.Bounces)
	}
	// The listener stops with the daemon and frees its port.
	if err, took := f.p.Term(10 * time.Second); err != nil || took > 10*time.Second {
		t.Errorf("SIGTERM: %v after %s, want exit 0 within 10 s", err, took)
	}
	if _, err := smtp.Dial(listen); err == nil {
		t.Errorf("the bounce listener still answers after the daemon stopped")
	}
}

var bounceLine = regexp.MustCompile(`(?m)^crieur_bounce_intake_total\{result="([a-z_]+)",source="([a-z]+)"\} ([0-9.e+]+)$`)

// bounceMetric reads crieur_bounce_intake_total{source, result} from
// /metrics.
func bounceMetric(t *testing.T, p *e2etest.Proc, source, result string) float64 {
	t.Helper()
	resp, err := e2etest.HTTPClient().Get(p.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	for _, m := range bounceLine.FindAllStringSubmatch(string(body), -1) {
		if m[1] == result && m[2] == source {
			v, _ := strconv.ParseFloat(m[3], 64)
			return v
		}
	}
	return 0
}
