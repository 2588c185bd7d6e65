package api_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/alert"
	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/desk"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store/storetest"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/internal/web/site"
	"github.com/crieur/crieur/internal/web/webtest"
	"github.com/crieur/crieur/templates"
)

func FuzzAlertJSON(f *testing.F) {
	ctx := context.Background()
	st := storetest.SQLite(f)
	if _, err := st.CreateTopic(ctx, "afrique", "Afrique"); err != nil {
		f.Fatal(err)
	}
	const token = "crieur_fuzz-token-fuzz-token-fuzz-token-fuzz"
	if _, err := st.CreateAPIToken(ctx, "fuzz", news.RoleEditor, desk.HashToken(token)); err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	comp, err := compose.New(templates.FS, compose.Site{Name: "Le Journal", URL: "https://journal.example"})
	if err != nil {
		f.Fatal(err)
	}
	alerts := alert.New(st, log, nil, func() {}, func() {})
	srv, err := site.New(web.Deps{Store: st, Composer: comp, Log: log, Alerts: alerts, BaseURL: "https://crieur.example"})
	if err != nil {
		f.Fatal(err)
	}
	h := webtest.Validated(f, srv)
	f.Add(`{"title":"Séisme","body":"Un séisme","url":"https://journal.example/a","topics":["afrique"],"ttl_seconds":60,"urgency":"high","email":true}`)
	f.Add(`{"title":"x","url":"javascript:alert(1)"}`)
	f.Add(`{"title":"x","url":"https://a.example","replaces":"99"}`)
	f.Add(`{"title":"x","url":"https://a.example","ttl_seconds":-1}`)
	// encoding/json matched these to title and url; the OpenAPI check of
	// this exchange refuses them (names are exact).
	f.Add(`{"Title":"x","Body":"y","URL":"https://a.example"}`)
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
