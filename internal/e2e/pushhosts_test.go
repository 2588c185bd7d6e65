package e2e_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/push/pushtest"
)

// TestPushEndpointHosts: without CRIEUR_PUSH_ALLOW_PRIVATE a push endpoint
// must be at a push service browsers use or in CRIEUR_PUSH_HOSTS, so that
// nobody can make every alert post to a host of their choosing; a listed
// host is taken without a DNS lookup (the .test names never resolve).
func TestPushEndpointHosts(t *testing.T) {
	e2etest.Parallel(t)
	f, _ := pushFixture(t, map[string]string{"CRIEUR_PUSH_ALLOW_PRIVATE": "false",
		"CRIEUR_PUSH_HOSTS": "push.gazette.test *.wns.gazette.test"})
	f.start()
	b := pushtest.NewBrowser()
	for _, ep := range []string{
		"https://victim.example.com/api/search",
		"https://93.184.216.34/wpush/v2/abc",
		"https://fcm.googleapis.com.victim.example.com/fcm/send/abc",
		"https://evilfcm.googleapis.com/fcm/send/abc",
		"https://fcm.googleapis.com:8443/fcm/send/abc",
		"https://fcm.googleapis.com@victim.example.com/fcm/send/abc",
		"https://wns.gazette.test/sub/0",
	} {
		if st, code := f.pushSub(ep, b, nil); st != 400 || code != "endpoint_not_allowed" {
			t.Errorf("%s: %d %q, want 400 endpoint_not_allowed", ep, st, code)
		}
	}
	accepted := []string{
		"https://push.gazette.test/sub/1",
		"https://eu.wns.gazette.test/sub/2",
		"https://fcm.googleapis.com/fcm/send/abc",
		"https://web.push.apple.com/QGtx3",
		"https://updates.push.services.mozilla.com/wpush/v2/abc",
	}
	for _, ep := range accepted {
		if st, code := f.pushSub(ep, b, nil); st != 201 {
			t.Errorf("%s: %d %q, want 201", ep, st, code)
		}
	}
	stored := e2etest.Column(t, f.env, "SELECT endpoint FROM push_subscriptions")
	slices.Sort(stored)
	slices.Sort(accepted)
	if !slices.Equal(stored, accepted) {
		t.Errorf("stored endpoints %q, want %q", stored, accepted)
	}
}

// TestPushEndpointUnresolved: where a name is still resolved (with
// CRIEUR_PUSH_ALLOW_PRIVATE), one that cannot be says so, rather than
// "not allowed".
func TestPushEndpointUnresolved(t *testing.T) {
	e2etest.Parallel(t)
	f, _ := pushFixture(t, nil)
	f.start()
	b := pushtest.NewBrowser()
	var out struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	body := map[string]any{"subscription": map[string]any{"endpoint": "https://no-such-push-service.invalid/sub/1",
		"keys": map[string]string{"p256dh": b.P256dh, "auth": b.Auth}}}
	st := f.p.Do(t, "POST", "/api/v1/push/subscriptions", "", body, &out)
	if st != 400 || out.Error.Code != "endpoint_not_allowed" || !strings.Contains(out.Error.Message, "could not be resolved") {
		t.Errorf("unresolvable endpoint: %d %+v, want 400 endpoint_not_allowed saying it could not be resolved", st, out.Error)
	}
}

// TestPushRefusedThreeAlerts: an endpoint answering a 4xx other than 404,
// 410 and 429 on three alerts in a row is removed; a delivery in between
// starts the count again; 404 removes at once.
func TestPushRefusedThreeAlerts(t *testing.T) {
	e2etest.Parallel(t)
	f, ps := pushFixture(t, nil, "monde")
	f.start()
	eps := map[string]string{}
	for _, name := range []string{"ok", "refuser", "mixed", "flaky", "notfound"} {
		b := pushtest.NewBrowser()
		eps[name] = ps.Endpoint(b)
		if st, code := f.pushSub(eps[name], b, []string{"monde"}); st != 201 {
			t.Fatalf("subscribe %s: %d %s", name, st, code)
		}
	}
	ps.SetFault(eps["refuser"], pushtest.Answer(403))
	ps.SetFault(eps["mixed"], func(n int, _ *http.Request) (int, http.Header, time.Duration) {
		return []int{400, 405, 413}[min(n, 3)-1], nil, 0
	})
	// Refuses alerts 1, 2, 4 and 5, takes alert 3.
	ps.SetFault(eps["flaky"], func(n int, _ *http.Request) (int, http.Header, time.Duration) {
		if n == 3 {
			return 0, nil, 0
		}
		return 403, nil, 0
	})
	ps.SetFault(eps["notfound"], pushtest.Answer(404))

	left := func() []string {
		var names []string
		for _, ep := range e2etest.Column(t, f.env, "SELECT endpoint FROM push_subscriptions") {
			for name, e := range eps {
				if e == ep {
					names = append(names, name)
				}
			}
		}
		slices.Sort(names)
		return names
	}
	for i, c := range []struct {
		targeted, delivered, failed int64
		left                        []string
	}{
		{5, 1, 3, []string{"flaky", "mixed", "ok", "refuser"}}, // 404: removed at once
		{4, 1, 3, []string{"flaky", "mixed", "ok", "refuser"}},
		{4, 2, 2, []string{"flaky", "ok"}}, // the third refusal in a row
		{2, 1, 1, []string{"flaky", "ok"}},
		{2, 1, 1, []string{"flaky", "ok"}}, // two since its delivery
	} {
		id := f.sendAlert(map[string]any{"title": "Alerte", "body": "b", "url": "https://gazette.example/x", "topics": []string{"monde"}})
		a := f.waitAlert(id, 30*time.Second, "done", func(a alertJSON) bool { return a.State == "done" })
		if a.Targeted != c.targeted || a.Delivered != c.delivered || a.Failed != c.failed {
			t.Errorf("alert %d = %+v, want %d targeted, %d delivered, %d failed", i+1, a, c.targeted, c.delivered, c.failed)
		}
		if got := left(); !slices.Equal(got, c.left) {
			t.Fatalf("after alert %d the subscriptions are %q, want %q", i+1, got, c.left)
		}
	}
}
