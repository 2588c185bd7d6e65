package e2e_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// TestSenderAndRelayRefusalsKeepReaders: refusals at RCPT that blame our
// sender or relaying (550 5.1.0 / 553 5.1.3 "Sender address rejected", a
// bare "550 relay not permitted", qmail's bare 553 "not in my list of
// allowed rcpthosts (#5.7.1)"), an enhanced code whose class contradicts
// the reply (550 4.1.1) and a multi-line end-of-data reply whose last line
// is 5.7.1 leave their readers subscribed; only 550 5.1.1 suppresses.
// Before, each of them unsubscribed and suppressed its reader.
func TestSenderAndRelayRefusalsKeepReaders(t *testing.T) {
	e2etest.Parallel(t)
	rcptReplies := map[string]*smtp.SMTPError{
		"sender0": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 0}, Message: "<newsletter@gazette.example>: Sender address rejected: User unknown in local recipient table"},
		"sender3": {Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "<newsletter@gazette.example>: Sender address rejected"},
		"relay":   {Code: 550, EnhancedCode: smtp.NoEnhancedCode, Message: "relay not permitted"},
		"qmail":   {Code: 553, EnhancedCode: smtp.NoEnhancedCode, Message: "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"},
		"class":   {Code: 550, EnhancedCode: smtp.EnhancedCode{4, 1, 1}, Message: "Mailbox temporarily unavailable"},
		"gone":    {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"},
	}
	sink := mailtest.NewServer(t,
		mailtest.WithRcptHook(func(rcpt string, _ int) *smtp.SMTPError {
			local, _, _ := strings.Cut(rcpt, "@")
			return rcptReplies[local]
		}),
		mailtest.WithDataHook(func(rcpt string, _ int) *smtp.SMTPError {
			if strings.HasPrefix(rcpt, "multi@") {
				return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
					Message: "5.1.1 quoted from a filter's report\ncontent rejected"}
			}
			return nil
		}))
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL()}, "monde")
	kept := []string{"sender0", "sender3", "relay", "qmail", "class", "multi"}
	var rows []string
	for _, l := range append(kept, "gone") {
		rows = append(rows, l+"@example.org,monde,daily,fr,confirmed")
	}
	if rep := f.importCSV("readers.csv", rows); !strings.Contains(rep, "imported 7 ") {
		t.Fatalf("import: %s", rep)
	}
	f.start()
	f.article("r1", "Un article", []string{"monde"}, time.Now().Add(-time.Hour))
	r := f.waitRun(f.runDigest("daily"), 30*time.Second)
	if r.Recipients != 7 || r.Failed != 7 {
		t.Errorf("run = %+v, want 7 recipients, 7 failed", r)
	}
	for _, l := range kept {
		if s, st := f.subscriber(l + "@example.org"); st != 200 || s.Status != "confirmed" {
			t.Errorf("%s@: %d %q, want confirmed", l, st, s.Status)
		}
	}
	if s, _ := f.subscriber("gone@example.org"); s.Status == "confirmed" {
		t.Errorf("gone@ after a 550 5.1.1 at RCPT: %q, want no longer confirmed", s.Status)
	}
	if n := e2etest.Count(t, f.env, "SELECT COUNT(*) FROM suppressions"); n != 1 {
		t.Errorf("%d addresses suppressed, want 1 (gone@)", n)
	}
}

