package e2e_test

import (
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/e2e/e2etest"
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
