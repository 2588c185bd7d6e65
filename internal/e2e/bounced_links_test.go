package e2e_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// TestBouncedReaderGetsNoLinksEmail: once a reader's address hard-bounced
// (550 5.1.1), "email me my preferences link" and "sign out everywhere"
// answer as before and send nothing, and the API shows the reader as
// "bounced" with the bounce (time, 5.1.1, the server's words). Before, the links email went out again (the bounce left the
// status "unsubscribed", which may be sent its link) and the API said
// "unsubscribed".
func TestBouncedReaderGetsNoLinksEmail(t *testing.T) {
	e2etest.Parallel(t)
	var bouncing atomic.Bool
	sink := mailtest.NewServer(t, mailtest.WithRcptHook(func(rcpt string, _ int) *smtp.SMTPError {
		if rcpt == "gone@example.org" && bouncing.Load() {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
		}
		return nil
	}))
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL()}, "afrique")
	p := f.start()
	f.article("senegal", "Élections au Sénégal", []string{"afrique"}, time.Now().Add(-time.Hour))
	const gone, left = "gone@example.org", "left@example.org"
	prefs := confirmByPost(t, askConfirmation(t, p, sink, gone))
	confirmByPost(t, askConfirmation(t, p, sink, left))
	f.waitRun(f.runDigest("daily"), 30*time.Second)
	unsub := strings.Trim(nthMail(t, sink, gone, 2).Header("List-Unsubscribe"), "<>")
	leftUnsub := strings.Trim(nthMail(t, sink, left, 2).Header("List-Unsubscribe"), "<>")

	// The links email itself bounces: the address is dead.
	bouncing.Store(true)
	if r := rawDo(t, "POST", unsub+"/link", "", nil); r.status != 200 {
		t.Fatalf("POST email-me-my-link: %d", r.status)
	}
	e2etest.WaitFor(t, 15*time.Second, "the bounce recorded", func() bool {
		return e2etest.Count(t, f.env, "SELECT COUNT(*) FROM suppressions") == 1 &&
			e2etest.Count(t, f.env, "SELECT COUNT(*) FROM deliveries WHERE kind = 'links' AND state = 'failed'") == 1
	})
	s, _ := f.subscriber(gone)
	if s.Status != "bounced" {
		t.Errorf("after a 550 5.1.1 the API shows %q, want bounced", s.Status)
	}
	if len(s.Bounces) != 1 || s.Bounces[0].Kind != "hard" || s.Bounces[0].Status != "5.1.1" ||
		!strings.Contains(s.Bounces[0].Diagnostic, "No such user") || s.Bounces[0].At.IsZero() {
		t.Errorf("bounces = %+v, want one hard 5.1.1 with its diagnostic and time", s.Bounces)
	}
	if s, _ := f.subscriber(left); s.Status != "confirmed" || s.Bounces == nil || len(s.Bounces) != 0 {
		t.Errorf("a reader who never bounced: %q, bounces %+v, want confirmed and []", s.Status, s.Bounces)
	}
	bouncing.Store(false) // the address would take mail again: nothing may go

	if r := rawDo(t, "POST", unsub+"/link", "", nil); r.status != 200 {
		t.Errorf("POST email-me-my-link after the bounce: %d, want 200 as before", r.status)
	}
	rawDo(t, "POST", prefs+"/signout", "application/x-www-form-urlencoded", nil)
	// The queue sends in order: once a later links email is out, the
	// bounced reader's would be too.
	if r := rawDo(t, "POST", leftUnsub+"/link", "", nil); r.status != 200 {
		t.Fatalf("control reader's email-me-my-link: %d", r.status)
	}
	nthMail(t, sink, left, 3)
	if ms := byRcpt(sink.Messages())[gone]; len(ms) != 2 {
		t.Errorf("the bounced address got %d emails, want 2 (confirmation, digest) and nothing after the bounce", len(ms))
	}
	if n := e2etest.Count(t, f.env, `SELECT COUNT(*) FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
		WHERE s.email = 'gone@example.org' AND d.kind = 'links' AND d.state = 'sent'`); n != 0 {
		t.Errorf("%d links emails sent to the bounced address, want none", n)
	}
}
