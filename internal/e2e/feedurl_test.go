package e2e_test

import (
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
)

// TestDashboardHidesSecretsInFeedPaths: the editors' dashboard shows feed
// URLs without the session ids and keys that sit in their path. Before,
// ;jsessionid=… and a key as a path segment were shown whole.
func TestDashboardHidesSecretsInFeedPaths(t *testing.T) {
	e2etest.Parallel(t)
	f := flowSetup(t, map[string]string{"CRIEUR_FEEDS": "http://127.0.0.1:9/rss;jsessionid=SESS789/p " +
		"http://127.0.0.1:9/private/KEYINPATH0123456789abcdef/rss"})
	p := f.start()
	d := login(t, p, "editrice@example.org", "editor")
	_, page := d.get("/admin")
	if !strings.Contains(page, "http://127.0.0.1:9/…") {
		t.Fatalf("the dashboard lists no feed:\n%.2000s", page)
	}
	for _, secret := range []string{"SESS789", "KEYINPATH0123456789abcdef"} {
		if strings.Contains(page, secret) {
			t.Errorf("the dashboard shows %s", secret)
		}
	}
}

// TestDashboardShowsFeedHostsOnly: the editors' dashboard names each feed
// by scheme and host alone, in its last error too, so a key of letters
// only or shorter than a key looks (/u/secretkeyabcdefghij/,
// /p4ssw0rd-Z/) does not show; the admins' feeds page keeps the whole URL
// to manage it. Before, both path secrets were shown to every editor.
func TestDashboardShowsFeedHostsOnly(t *testing.T) {
	e2etest.Parallel(t)
	f := flowSetup(t, map[string]string{"CRIEUR_FEEDS": "http://127.0.0.1:9/u/secretkeyabcdefghij/rss http://127.0.0.1:9/p4ssw0rd-Z/feed"})
	p := f.start()
	d := login(t, p, "editrice@example.org", "editor")
	e2etest.WaitFor(t, 15*time.Second, "the feeds polled once", func() bool {
		return e2etest.Count(t, f.env, "SELECT COUNT(*) FROM feeds WHERE last_error <> ''") == 2
	})
	_, page := d.get("/admin")
	for _, secret := range []string{"secretkeyabcdefghij", "p4ssw0rd-Z"} {
		if strings.Contains(page, secret) {
			t.Errorf("the dashboard shows %s", secret)
		}
	}
	if !strings.Contains(page, "http://127.0.0.1:9/…") {
		t.Errorf("the dashboard lists no feed by its host:\n%.3000s", page)
	}
	a := login(t, p, "chef@example.org", "admin")
	if _, feeds := a.get("/admin/feeds"); !strings.Contains(feeds, "p4ssw0rd-Z") {
		t.Errorf("the admins' feeds page lost the whole URL")
	}
}
