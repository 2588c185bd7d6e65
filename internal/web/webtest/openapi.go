package webtest

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/crieur/crieur/internal/web/api"
	"github.com/crieur/crieur/internal/web/apicheck"
)

var (
	checkerOnce sync.Once
	checker     *apicheck.Checker
	checkerErr  error
)

// Checker is the API's OpenAPI document (api.OpenAPI), loaded and
// validated once per test binary.
func Checker(tb testing.TB) *apicheck.Checker {
	tb.Helper()
	checkerOnce.Do(func() { checker, checkerErr = apicheck.Load(api.OpenAPI) })
	if checkerErr != nil {
		tb.Fatal(checkerErr)
	}
	return checker
}

// Validated wraps h so that every /api/v1 exchange through it is checked
// against the OpenAPI document (see apicheck): a request or an answer the
// document does not describe fails tb. In a fuzz target, where tb is the
// *testing.F whose methods must not be called, it panics instead, which
// fails the input just the same.
func Validated(tb testing.TB, h http.Handler) http.Handler {
	tb.Helper()
	chk := Checker(tb)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !apicheck.Described(r.Method, r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		var body []byte
		if r.Body != nil {
			var err error
			if body, err = io.ReadAll(r.Body); err != nil {
				tb.Errorf("read the request body: %v", err)
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		cw := &captureWriter{ResponseWriter: w}
		probe := r.Clone(r.Context())
		h.ServeHTTP(cw, r)
		if cw.status == 0 {
			cw.status = http.StatusOK
			cw.header = w.Header().Clone()
		}
		err := chk.Check(apicheck.Exchange{Request: probe, RequestBody: body, Status: cw.status, Header: cw.header, Body: cw.body.Bytes()})
		if err == nil {
			return
		}
		if _, fuzzing := tb.(*testing.F); fuzzing {
			panic("OpenAPI: " + err.Error())
		}
		tb.Errorf("OpenAPI: %v", err)
	})
}

// captureWriter keeps what a handler answers while passing it on.
type captureWriter struct {
	http.ResponseWriter
	status int
	header http.Header
	body   bytes.Buffer
}

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
		c.header = c.ResponseWriter.Header().Clone()
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}

func (c *captureWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
