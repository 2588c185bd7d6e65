package e2e_test

import (
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/e2e/e2etest"
)

// TestSubscribeRefusesSpecialUseDomains: an address under a special-use
// name (RFC 6761/6762/8375: localhost, local, internal, invalid,
// home.arpa, localhost.localdomain) or a wildcard-DNS name spelling an IP
// (10.0.0.1.nip.io) is refused with a 400 saying why, and nothing is
// queued; .example and .test addresses, which documentation and tests
// use, are still taken. Before, each was accepted (202) and its
// confirmation queued.
func TestSubscribeRefusesSpecialUseDomains(t *testing.T) {
	e2etest.Parallel(t)
	f := flowSetup(t, nil, "afrique")
	p := f.start()
	for _, email := range []string{"foo@x.localhost", "root@localhost.localdomain", "a@printer.local", "a@metadata.google.internal",
		"a@nowhere.invalid", "a@router.home.arpa", "a@10.0.0.1.nip.io", "a@127.0.0.1.sslip.io"} {
		var e errorJSON
		body := map[string]any{"email": email, "topics": []string{"afrique"}}
		st := p.Do(t, "POST", "/api/v1/subscriptions", "", body, &e)
		if st != 400 || e.Error.Code != "invalid_email" || !strings.Contains(e.Error.Message, "reserved name") {
			t.Errorf("subscribe %s: %d %+v, want 400 invalid_email saying the name is reserved", email, st, e)
		}
	}
	if n := e2etest.Count(t, f.env, "SELECT COUNT(*) FROM deliveries"); n != 0 {
		t.Errorf("%d emails queued, want none", n)
	}
	for _, email := range []string{"lectrice@gazette.example", "a@x.test", "b@example.org"} {
		if st := p.Do(t, "POST", "/api/v1/subscriptions", "", map[string]any{"email": email, "topics": []string{"afrique"}}, nil); st != 202 {
			t.Errorf("subscribe %s: %d, want 202", email, st)
		}
	}
}
