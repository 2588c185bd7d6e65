package e2e_test

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// TestMessageRejectionKeepsReaders: a mail server that refuses a digest
// for its content (554 5.7.1, a URL blocklist) fails those deliveries and
// suppresses nobody; a 550 5.1.1 at RCPT still suppresses its reader.
// Before, any 5xx at end-of-data unsubscribed and suppressed every reader
// of the run, for good: one blocklisted link wiped out a topic.
func TestMessageRejectionKeepsReaders(t *testing.T) {
	e2etest.Parallel(t)
	sink := mailtest.NewServer(t,
		mailtest.WithRcptHook(func(rcpt string, _ int) *smtp.SMTPError {
			if strings.HasPrefix(rcpt, "gone@") {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
			}
			return nil
		}),
		mailtest.WithDataHook(func(string, int) *smtp.SMTPError {
			return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Message rejected: URL blocklisted"}
		}))
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL()}, "monde")
	readers := []string{"alice@example.org", "bob@example.org", "carol@example.org"}
	rows := []string{"gone@example.org,monde,daily,fr,confirmed"}
	for _, r := range readers {
		rows = append(rows, r+",monde,daily,fr,confirmed")
	}
	if rep := f.importCSV("readers.csv", rows); !strings.Contains(rep, "imported 4 ") {
		t.Fatalf("import: %s", rep)
	}
	f.start()
	f.article("bl1", "Un lien que le filtre refuse", []string{"monde"}, time.Now().Add(-time.Hour))
	r := f.waitRun(f.runDigest("daily"), 30*time.Second)
	if r.State != "done" || r.Recipients != 4 || r.Sent != 0 || r.Failed != 4 {
		t.Errorf("run = %+v, want done, 4 recipients, 4 failed", r)
	}
	for _, rcpt := range readers {
		s, st := f.subscriber(rcpt)
		if st != 200 || s.Status != "confirmed" {
			t.Errorf("%s after a 554 5.7.1 at end-of-data: %d %q, want confirmed", rcpt, st, s.Status)
		}
		if len(s.Sent) != 1 || s.Sent[0].State != "failed" {
			t.Errorf("%s messages = %+v, want the digest failed", rcpt, s.Sent)
		}
	}
	if s, _ := f.subscriber("gone@example.org"); s.Status != "bounced" {
		t.Errorf("gone@ after a 550 5.1.1 at RCPT: %q, want bounced", s.Status)
	}
	if n := e2etest.Count(t, f.env, "SELECT COUNT(*) FROM suppressions"); n != 1 {
		t.Errorf("%d addresses suppressed, want 1 (gone@)", n)
	}
	if errs := e2etest.Column(t, f.env, "SELECT last_error FROM deliveries WHERE state = 'failed'"); len(errs) != 4 ||
		!strings.Contains(strings.Join(errs, "\n"), "5.7.1") {
		t.Errorf("failures recorded: %q, want 4 with their reason", errs)
	}
}

// TestFullMailboxIsSoft: a 552 5.2.2 (mailbox full) at RCPT leaves its
// reader confirmed and the digest queued for a retry. Before, it
// unsubscribed and suppressed the reader at once, though the contract
// counts a full mailbox as soft.
func TestFullMailboxIsSoft(t *testing.T) {
	e2etest.Parallel(t)
	sink := mailtest.NewServer(t, mailtest.WithRcptHook(func(rcpt string, _ int) *smtp.SMTPError {
		if strings.HasPrefix(rcpt, "full@") {
			return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "Mailbox full"}
		}
		return nil
	}))
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL()}, "monde")
	f.importCSV("readers.csv", []string{"full@example.org,monde,daily,fr,confirmed"})
	f.start()
	f.article("q1", "Un article", []string{"monde"}, time.Now().Add(-time.Hour))
	f.runDigest("daily")
	e2etest.WaitFor(t, 30*time.Second, "the refused digest recorded", func() bool {
		return e2etest.Count(t, f.env, "SELECT COUNT(*) FROM deliveries WHERE kind = 'digest' AND attempts >= 1 AND last_error <> ''") > 0
	})
	if s, _ := f.subscriber("full@example.org"); s.Status != "confirmed" || len(s.Sent) != 1 || s.Sent[0].State == "failed" || s.Sent[0].State == "cancelled" {
		t.Errorf("after a 552 5.2.2: %q, messages %+v; want confirmed, the digest pending a retry", s.Status, s.Sent)
	}
	if n := e2etest.Count(t, f.env, "SELECT COUNT(*) FROM suppressions"); n != 0 {
		t.Errorf("%d addresses suppressed, want none", n)
	}
}
