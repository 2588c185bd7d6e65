package web_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/web"
)

// TestDecodeJSONKeysExact: encoding/json would take "Title" for title;
// the contract's names are exact (the OpenAPI validation of the API tests
// found the server accepting {"URL", "Title"}).
func TestDecodeJSONKeysExact(t *testing.T) {
	t.Parallel()
	type inner struct {
		P256dh string `json:"p256dh"`
	}
	type body struct {
		Title string            `json:"title"`
		Keys  inner             `json:"keys"`
		List  []inner           `json:"list"`
		Meta  map[string]string `json:"meta"`
	}
	for _, c := range []struct {
		json, field string
	}{
		{`{"title":"x","keys":{"p256dh":"k"},"list":[{"p256dh":"k"}],"meta":{"Any":"case"}}`, ""},
		{`{"Title":"x"}`, "Title"},
		{`{"keys":{"P256DH":"k"}}`, "keys.P256DH"},
		{`{"list":[{"p256dh":"k"},{"P256dh":"k"}]}`, "list.P256dh"},
	} {
		req := httptest.NewRequest("POST", "/", strings.NewReader(c.json))
		req.Header.Set("Content-Type", "application/json")
		var v body
		err := web.DecodeJSON(httptest.NewRecorder(), req, &v)
		e, _ := news.AsError(err)
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: %v", c.json, err)
		case c.field != "" && (e == nil || e.Code != news.CodeInvalid || e.Field != c.field):
			t.Errorf("%s: %v, want invalid_input on %s", c.json, err, c.field)
		}
	}
}
