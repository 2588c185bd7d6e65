package reader_test

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/internal/web/webtest"
)

// TestPushSubscriptionsRateLimited checks the push subscription routes
// have a per-client budget: enough for a browser that subscribes, reloads
// and subscribes again, and for many readers behind one address, not for
// a flood; the publisher's backend, with an API token, is not limited.
func TestPushSubscriptionsRateLimited(t *testing.T) {
	t.Parallel()
	// A stopped clock: the budget does not refill during the test.
	now := time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)
	e := webtest.New(t, func(d *web.Deps) {
		d.Now = func() time.Time { return now }
		d.AllowedOrigins = []string{"https://journal.example"}
	})
	keys := newFuzzKeys(t)
	call := func(method, client, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/api/v1/push/subscriptions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = client + ":40000"
		req.Header.Set("Origin", "https://journal.example") // the publisher's page
		rec := httptest.NewRecorder()
		e.Handler.ServeHTTP(rec, req)
		return rec
	}
	subscription := func(n int) string {
		return fmt.Sprintf(`{"subscription":{"endpoint":"http://127.0.0.1:9/p/%d","keys":{"p256dh":%q,"auth":%q}},"topics":["politique"],"lang":"fr"}`,
			n, keys[0], keys[1])
	}

	// A browser subscribes, and posts the same subscription again on reload.
	if rec := call("POST", "192.0.2.10", subscription(0)); rec.Code != 201 {
		t.Fatalf("subscribe: %d %s", rec.Code, rec.Body.String())
	}
	for range 3 {
		if rec := call("POST", "192.0.2.10", subscription(0)); rec.Code != 200 {
			t.Fatalf("subscribe again: %d %s", rec.Code, rec.Body.String())
		}
	}
	// A flood from one client is stopped.
	n := 4
	for ; n < 200; n++ {
		if rec := call("POST", "192.0.2.10", subscription(n)); rec.Code != 201 {
			mustAPIError(t, rec, 429, "rate_limited")
			if s, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || s < 1 {
				t.Errorf("Retry-After %q", rec.Header().Get("Retry-After"))
			}
			if h := rec.Header(); h.Get("Access-Control-Allow-Origin") != "https://journal.example" || h.Get("Access-Control-Expose-Headers") != "Retry-After" {
				t.Errorf("a 429 to the publisher's page: CORS headers %v", h)
			}
			break
		}
	}
	if n != 60 {
		t.Errorf("%d requests from one client allowed, want 60", n)
	}
	rec := call("DELETE", "192.0.2.10", `{"endpoint":"http://127.0.0.1:9/p/0"}`)
	mustAPIError(t, rec, 429, "rate_limited")

	// The same client with an API token is the publisher's backend.
	for i := range 5 {
		req := httptest.NewRequest("POST", "/api/v1/push/subscriptions", strings.NewReader(subscription(500+i)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.Token)
		req.RemoteAddr = "192.0.2.10:40000"
		rec := httptest.NewRecorder()
		e.Handler.ServeHTTP(rec, req)
		if rec.Code != 201 {
			t.Fatalf("with a token: %d %s", rec.Code, rec.Body.String())
		}
	}

	// Another client is not held back by the first.
	if rec := call("POST", "198.51.100.7", subscription(1000)); rec.Code != 201 {
		t.Errorf("another client: %d %s", rec.Code, rec.Body.String())
	}
	if rec := call("DELETE", "198.51.100.7", `{"endpoint":"http://127.0.0.1:9/p/1000"}`); rec.Code != 204 {
		t.Errorf("another client's delete: %d %s", rec.Code, rec.Body.String())
	}

	// The budget refills.
	now = now.Add(time.Minute)
	if rec := call("DELETE", "192.0.2.10", `{"endpoint":"http://127.0.0.1:9/p/0"}`); rec.Code != 204 {
		t.Errorf("a minute later: %d %s", rec.Code, rec.Body.String())
	}
}

// TestRequestLog: each request is logged at debug level with its method,
// path, status and duration; a link's token and the query (which can hold
// an address) never reach the log.
func TestRequestLog(t *testing.T) {
	t.Parallel()
	var buf lockedLog
	e := webtest.New(t, func(d *web.Deps) {
		d.Log = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	const token = "AQEBAgMEBQYHCAkKCwwNDg8Q"
	for _, target := range []string{"/confirm/" + token, "/api/v1/topics?email=lectrice@example.com"} {
		e.Handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil))
	}
	out := buf.String()
	for _, want := range []string{`msg=request method=GET path=/confirm/…`, `path=/api/v1/topics status=200`} {
		if !strings.Contains(out, want) {
			t.Errorf("log has no %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{token, "lectrice@example.com"} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q:\n%s", secret, out)
		}
	}
}

// lockedLog is a log sink safe for concurrent handlers.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
