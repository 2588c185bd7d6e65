package e2e_test

import (
	"strings"
	"testing"
	"time"

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
	t.Parallel()
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
	t.Parallel()
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
