package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
)

// ffClickHook is appended to the publisher's service worker in the Firefox
// test: on the page's message it dispatches notificationclick for each
// notification shown, as a reader's click would, to sw.js's own listener.
// A synthetic event's waitUntil throws (it is not trusted), after sw.js
// has started its report; the message event keeps the worker alive.
const ffClickHook = `
self.addEventListener('message', function (e) {
  if (!e.data || e.data.op !== 'crieur-test-click') return;
  e.waitUntil(self.registration.getNotifications().then(function (ns) {
    ns.forEach(function (n) {
      try { self.dispatchEvent(new NotificationEvent('notificationclick', {notification: n})); } catch (err) {}
    });
    return new Promise(function (ok) { setTimeout(ok, 3000); });
  }));
});
`

// ffWaitEngagement waits until GET /api/v1/alerts/{id} says shown and
// clicked.
func ffWaitEngagement(ctx context.Context, t *testing.T, p *e2etest.Proc, token, id string, shown, clicked int) {
	t.Helper()
	for {
		var a struct{ Shown, Clicked int }
		if st := p.Do(t, "GET", "/api/v1/alerts/"+id, token, nil, &a); st != 200 {
			t.Fatalf("GET alert %s: %d", id, st)
		}
		if a.Shown == shown && a.Clicked == clicked {
			return
		}
		if a.Shown > shown || a.Clicked > clicked {
			t.Fatalf("alert %s: shown %d clicked %d, want %d and %d", id, a.Shown, a.Clicked, shown, clicked)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("alert %s: shown %d clicked %d, want %d and %d: %v", id, a.Shown, a.Clicked, shown, clicked, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
