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

// errorJSON is the API's error body.
type errorJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// TestSubscribeRefusesIPDomains: an address whose domain is an IP or an
// address literal is refused with a 400 saying why, and nothing is
// queued. Before, foo@127.0.0.1 was accepted (202) and its confirmation
// queued for the daemon's own network.
func TestSubscribeRefusesIPDomains(t *testing.T) {
	e2etest.Parallel(t)
	f := flowSetup(t, nil, "afrique")
	p := f.start()
	for _, email := range []string{"foo@127.0.0.1", "root@10.0.0.1", "x@[10.0.0.1]", "x@0x7f.0.0.1"} {
		var e errorJSON
		body := map[string]any{"email": email, "topics": []string{"afrique"}}
		st := p.Do(t, "POST", "/api/v1/subscriptions", "", body, &e)
		if st != 400 || e.Error.Code != "invalid_email" || !strings.Contains(e.Error.Message, "IP address") {
			t.Errorf("subscribe %s: %d %+v, want 400 invalid_email saying an IP address is refused", email, st, e)
		}
	}
	if n := e2etest.Count(t, f.env, "SELECT COUNT(*) FROM deliveries"); n != 0 {
		t.Errorf("%d emails queued, want none", n)
	}
}

// TestStrangerCannotSpendTheLinksBudget: a stranger's subscription
// requests for a reader's address, up to their rate limit, leave the
// reader's "email me my preferences link" working. Before, both shared
// one per-address limit, so the reader got a 429 and no email.
func TestStrangerCannotSpendTheLinksBudget(t *testing.T) {
	e2etest.Parallel(t)
	sink := mailtest.NewServer(t)
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL()}, "afrique")
	p := f.start()
	f.article("senegal", "Élections au Sénégal", []string{"afrique"}, time.Now().Add(-time.Hour))
	const email = "lectrice@example.org"
	confirmByPost(t, askConfirmation(t, p, sink, email))
	f.waitRun(f.runDigest("daily"), 30*time.Second)
	unsub := strings.Trim(nthMail(t, sink, email, 2).Header("List-Unsubscribe"), "<>")

	limited := false
	for range 6 {
		r := subscribeJSON(t, p, map[string]any{"email": email, "topics": []string{"afrique"}})
		limited = limited || r.status == 429
	}
	if !limited {
		t.Fatal("six subscription requests for one address were never rate-limited")
	}
	if r := rawDo(t, "POST", unsub+"/link", "", nil); r.status != 200 {
		t.Fatalf("the reader's \"email me my link\" after a stranger's requests: %d, want 200", r.status)
	}
	if prefsURL.FindString(nthMail(t, sink, email, 3).Text()) == "" {
		t.Error("the links email holds no preference link")
	}
}

// TestBouncedAddressGetsNoConfirmation: after a hard bounce, a stranger's
// subscription request for the address answers as any (202 pending) and
// sends nothing; a reader who unsubscribed themselves may come back and
// gets their confirmation. Before, the bounced address was sent a
// confirmation on every request.
func TestBouncedAddressGetsNoConfirmation(t *testing.T) {
	e2etest.Parallel(t)
	var bouncing atomic.Bool
	bouncing.Store(true)
	sink := mailtest.NewServer(t, mailtest.WithRcptHook(func(rcpt string, _ int) *smtp.SMTPError {
		if rcpt == "gone@example.org" && bouncing.Load() {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
		}
		return nil
	}))
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL()}, "afrique")
	f.importCSV("readers.csv", []string{"gone@example.org,afrique,daily,fr,confirmed", "left@example.org,afrique,daily,fr,confirmed"})
	p := f.start()
	f.article("senegal", "Élections au Sénégal", []string{"afrique"}, time.Now().Add(-time.Hour))
	f.waitRun(f.runDigest("daily"), 30*time.Second)
	if s, _ := f.subscriber("gone@example.org"); s.Status != "bounced" {
		t.Fatalf("after a 550 5.1.1: %q, want bounced", s.Status)
	}
	unsub := strings.Trim(nthMail(t, sink, "left@example.org", 1).Header("List-Unsubscribe"), "<>")
	if r := rawDo(t, "POST", unsub, "application/x-www-form-urlencoded", []byte("List-Unsubscribe=One-Click")); r.status != 200 {
		t.Fatalf("one-click unsubscribe: %d", r.status)
	}
	bouncing.Store(false) // the address would take mail again: nothing may go

	var bodies []string
	for _, email := range []string{"gone@example.org", "left@example.org", "new@example.org"} {
		r := subscribeJSON(t, p, map[string]any{"email": email, "topics": []string{"afrique"}})
		if r.status != 202 {
			t.Fatalf("subscribe %s: %d %s", email, r.status, r.body)
		}
		bodies = append(bodies, strings.TrimSpace(string(r.body)))
	}
	if bodies[0] != bodies[1] || bodies[0] != bodies[2] {
		t.Errorf("answers differ: %q", bodies)
	}
	// The queue sends in order: once the later requests' emails are out,
	// the bounced address's would be too.
	if confirmURL.FindString(nthMail(t, sink, "left@example.org", 2).Text()) == "" {
		t.Error("the reader who unsubscribed got no confirmation link")
	}
	nthMail(t, sink, "new@example.org", 1)
	if ms := byRcpt(sink.Messages())["gone@example.org"]; len(ms) != 0 {
		t.Errorf("the bounced address was sent %d emails (%q), want none", len(ms), ms[0].Header("Subject"))
	}
	if n := e2etest.Count(t, f.env, `SELECT COUNT(*) FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
		WHERE s.email = 'gone@example.org' AND d.kind = 'confirm' AND d.state <> 'cancelled'`); n != 0 {
		t.Errorf("%d confirmations queued or sent to the bounced address, want none", n)
	}
	if s, _ := f.subscriber("gone@example.org"); s.Status != "bounced" {
		t.Errorf("after the request the bounced address is %q, want bounced", s.Status)
	}
}
