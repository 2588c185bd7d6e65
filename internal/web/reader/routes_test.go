package reader_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/internal/web/reader"
	"github.com/crieur/crieur/internal/web/webtest"
)

// readerRouteTable is every reader route and how it authenticates. A
// route registered without an entry here fails the test.
var readerRouteTable = []reader.Route{
	{Pattern: "GET /subscribe", Auth: reader.Public},
	{Pattern: "POST /subscribe", Auth: reader.RateLimited},
	{Pattern: "GET /confirm/{token}", Auth: reader.LinkConfirm},
	{Pattern: "POST /confirm/{token}", Auth: reader.LinkConfirm},
	{Pattern: "GET /preferences/{token}", Auth: reader.LinkPreferences},
	{Pattern: "POST /preferences/{token}", Auth: reader.LinkPreferences},
	{Pattern: "GET /preferences/{token}/data", Auth: reader.LinkPreferences},
	{Pattern: "POST /preferences/{token}/unsubscribe", Auth: reader.LinkPreferences},
	{Pattern: "POST /preferences/{token}/erase", Auth: reader.LinkPreferences},
	{Pattern: "POST /preferences/{token}/signout", Auth: reader.LinkPreferences},
	{Pattern: "POST /preferences/{token}/keep", Auth: reader.LinkPreferences},
	{Pattern: "GET /unsubscribe/{token}", Auth: reader.LinkUnsubscribe},
	{Pattern: "POST /unsubscribe/{token}", Auth: reader.LinkUnsubscribe},
	{Pattern: "POST /unsubscribe/{token}/link", Auth: reader.LinkUnsubscribe},
	{Pattern: "GET " + subscribe.PreviewPath, Auth: reader.Public},
	{Pattern: "GET /r/{token}", Auth: reader.LinkClick},
	{Pattern: "GET /api/v1/topics", Auth: reader.Public},
	{Pattern: "OPTIONS /api/v1/topics", Auth: reader.Public},
	{Pattern: "POST /api/v1/subscriptions", Auth: reader.RateLimited},
	{Pattern: "OPTIONS /api/v1/subscriptions", Auth: reader.Public},
	{Pattern: "GET /api/v1/push/key", Auth: reader.Public},
	{Pattern: "POST /api/v1/push/subscriptions", Auth: reader.RateLimited},
	{Pattern: "DELETE /api/v1/push/subscriptions", Auth: reader.RateLimited},
	{Pattern: "POST /api/v1/push/events", Auth: reader.RateLimited},
	{Pattern: "OPTIONS /api/v1/push/", Auth: reader.Public},
	{Pattern: "GET /push/widget.js", Auth: reader.Public},
	{Pattern: "GET /push/sw.js", Auth: reader.Public},
}