// TestRecipientRefusalBreaker: a server that answers 550 5.1.1 to every
// RCPT (a misconfigured relay) suppresses at most 20 readers in a row: the
// pipeline then pauses as for a server refusal, the rest stay confirmed
// with their digest queued, the run and the log say why. The admin lifts
// a suppression with `crieur subscribers unsuppress`. Before, all 40
// readers were unsubscribed and suppressed, with no way back.
func TestRecipientRefusalBreaker(t *testing.T) {
	e2etest.Parallel(t)
	sink := mailtest.NewServer(t, mailtest.WithRcptHook(func(string, int) *smtp.SMTPError {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "User unknown"}
	}))
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL()}, "monde")
	var rows []string
	for i := range 40 {
		rows = append(rows, fmt.Sprintf("r%d@example.org,monde,daily,fr,confirmed", i))
	}
	if rep := f.importCSV("readers.csv", rows); !strings.Contains(rep, "imported 40 ") {
		t.Fatalf("import: %s", rep)
	}
	f.start()
	f.article("b1", "Un article", []string{"monde"}, time.Now().Add(-time.Hour))
	id := f.runDigest("daily")
	defer f.logOnFailure(func() string { return "" })
	e2etest.WaitFor(t, 30*time.Second, "the breaker to trip", func() bool {
		return strings.Contains(f.p.Logs(), "refuses every recipient")
	})
	n := e2etest.Settle(func() int { return e2etest.Count(t, f.env, "SELECT COUNT(*) FROM suppressions") })
	if n != 20 {
		t.Errorf("%d readers suppressed, want 20 (the breaker's threshold)", n)
	}
	if c := e2etest.Count(t, f.env, "SELECT COUNT(*) FROM subscribers WHERE status = 'confirmed'"); c != 20 {
		t.Errorf("%d readers still confirmed, want 20", c)
	}
	if p := e2etest.Count(t, f.env, "SELECT COUNT(*) FROM deliveries WHERE state = 'pending'"); p != 20 {
		t.Errorf("%d digests still queued, want 20", p)
	}
	// Past the breaker a refused message is retried later, not put back at
	// the head of the queue, so a stretch of dead addresses cannot stall
	// the live ones behind it.
	if p := e2etest.Count(t, f.env, "SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND attempts > 0"); p == 0 {
		t.Errorf("no queued digest was tried and deferred after the breaker tripped")
	}
	var r runJSON
	f.do("GET", "/api/v1/digests/runs/"+id, nil, &r)
	if r.State != "failed" || !strings.Contains(r.Error, "in a row") || !strings.Contains(r.Error, "5.1.1") {
		t.Errorf("run = %+v, want failed, saying the server refused recipients in a row", r)
	}
	logs := f.p.Logs()
	if strings.Contains(logs, "r1@example.org") || strings.Contains(logs, "r30@example.org") {
		t.Errorf("the log names a reader's address")
	}
	var tripped string
	for line := range strings.Lines(logs) {
		if strings.Contains(line, "level=ERROR") && strings.Contains(line, "refuses every recipient") {
			tripped = line
		}
	}
	if !strings.Contains(tripped, "code=550") || !strings.Contains(tripped, "enhanced=5.1.1") {
		t.Errorf("no error line naming the reply: %q", tripped)
	}

	suppressed := e2etest.Column(t, f.env, "SELECT email FROM subscribers WHERE status <> 'confirmed' ORDER BY id LIMIT 1")
	if len(suppressed) != 1 {
		t.Fatalf("no suppressed reader found")
	}
	if out := e2etest.CLI(t, f.env, "", "subscribers", "unsuppress", strings.ToUpper(suppressed[0])); !strings.Contains(out, "lifted") {
		t.Errorf("unsuppress: %q", out)
	}
	if n := e2etest.Count(t, f.env, "SELECT COUNT(*) FROM suppressions"); n != 19 {
		t.Errorf("%d suppressed after unsuppress, want 19", n)
	}
	if out := e2etest.CLI(t, f.env, "", "subscribers", "unsuppress", suppressed[0]); !strings.Contains(out, "not suppressed") {
		t.Errorf("unsuppress twice: %q", out)
	}
	if a := e2etest.Column(t, f.env, "SELECT target FROM audit_log WHERE action = 'subscribers.unsuppress'"); len(a) != 1 || strings.Contains(a[0], "@") {
		t.Errorf("audit rows = %q, want one naming no address", a)
	}
}
