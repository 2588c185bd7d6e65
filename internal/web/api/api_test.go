package api_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/web/webtest"
)

func TestArticlePublishedAtRequired(t *testing.T) {
	t.Parallel()
	e := webtest.New(t)
	const fields = `"url":"https://journal.example/budget","title":"Le budget adopté","summary":"…","topics":["politique"]`
	for name, body := range map[string]string{
		"missing": `{` + fields + `}`,
		"null":    `{` + fields + `,"published_at":null}`,
		"empty":   `{` + fields + `,"published_at":""}`,
	} {
		rec := e.Editor("POST", "/api/v1/articles", body)
		got := mustAPIError(t, rec, 400, "invalid_input")
		if got.Error.Field != "published_at" || !strings.Contains(got.Error.Message, "published_at") {
			t.Errorf("%s: %s, want the error to name published_at", name, rec.Body.String())
		}
	}
	rec := e.Editor("POST", "/api/v1/articles", `{`+fields+`,"published_at":"hier"}`)
	if got := mustAPIError(t, rec, 400, "invalid_input"); got.Error.Field != "published_at" {
		t.Errorf("bad time: %s", rec.Body.String())
	}

	// Nothing was stored: the article with its date is new.
	body := `{` + fields + `,"published_at":"2026-11-29T06:30:00Z"}`
	if rec := e.Editor("POST", "/api/v1/articles", body); rec.Code != 201 {
		t.Fatalf("with published_at: %d %s, want 201", rec.Code, rec.Body.String())
	}
	if rec := e.Editor("POST", "/api/v1/articles", body); rec.Code != 200 {
		t.Errorf("again: %d %s, want 200", rec.Code, rec.Body.String())
	}
}

// TestJSONTypeErrors checks that a value of the wrong JSON type is named
// in JSON's words, never Go's.
func TestJSONTypeErrors(t *testing.T) {
	t.Parallel()
	e := webtest.New(t)
	cases := []struct {
		name, path, body string
		field, message   string
	}{
		{"article array", "/api/v1/articles", `[]`, "", "The body must be a JSON object."},
		{"article string", "/api/v1/articles", `"x"`, "", "The body must be a JSON object."},
		{"article topics", "/api/v1/articles", `{"url":"https://a.example","topics":"politique"}`, "topics", `Field "topics" must be an array of strings.`},
		{"subscription array", "/api/v1/subscriptions", `[{"email":"a@example.com"}]`, "", "The body must be a JSON object."},
		{"topics not an array", "/api/v1/subscriptions", `{"email":"a@example.com","topics":"politique"}`, "topics", `Field "topics" must be an array of strings.`},
		{"topic not a string", "/api/v1/subscriptions", `{"email":"a@example.com","topics":[1]}`, "topics", `Field "topics" must be an array of strings.`},
		{"alerts", "/api/v1/subscriptions", `{"email":"a@example.com","alerts":"yes"}`, "alerts", `Field "alerts" must be true or false.`},
		{"push subscription", "/api/v1/push/subscriptions", `{"subscription":[]}`, "subscription", `Field "subscription" must be a JSON object.`},
		{"push nested", "/api/v1/push/subscriptions", `{"subscription":{"keys":{"auth":1}}}`, "subscription.keys.auth", `Field "subscription.keys.auth" must be a string.`},
		{"push expiration", "/api/v1/push/subscriptions", `{"subscription":{"expirationTime":-1}}`, "subscription.expirationTime", `Field "subscription.expirationTime" must be a whole number, 0 or more.`},
		{"push delete", "/api/v1/push/subscriptions", `{"endpoint":["https://push.example/1"]}`, "endpoint", `Field "endpoint" must be a string.`},
		{"alert ttl", "/api/v1/alerts", `{"title":"x","ttl_seconds":"60"}`, "ttl_seconds", `Field "ttl_seconds" must be a whole number.`},
	}
	for _, c := range cases {
		method := "POST"
		if c.name == "push delete" {
			method = "DELETE"
		}
		rec := e.Editor(method, c.path, c.body)
		got := mustAPIError(t, rec, 400, "invalid_input")
		if got.Error.Message != c.message || got.Error.Field != c.field {
			t.Errorf("%s: field %q message %q, want field %q message %q", c.name, got.Error.Field, got.Error.Message, c.field, c.message)
		}
		sentence := strings.ReplaceAll(got.Error.Message, strconv.Quote(c.field), "")
		for _, goTalk := range []string{"web.", "[]", "struct", "int", "uint", "bool"} {
			if strings.Contains(sentence, goTalk) {
				t.Errorf("%s: message %q speaks Go (%q)", c.name, got.Error.Message, goTalk)
			}
		}
	}
}
