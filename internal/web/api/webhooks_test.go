package api_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/desk"
	"github.com/crieur/crieur/internal/netguard"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/internal/web/webtest"
	"github.com/crieur/crieur/internal/webhook"
)

// POST, GET and DELETE /api/v1/webhooks as the contract has them: the
// secret in the 201 only, the list without it, 204 then 404.
func TestWebhooksAPI(t *testing.T) {
	t.Parallel()
	e := webtest.New(t, func(d *web.Deps) { d.Webhooks = webhook.NewService(d.Store, netguard.Policy{AllowPrivate: true}, nil) })
	const admin = "crieur_api-admin-token-admin-token-admin-tok"
	if _, err := e.Store.CreateAPIToken(context.Background(), "crm", news.RoleAdmin, desk.HashToken(admin)); err != nil {
		t.Fatal(err)
	}
	call := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+admin)
		rec := httptest.NewRecorder()
		e.Handler.ServeHTTP(rec, req)
		return rec
	}
	rec := call("POST", "/api/v1/webhooks", `{"url": "http://127.0.0.1:9/hooks", "events": ["subscriber.confirmed", "digest.done"]}`)
	var created struct{ ID, Secret string }
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || rec.Code != 201 || created.ID == "" || !strings.HasPrefix(created.Secret, "whsec_") {
		t.Fatalf("POST: %d %s", rec.Code, rec.Body.String())
	}
	rec = call("GET", "/api/v1/webhooks", "")
	var list []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || rec.Code != 200 || len(list) != 1 || list[0]["id"] != created.ID ||
		list[0]["disabled"] != false || strings.Contains(rec.Body.String(), "whsec_") {
		t.Fatalf("GET: %d %s", rec.Code, rec.Body.String())
	}
	for _, bad := range []struct{ body, field string }{
		{`{"url": "ftp://x.example/", "events": ["alert.done"]}`, "url"},
		{`{"url": "https://x.example/", "events": []}`, "events"},
		{`{"url": "https://x.example/", "events": ["alert.*"]}`, "events"},
	} {
		if e := webtest.MustAPIError(t, call("POST", "/api/v1/webhooks", bad.body), 400, "invalid_input"); e.Error.Field != bad.field {
			t.Errorf("%s: field %q", bad.body, e.Error.Field)
		}
	}
	webtest.MustAPIError(t, call("POST", "/api/v1/webhooks", `{"url": `), 400, "invalid_input")
	if rec := call("DELETE", "/api/v1/webhooks/"+created.ID, ""); rec.Code != 204 {
		t.Fatalf("DELETE: %d", rec.Code)
	}
	webtest.MustAPIError(t, call("DELETE", "/api/v1/webhooks/"+created.ID, ""), 404, "not_found")
	webtest.MustAPIError(t, call("DELETE", "/api/v1/webhooks/abc", ""), 404, "not_found")
	// An editor's token is refused.
	webtest.MustAPIError(t, e.Editor("GET", "/api/v1/webhooks", ""), 403, "forbidden")
}
