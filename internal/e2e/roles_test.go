package e2e_test

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/e2e/e2etest"
)

// authDo makes one API request with a bearer token and returns the whole
// answer.
func authDo(t *testing.T, p *e2etest.Proc, method, path, token, body string) rawResp {
	t.Helper()
	req, err := http.NewRequest(method, p.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e2etest.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResp{status: resp.StatusCode, header: resp.Header, body: b}
}

// An editor token (a CMS's) publishes; it cannot create topics nor read,
// test or erase a reader: those answer 403 forbidden and change nothing.
// An admin token can; its reads of a reader are rate-limited per token
// and audited, and after the reader is erased neither the audit log nor
// the daemon's log (at debug level, every request) holds their address.
func TestAPIRolesAndErasedReaderLeavesNoAddress(t *testing.T) {
	e2etest.Parallel(t)
	f := flowSetup(t, nil, "afrique")
	const reader = "lecteur.secret@example.org"
	f.importCSV("readers.csv", []string{reader + ",afrique,daily,fr,confirmed"})
	editor := e2etest.Token(t, f.env, "cms", "editor")
	eraser := e2etest.Token(t, f.env, "gdpr", "admin")
	p := f.start()
	subPath := "/api/v1/subscribers/" + url.PathEscape(reader)

	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/v1/topics", `{"slug":"sport","name":"Sport"}`},
		{"GET", subPath, ""},
		{"DELETE", subPath, ""},
	} {
		if r := authDo(t, p, c.method, c.path, editor, c.body); r.status != 403 || r.errCode() != "forbidden" {
			t.Errorf("%s %s with an editor token: %d %s, want 403 forbidden", c.method, c.path, r.status, r.body)
		}
	}
	if n := e2etest.Count(t, f.env, "SELECT COUNT(*) FROM topics WHERE slug = 'sport'"); n != 0 {
		t.Errorf("an editor token created a topic")
	}
	// The editor token still publishes.
	art := `{"url":"https://journal.example/a","title":"Titre","summary":"","topics":["afrique"],"published_at":"2026-01-02T10:00:00Z"}`
	if r := authDo(t, p, "POST", "/api/v1/articles", editor, art); r.status != 201 {
		t.Errorf("POST /api/v1/articles with an editor token: %d %s", r.status, r.body)
	}

	if r := authDo(t, p, "POST", "/api/v1/topics", f.token, `{"slug":"sport","name":"Sport"}`); r.status != 201 {
		t.Errorf("POST /api/v1/topics with an admin token: %d %s", r.status, r.body)
	}
	if r := authDo(t, p, "GET", subPath, f.token, ""); r.status != 200 || !strings.Contains(string(r.body), `"confirmed"`) {
		t.Fatalf("GET subscriber with an admin token: %d %s", r.status, r.body)
	}
	// A token walking an address list is stopped.
	limited := false
	for i := 0; i < 40 && !limited; i++ {
		r := authDo(t, p, "GET", "/api/v1/subscribers/"+url.PathEscape("inconnu"+strconv.Itoa(i)+"@example.org"), f.token, "")
		switch r.status {
		case 404:
		case 429:
			limited = true
			if r.errCode() != "rate_limited" || r.header.Get("Retry-After") == "" {
				t.Errorf("429 without the contract's code or Retry-After: %s %v", r.body, r.header)
			}
		default:
			t.Fatalf("lookup %d: %d %s", i, r.status, r.body)
		}
	}
	if !limited {
		t.Error("40 reader lookups in a row with one token were never rate-limited")
	}
	// The limit is the token's: another admin token erases.
	if r := authDo(t, p, "DELETE", subPath, eraser, ""); r.status != 204 {
		t.Fatalf("DELETE subscriber with an admin token: %d %s", r.status, r.body)
	}
	if r := authDo(t, p, "GET", subPath, eraser, ""); r.status != 404 {
		t.Errorf("GET an erased subscriber: %d", r.status)
	}

	rows := e2etest.Column(t, f.env, "SELECT actor || ' ' || action || ' ' || target || ' ' || detail FROM audit_log")
	var reads, erases int
	for _, row := range rows {
		if strings.Contains(strings.ToLower(row), "lecteur.secret") {
			t.Errorf("the audit log holds the erased reader's address: %q", row)
		}
		reads += strings.Count(row, "subscriber.read ")
		erases += strings.Count(row, "token:gdpr subscriber.erase ")
	}
	if reads < 2 || erases != 1 {
		t.Errorf("audit log: %d reads and %d erases recorded, want the reads and one erase:\n%s", reads, erases, strings.Join(rows, "\n"))
	}
	logs := p.Logs()
	if !strings.Contains(logs, "/api/v1/subscribers/") {
		t.Fatalf("the request log does not show the reader routes at all; the check below would prove nothing:\n%s", e2etest.Tail(logs, 20))
	}
	for line := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(strings.ToLower(line), "lecteur.secret") || strings.Contains(line, "inconnu0") {
			t.Errorf("a log line holds a reader's address: %s", line)
		}
	}
}
