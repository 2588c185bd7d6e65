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

// apiEnv is the site's handler over a fresh database holding the topic
// politique, with an editor's token.
type apiEnv struct {
	st    *store.Store
	h     http.Handler
	token string
	env   *webtest.Env
}

// setupAPI builds an apiEnv; each option may change the handler's
// dependencies before it is built.
func setupAPI(tb testing.TB, opts ...func(*web.Deps)) *apiEnv {
	tb.Helper()
	e := webtest.New(tb, opts...)
	return &apiEnv{st: e.Store, h: e.Handler, token: e.Token, env: e}
}

// editor sends a JSON body with the editor's token.
func (e *apiEnv) editor(method, path, body string) *httptest.ResponseRecorder {
	return e.env.Editor(method, path, body)
}

// apiServer is the server with only the API's routes over st.
func apiServer(tb testing.TB, st *store.Store) *web.Server {
	tb.Helper()
	s, err := web.New(web.Deps{Store: st, BaseURL: "https://crieur.example"})
	if err != nil {
		tb.Fatal(err)
	}
	api.Register(s)
	return s
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
