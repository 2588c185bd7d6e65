package e2e_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
)

// TestRequestLogHidesAddressesAndTokens: the debug request log never holds
// a reader's address or a link token, whatever shape the path takes.
// Before, a non-canonical path (a doubled slash, a dot segment, a base
// path in front) was logged raw.
func TestRequestLogHidesAddressesAndTokens(t *testing.T) {
	e2etest.Parallel(t)
	f := flowSetup(t, map[string]string{"CRIEUR_LOG_LEVEL": "debug", "CRIEUR_BASE_URL": "http://localhost:8080/newsletter"})
	p := f.start()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	paths := []string{
		"//api/v1/subscribers/alice@example.com",
		"/api/v1//subscribers/alice@example.com",
		"/api/v1/./subscribers/alice@example.com",
		"/./unsubscribe/SECRETLINKTOKEN1",
		"//preferences/SECRETLINKTOKEN2",
		"/x/../confirm/SECRETLINKTOKEN3",
		"/newsletter//api/v1/subscribers/alice@example.com",
		"/newsletter/api/v1/subscribers/alice@example.com",
		"/newsletter//unsubscribe/SECRETLINKTOKEN4",
		"/api/v1/subscriber/alice@example.com",
	}
	for _, path := range paths {
		req, err := http.NewRequest("GET", p.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+f.token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
	}
	// The last request's line proves the log was written.
	e2etest.WaitFor(t, 5*time.Second, "request log lines", func() bool {
		return strings.Count(p.Logs(), "msg=request") >= len(paths)
	})
	logs := p.Logs()
	for _, secret := range []string{"alice", "example.com", "SECRETLINKTOKEN"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the request log holds %q:\n%s", secret, e2etest.Tail(logs, 3000))
		}
	}
}

// TestRequestLogCutsUnroutedPaths: a path no route matches keeps only its
// first segment in the request log, a backslash counts as a slash and
// /r/ is a token prefix. Before, /preferences\TOKEN, /r/TOKEN and
// /foo/TOKEN were logged whole.
func TestRequestLogCutsUnroutedPaths(t *testing.T) {
	e2etest.Parallel(t)
	f := flowSetup(t, map[string]string{"CRIEUR_LOG_LEVEL": "debug"})
	p := f.start()
	paths := []string{"/preferences%5CSECRETLINKTOKEN5", `/unsubscribe\SECRETLINKTOKEN6`, "/r/SECRETLINKTOKEN7", "/foo/SECRETLINKTOKEN8", "/admin/nothing/SECRETLINKTOKEN9"}
	for _, path := range paths {
		resp, err := e2etest.HTTPClient().Get(p.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
	}
	e2etest.WaitFor(t, 5*time.Second, "request log lines", func() bool {
		return strings.Count(p.Logs(), "msg=request") >= len(paths)
	})
	logs := p.Logs()
	if strings.Contains(logs, "SECRETLINKTOKEN") {
		t.Errorf("the request log holds a token:\n%s", e2etest.Tail(logs, 3000))
	}
	if !strings.Contains(logs, "path=/foo/…") {
		t.Errorf("the request log does not show the unrouted path's first segment:\n%s", e2etest.Tail(logs, 3000))
	}
}
