package apicheck_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/web/api"
	"github.com/crieur/crieur/internal/web/apicheck"
)

// TestCheckRules holds each rule of the checker to an exchange that keeps
// it and one that breaks it, on crieur's own document.
func TestCheckRules(t *testing.T) {
	t.Parallel()
	chk, err := apicheck.Load(api.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	jsonH := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	const topicBody = `{"slug":"afrique","name":"Afrique"}`
	const errBody = `{"error":{"code":"unknown_topic","message":"Unknown topic.","field":"topics"}}`
	for _, c := range []struct {
		name, method, path, auth, reqBody string
		status                            int
		body                              string
		wantErr                           string
	}{
		{"described answer", "POST", "/api/v1/topics", "Bearer t", topicBody, 201, topicBody, ""},
		{"answer with an undescribed field", "POST", "/api/v1/topics", "Bearer t", topicBody, 201, `{"slug":"a","name":"A","x":1}`, "does not describe"},
		{"undescribed status", "POST", "/api/v1/topics", "Bearer t", topicBody, 202, topicBody, "does not describe"},
		{"error shape", "POST", "/api/v1/subscriptions", "", `{"email":"a@example.com","topics":["x"]}`, 400, errBody, ""},
		{"error without its message", "POST", "/api/v1/subscriptions", "", `{"email":"a@example.com"}`, 400, `{"error":{"code":"x"}}`, "does not describe"},
		{"request the document refuses, refused", "POST", "/api/v1/subscriptions", "", `{"email":"a@example.com","frequency":"hourly"}`, 400, errBody, ""},
		{"request the document refuses, accepted", "POST", "/api/v1/subscriptions", "", `{"email":"a@example.com","frequency":"hourly"}`, 202, `{"status":"pending"}`, "refuses this request"},
		{"no bearer token, accepted", "POST", "/api/v1/articles", "", `{}`, 201, `{"id":"1"}`, "refuses this request"},
		{"no bearer token, refused", "POST", "/api/v1/articles", "", `{}`, 401, `{"error":{"code":"unauthorized","message":"Send a token."}}`, ""},
		{"undescribed route answered", "GET", "/api/v1/secret", "", "", 200, `{}`, "not in the OpenAPI document"},
		{"undescribed route refused", "GET", "/api/v1/secret", "", "", 404, `{"error":{"code":"not_found","message":"No such API route."}}`, ""},
		{"undescribed route refused as text", "PUT", "/api/v1/topics", "", "", 405, "Method Not Allowed\n", "without a JSON error body"},
		{"outside /api/v1", "GET", "/subscribe", "", "", 200, "<html>", ""},
		{"preflight", "OPTIONS", "/api/v1/topics", "", "", 204, "", ""},
	} {
		req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.reqBody))
		if c.reqBody != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		err := chk.Check(apicheck.Exchange{Request: req, RequestBody: []byte(c.reqBody), Status: c.status, Header: jsonH, Body: []byte(c.body)})
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: got %v, want an error saying %q", c.name, err, c.wantErr)
		}
	}
}
