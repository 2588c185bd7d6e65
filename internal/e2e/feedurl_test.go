package e2e_test

import (
	"strings"
	"testing"
)

// TestDashboardHidesSecretsInFeedPaths: the editors' dashboard shows feed
// URLs without the session ids and keys that sit in their path. Before,
// ;jsessionid=… and a key as a path segment were shown whole.
func TestDashboardHidesSecretsInFeedPaths(t *testing.T) {
	t.Parallel()
	f := flowSetup(t, map[string]string{"CRIEUR_FEEDS": "http://127.0.0.1:9/rss;jsessionid=SESS789/p " +
		"http://127.0.0.1:9/private/KEYINPATH0123456789abcdef/rss"})
	p := f.start()
	d := login(t, p, "editrice@example.org", "editor")
	_, page := d.get("/admin")
	if !strings.Contains(page, "127.0.0.1:9/private/") {
		t.Fatalf("the dashboard lists no feed:\n%.2000s", page)
	}
	for _, secret := range []string{"SESS789", "KEYINPATH0123456789abcdef"} {
		if strings.Contains(page, secret) {
			t.Errorf("the dashboard shows %s", secret)
		}
	}
}
