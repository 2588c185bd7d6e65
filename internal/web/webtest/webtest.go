// Package webtest holds the test setup the rooms of web share: a migrated
// SQLite store, the whole site's handler over real services, and the
// contract's error shape. Each room's tests wrap it in their own setup.
package webtest

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/desk"
	"github.com/crieur/crieur/internal/netguard"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/storetest"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/internal/web/site"
	"github.com/crieur/crieur/templates"
)

// Env is the HTTP handler over a fresh database holding the topic
// politique, with the API's dependencies and an editor's token. Every
// /api/v1 exchange through Handler is checked against the OpenAPI
// document (Validated).
type Env struct {
	Store   *store.Store
	Handler http.Handler
	// Token is an editor's API token.
	Token string
}

// New builds an Env with every room's routes (site.New); each option may change the handler's
// dependencies before it is built.
func New(tb testing.TB, opts ...func(*web.Deps)) *Env {
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
	if _, err := st.CreateAPIToken(ctx, "cms", news.RoleEditor, desk.HashToken(token)); err != nil {
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
	h, err := site.New(d)
	if err != nil {
		tb.Fatal(err)
	}
	return &Env{Store: st, Handler: Validated(tb, h), Token: token}
}

// Editor sends a JSON body with the editor's token.
func (e *Env) Editor(method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.Token)
	rec := httptest.NewRecorder()
	e.Handler.ServeHTTP(rec, req)
	return rec
}

// Post sends body as ctype to path.
func Post(h http.Handler, path, ctype, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// APIError is the contract's error body.
type APIError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// MustAPIError fails unless rec is status with the contract's error shape,
// and returns the error.
func MustAPIError(tb testing.TB, rec *httptest.ResponseRecorder, status int, code string) APIError {
	tb.Helper()
	var e APIError
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != status || e.Error.Code != code || e.Error.Message == "" {
		tb.Fatalf("%d %s, want %d with code %s (%v)", rec.Code, rec.Body.String(), status, code, err)
	}
	return e
}

// Store opens a migrated SQLite store in a temp dir.
func Store(tb testing.TB) *store.Store {
	tb.Helper()
	return storetest.SQLite(tb)
}
