package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/internal/web/api"
	"github.com/crieur/crieur/internal/web/webtest"
)

// apiServer is the server with only the API's routes over st, its
// exchanges checked against the OpenAPI document.
func apiServer(tb testing.TB, st *store.Store) http.Handler {
	tb.Helper()
	s, err := web.New(web.Deps{Store: st, BaseURL: "https://crieur.example"})
	if err != nil {
		tb.Fatal(err)
	}
	api.Register(s)
	return webtest.Validated(tb, s)
}

type apiError = webtest.APIError

func mustAPIError(tb testing.TB, rec *httptest.ResponseRecorder, status int, code string) apiError {
	tb.Helper()
	return webtest.MustAPIError(tb, rec, status, code)
}

func newStore(tb testing.TB) *store.Store {
	tb.Helper()
	return webtest.Store(tb)
}
