package reader_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/internal/web/webtest"
)

// apiHandler is the HTTP handler over a fresh database, with the reader
// API's dependencies, for fuzzing request bodies.
func apiHandler(tb testing.TB) http.Handler {
	tb.Helper()
	// Generous limits: the fuzzer must reach the parser, not the limiter.
	return webtest.New(tb, func(d *web.Deps) { d.PushLimit = subscribe.NewLimiter(1, 1<<30, 1000) }).Handler
}

func TestAPIBodyErrors(t *testing.T) {
	t.Parallel()
	h := apiHandler(t)
	cases := []struct {
		name, ctype, body string
		status            int
		code              string
	}{
		{"ok", "application/json", `{"email":"a@example.com","topics":["politique"],"frequency":"daily","lang":"fr"}`, 202, ""},
		{"same answer again", "application/json", `{"email":"a@example.com","topics":["politique"]}`, 202, ""},
		{"not json", "text/plain", `{}`, 415, "unsupported_media_type"},
		{"malformed", "application/json", `{"email":`, 400, "invalid_input"},
		{"wrong type names field", "application/json", `{"email":"a@example.com","topics":"politique"}`, 400, `"field":"topics"`},
		{"unknown field", "application/json", `{"email":"a@example.com","colour":"red"}`, 400, `"field":"colour"`},
		{"unknown topic", "application/json", `{"email":"a@example.com","topics":["sport"]}`, 400, "unknown_topic"},
		{"header injection", "application/json", `{"email":"a@example.com\r\nBcc: b@example.com"}`, 400, "invalid_email"},
		{"two values", "application/json", `{"email":"a@example.com"}{}`, 400, "invalid_input"},
		{"too large", "application/json", `{"email":"` + strings.Repeat("a", 1<<20) + `@example.com"}`, 413, "body_too_large"},
	}
	for _, c := range cases {
		rec := webtest.Post(h, "/api/v1/subscriptions", c.ctype, c.body)
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.code) {
			t.Errorf("%s: %d %s, want %d with %s", c.name, rec.Code, rec.Body.String(), c.status, c.code)
		}
	}
}

func FuzzSubscriptionJSON(f *testing.F) {
	h := apiHandler(f)
	f.Add(`{"email":"a@example.com","topics":["politique"],"frequency":"daily","lang":"fr","alerts":true}`)
	f.Add(`{"email":"x"}`)
	f.Add(`[]`)
	f.Add(`{"topics":[null]}`)
	f.Fuzz(func(t *testing.T, body string) {
		rec := webtest.Post(h, "/api/v1/subscriptions", "application/json", body)
		if rec.Code != 202 && rec.Code != 400 && rec.Code != 413 && rec.Code != 429 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
		if rec.Code != 202 && !strings.Contains(rec.Body.String(), `"error"`) {
			t.Fatalf("error without the contract's shape: %s", rec.Body.String())
		}
	})
}

func FuzzPushSubscriptionJSON(f *testing.F) {
	h := apiHandler(f)
	b := newFuzzKeys(f)
	f.Add(`{"subscription":{"endpoint":"http://127.0.0.1:9/p/1","keys":{"p256dh":"` + b[0] + `","auth":"` + b[1] + `"}},"topics":["politique"],"lang":"fr"}`)
	f.Add(`{"subscription":{"endpoint":"https://10.0.0.1/x","keys":{"p256dh":"AA","auth":"AA"}}}`)
	f.Add(`{"subscription":{}}`)
	f.Add(`{"subscription":{"endpoint":"http://127.0.0.1:9/p/2","keys":{"p256dh":"` + b[0] + `","auth":"` + b[1] + `"}},"timezone":"Asia/Kathmandu","quiet_hours":{"from":"22:00","to":"07:00"},"max_per_day":3}`)
	f.Add(`{"subscription":{"endpoint":"http://127.0.0.1:9/p/3","keys":{"p256dh":"` + b[0] + `","auth":"` + b[1] + `"}},"timezone":"../etc","quiet_hours":{"from":"25:00"},"max_per_day":-1}`)
	f.Fuzz(func(t *testing.T, body string) {
		rec := webtest.Post(h, "/api/v1/push/subscriptions", "application/json", body)
		switch rec.Code {
		case 200, 201, 400, 413:
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
	})
}

func newFuzzKeys(tb testing.TB) [2]string {
	tb.Helper()
	priv, pub, err := push.GenerateVAPIDKeys()
	if err != nil || priv == "" {
		tb.Fatal(err)
	}
	// Any valid P-256 point works as a browser key for validation.
	return [2]string{pub, "AAAAAAAAAAAAAAAAAAAAAA"}
}
