package api_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/desk"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/internal/web/api"
	"github.com/crieur/crieur/internal/web/site"
	"github.com/crieur/crieur/internal/web/webtest"
)

// apiRouteTable is every Bearer-token route, the role it needs and a path
// to call it on. A route registered without an entry here fails the test.
var apiRouteTable = []struct {
	pattern, path string
	role          news.Role
}{
	{"POST /api/v1/topics", "/api/v1/topics", news.RoleAdmin},
	{"POST /api/v1/articles", "/api/v1/articles", news.RoleEditor},
	{"GET /api/v1/articles/{id}", "/api/v1/articles/1", news.RoleEditor},
	{"POST /api/v1/digests/{frequency}/run", "/api/v1/digests/daily/run", news.RoleEditor},
	{"GET /api/v1/digests/runs/{id}", "/api/v1/digests/runs/1", news.RoleEditor},
	{"POST /api/v1/alerts", "/api/v1/alerts", news.RoleEditor},
	{"GET /api/v1/alerts/{id}", "/api/v1/alerts/1", news.RoleEditor},
	{"POST /api/v1/alerts/{id}/cancel", "/api/v1/alerts/1/cancel", news.RoleEditor},
	{"POST /api/v1/alerts/{id}/approve", "/api/v1/alerts/1/approve", news.RoleEditor},
	{"GET /api/v1/subscribers/{email}", "/api/v1/subscribers/a@example.com", news.RoleAdmin},
	{"DELETE /api/v1/subscribers/{email}", "/api/v1/subscribers/a@example.com", news.RoleAdmin},
	{"POST /api/v1/webhooks", "/api/v1/webhooks", news.RoleAdmin},
	{"GET /api/v1/webhooks", "/api/v1/webhooks", news.RoleAdmin},
	{"DELETE /api/v1/webhooks/{id}", "/api/v1/webhooks/1", news.RoleAdmin},
}

func TestAPIRoutesRefuseBadTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStore(t)
	h := apiServer(t, st)
	registered := map[string]news.Role{}
	for _, r := range api.Routes() {
		registered[r.Pattern] = r.Role
	}
	if len(registered) != len(apiRouteTable) {
		t.Errorf("%d routes registered, %d in the table", len(registered), len(apiRouteTable))
	}
	tokens := map[string]string{}
	for _, role := range []news.Role{news.RoleEditor, news.RoleAdmin} {
		tok := "crieur_test-" + string(role) + strings.Repeat("x", 30)
		if _, err := st.CreateAPIToken(ctx, string(role), role, desk.HashToken(tok)); err != nil {
			t.Fatal(err)
		}
		tokens[string(role)] = tok
	}
	revoked := "crieur_test-revoked" + strings.Repeat("x", 30)
	id, err := st.CreateAPIToken(ctx, "old", news.RoleAdmin, desk.HashToken(revoked))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeAPIToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, rt := range apiRouteTable {
		need, ok := registered[rt.pattern]
		if !ok {
			t.Errorf("%s: in the table but not registered", rt.pattern)
			continue
		}
		if need != rt.role {
			t.Errorf("%s: registered with role %s, table says %s", rt.pattern, need, rt.role)
		}
		method, _, _ := strings.Cut(rt.pattern, " ")
		callRec := func(auth string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, rt.path, strings.NewReader(`{}`))
			req.Header.Set("Content-Type", "application/json")
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec
		}
		call := func(auth string) int { return callRec(auth).Code }
		for name, auth := range map[string]string{
			"missing": "", "not bearer": "Basic " + tokens["admin"], "unknown": "Bearer crieur_nope",
			"revoked": "Bearer " + revoked, "empty": "Bearer ",
		} {
			if got := call(auth); got != 401 {
				t.Errorf("%s with a %s token: %d, want 401", rt.pattern, name, got)
			}
		}
		// Each role passes the guard exactly where the table says.
		for _, role := range []news.Role{news.RoleEditor, news.RoleAdmin} {
			rec := callRec("Bearer " + tokens[string(role)])
			if !role.Allows(rt.role) {
				mustAPIError(t, rec, 403, "forbidden")
			} else if rec.Code == 401 || rec.Code == 403 {
				t.Errorf("%s with an %s token: %d, want past the guard", rt.pattern, role, rec.Code)
			}
		}
	}
	for p := range registered {
		found := false
		for _, rt := range apiRouteTable {
			found = found || rt.pattern == p
		}
		if !found {
			t.Errorf("%s is registered but missing from the route table: add it with its role", p)
		}
	}
}

func TestUnknownAPIRouteAnswersJSON(t *testing.T) {
	t.Parallel()
	srv, err := site.New(web.Deps{Store: newStore(t), BaseURL: "https://crieur.example"})
	if err != nil {
		t.Fatal(err)
	}
	h := webtest.Validated(t, srv)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/nothing/here", nil))
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), `"code":"not_found"`) {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
}

func TestWrongMethodAnswers405JSON(t *testing.T) {
	t.Parallel()
	srv, err := site.New(web.Deps{Store: newStore(t), BaseURL: "https://crieur.example"})
	if err != nil {
		t.Fatal(err)
	}
	h := webtest.Validated(t, srv)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("PUT", "/api/v1/subscriptions", nil))
	if rec.Code != 405 || !strings.Contains(rec.Header().Get("Allow"), "POST") || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Fatalf("%d %v %s", rec.Code, rec.Header(), rec.Body.String())
	}
}
