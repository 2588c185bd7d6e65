package reader_test

import (
	"net/http/httptest"
	"testing"

	"github.com/crieur/crieur/internal/web/webtest"
)

type apiError = webtest.APIError

func mustAPIError(tb testing.TB, rec *httptest.ResponseRecorder, status int, code string) apiError {
	tb.Helper()
	return webtest.MustAPIError(tb, rec, status, code)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
