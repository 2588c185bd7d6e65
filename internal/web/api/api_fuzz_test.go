package web_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/alert"
	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/netguard"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/templates"
)

// apiHandler is the HTTP handler over a fresh database, with the reader
// API's dependencies, for fuzzing request bodies.
func apiHandler(tb testing.TB) http.Handler {
	tb.Helper()
	// Generous limits: the fuzzer must reach the parser, not the limiter.
	return setupAPI(tb, func(d *web.Deps) { d.PushLimit = subscribe.NewLimiter(1, 1<<30, 1000) }).h
}

// apiEnv is the HTTP handler over a fresh database holding the topic
// politique, with the API's dependencies and an editor's token.
type apiEnv struct {
	st    *store.Store
	h     http.Handler
	token string
}

// setupAPI builds an apiEnv; each option may change the handler's
// dependencies before it is built.
func setupAPI(tb testing.TB, opts ...func(*web.Deps)) *apiEnv {
	tb.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(tb.TempDir(), "crieur.db"), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	if _, err := st.CreateTopic(ctx, "politique", "Politique"); err != nil {
		tb.Fatal(err)
	}
	const token = "crieur_api-test-token-api-test-token-api-test"
	if _, err := st.CreateAPIToken(ctx, "cms", news.RoleEditor, web.HashToken(token)); err != nil {
		tb.Fatal(err)
	}
	tokens, _ := subscribe.NewTokens([]byte(strings.Repeat("k", 32)), nil)
	log := slog.New(slog.DiscardHandler)
	// Generous limits: the tests and the fuzzer must reach the parser, not
	// the limiter.
	svc := subscribe.New(subscribe.Config{Store: st, Tokens: tokens, HashKey: []byte("h"), BaseURL: "https://crieur.example", Log: log,
		PerAddress: subscribe.NewLimiter(1, 1<<30, 1000), PerClient: subscribe.NewLimiter(1, 1<<30, 1000)})
	comp, err := compose.New(templates.FS, compose.Site{Name: "Le Journal", URL: "https://journal.example"})
	if err != nil {
		tb.Fatal(err)
	}
	// The endpoint check resolves host names (netguard bounds a lookup to
	// 5 s). The fuzzer invents names by the thousand, and a few slow
	// lookups stalled a worker past the fuzzing deadline ("context deadline
	// exceeded" without a crasher): here a lookup gets 50 ms.
	checkEndpoint := func(ctx context.Context, endpoint string) error {
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		return netguard.Policy{AllowPrivate: true}.CheckURL(ctx, endpoint)
	}
	d := web.Deps{Store: st, Subscribe: svc, Composer: comp, Log: log, BaseURL: "https://crieur.example",
		CheckEndpoint: checkEndpoint, ValidateKeys: push.ValidateSubscriptionKeys}
	for _, o := range opts {
		o(&d)
	}
	h, err := web.New(d)
	if err != nil {
		tb.Fatal(err)
	}
	return &apiEnv{st: st, h: h, token: token}
}

// editor sends a JSON body with the editor's token.
func (e *apiEnv) editor(method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.token)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func post(h http.Handler, path, ctype, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
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
		rec := post(h, "/api/v1/subscriptions", c.ctype, c.body)
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
		rec := post(h, "/api/v1/subscriptions", "application/json", body)
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
	f.Fuzz(func(t *testing.T, body string) {
		rec := post(h, "/api/v1/push/subscriptions", "application/json", body)
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

func FuzzAlertJSON(f *testing.F) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(f.TempDir(), "crieur.db"), store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		f.Fatal(err)
	}
	if _, err := st.CreateTopic(ctx, "afrique", "Afrique"); err != nil {
		f.Fatal(err)
	}
	const token = "crieur_fuzz-token-fuzz-token-fuzz-token-fuzz"
	if _, err := st.CreateAPIToken(ctx, "fuzz", news.RoleEditor, web.HashToken(token)); err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	comp, err := compose.New(templates.FS, compose.Site{Name: "Le Journal", URL: "https://journal.example"})
	if err != nil {
		f.Fatal(err)
	}
	alerts := alert.New(st, log, nil, func() {}, func() {})
	h, err := web.New(web.Deps{Store: st, Composer: comp, Log: log, Alerts: alerts, BaseURL: "https://crieur.example"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(`{"title":"Séisme","body":"Un séisme","url":"https://journal.example/a","topics":["afrique"],"ttl_seconds":60,"urgency":"high","email":true}`)
	f.Add(`{"title":"x","url":"javascript:alert(1)"}`)
	f.Add(`{"title":"x","url":"https://a.example","replaces":"99"}`)
	f.Add(`{"title":"x","url":"https://a.example","ttl_seconds":-1}`)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/v1/alerts", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 202, 400, 413:
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
	})
}