// TestReaderRouteTable checks the reader routes as data against the table,
// then each link route against forged links and links of another purpose:
// a signed link opens only the routes of its purpose.
func TestReaderRouteTable(t *testing.T) {
	t.Parallel()
	registered := map[string]reader.Auth{}
	for _, r := range reader.Routes() {
		if _, dup := registered[r.Pattern]; dup {
			t.Errorf("%s registered twice", r.Pattern)
		}
		registered[r.Pattern] = r.Auth
	}
	want := map[string]reader.Auth{}
	for _, r := range readerRouteTable {
		want[r.Pattern] = r.Auth
		if got, ok := registered[r.Pattern]; !ok {
			t.Errorf("%s is in the table but not registered", r.Pattern)
		} else if got != r.Auth {
			t.Errorf("%s authenticates by %s, want %s", r.Pattern, got, r.Auth)
		}
	}
	for p := range registered {
		if _, ok := want[p]; !ok {
			t.Errorf("%s is registered but missing from the route table: add it with how it authenticates", p)
		}
	}

	e := setupPages(t)
	sub := e.confirmed(t, "table@example.com")
	links := e.svc.LinksFor(sub)
	tokens := map[reader.Auth]string{
		reader.LinkConfirm:     path.Base(links.Confirm),
		reader.LinkPreferences: path.Base(links.Preferences),
		reader.LinkUnsubscribe: path.Base(links.Unsubscribe),
	}
	forged := strings.Repeat("A", 40)
	for _, rt := range readerRouteTable {
		if !strings.HasPrefix(string(rt.Auth), "link:") {
			continue
		}
		method, pattern, _ := strings.Cut(rt.Pattern, " ")
		try := map[string]string{"forged": forged}
		for auth, tok := range tokens {
			// A genuine link of another purpose is refused too.
			if auth != rt.Auth {
				try["a "+string(auth)+" link"] = tok
			}
		}
		for what, tok := range try {
			req, err := http.NewRequest(method, e.srv.URL+strings.Replace(pattern, "{token}", tok, 1), strings.NewReader("confirm=yes"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, body := e.do(t, req)
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Errorf("%s with %s: %d, want refused (4xx)\n%s", rt.Pattern, what, resp.StatusCode, tail(body, 300))
			}
		}
	}
	if got := e.subscriber(t, "table@example.com"); got.Status != sub.Status {
		t.Errorf("refused links changed the reader: %s, was %s", got.Status, sub.Status)
	}
}

// TestReaderRateLimitedRoutes sends each rate-limited route twice from one
// client with a budget of one: the second is refused with 429, so no
// route in the table claims a limit it does not have.
func TestReaderRateLimitedRoutes(t *testing.T) {
	t.Parallel()
	one := func() *subscribe.Limiter { return subscribe.NewLimiter(time.Hour, 1, 100) }
	st := webtest.Store(t)
	ctx := context.Background()
	if _, err := st.CreateTopic(ctx, "politique", "Politique"); err != nil {
		t.Fatal(err)
	}
	tokens, err := subscribe.NewTokens(pagesTokenKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	svc := subscribe.New(subscribe.Config{Store: st, Tokens: tokens, HashKey: []byte("k"), BaseURL: "https://crieur.example", Log: log,
		PerClient: one(), PerAddress: subscribe.NewLimiter(time.Hour, 100, 100)})
	srv, err := web.New(web.Deps{Store: st, Subscribe: svc, Log: log, BaseURL: "https://crieur.example", PushLimit: one(), PushEventLimit: one(),
		CheckEndpoint: func(context.Context, string) error { return nil }, ValidateKeys: func(string, string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	reader.Register(srv)
	bodies := map[string][2]string{
		"POST /subscribe":                   {"application/x-www-form-urlencoded", "email=a%40example.com&topics=politique"},
		"POST /api/v1/subscriptions":        {"application/json", `{"email":"b@example.com","topics":["politique"]}`},
		"POST /api/v1/push/subscriptions":   {"application/json", `{"subscription":{"endpoint":"https://push.example/1","keys":{"p256dh":"x","auth":"y"}}}`},
		"DELETE /api/v1/push/subscriptions": {"application/json", `{"endpoint":"https://push.example/1"}`},
		"POST /api/v1/push/events":          {"application/json", `{"alert_id":"1","type":"shown","endpoint":"https://push.example/1"}`},
	}
	for i, rt := range readerRouteTable {
		if rt.Auth != reader.RateLimited {
			continue
		}
		b, ok := bodies[rt.Pattern]
		if !ok {
			t.Errorf("%s is rate-limited but this test has no body for it", rt.Pattern)
			continue
		}
		method, p, _ := strings.Cut(rt.Pattern, " ")
		// One client per route: the routes may share a budget.
		client := fmt.Sprintf("198.51.100.%d:1234", i+1)
		var codes []int
		for range 2 {
			req := httptest.NewRequest(method, p, strings.NewReader(b[1]))
			req.Header.Set("Content-Type", b[0])
			req.RemoteAddr = client
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			codes = append(codes, rec.Code)
		}
		if codes[0] == http.StatusTooManyRequests || codes[1] != http.StatusTooManyRequests {
			t.Errorf("%s twice with a budget of one: %v, want the second (only) refused with 429", rt.Pattern, codes)
		}
	}
}
