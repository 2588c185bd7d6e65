package api_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/web/webtest"
)

// TestArticleText checks that titles, summaries and authors from the CMS
// API are stored as the plain text feed items become: what WordPress's REST
// API sends (HTML, entities) is cleaned, plain text is kept as written.
func TestArticleText(t *testing.T) {
	t.Parallel()
	e := webtest.New(t)
	tests := []struct {
		name                           string
		title, summary, author         string
		wantTitle, wantSummary, wantBy string
	}{
		{"wordpress", "L&apos;État &amp; moi", "<p>Le <strong>gouvernement</strong> a présenté&nbsp;son budget&hellip;</p>\n", "Marie &amp; Paul",
			"L'État & moi", "Le gouvernement a présenté\u00a0son budget…", "Marie & Paul"},
		{"plain text", "Tom & Jerry <3", "5 < 6 & 7 > 6,  AT&T et x<y", "Jean <jean@journal.example>",
			"Tom & Jerry <3", "5 < 6 & 7 > 6, AT&T et x<y", "Jean <jean@journal.example>"},
		{"paragraphs", "  Un\ttitre\n", "<p>Un.</p><p>Deux.</p><script>track()</script>", "",
			"Un titre", "Un. Deux.", ""},
	}
	for i, tt := range tests {
		body, _ := json.Marshal(map[string]any{"url": "https://journal.example/a" + strconv.Itoa(i), "title": tt.title, "summary": tt.summary,
			"author": tt.author, "topics": []string{"politique"}, "published_at": "2026-11-29T06:30:00Z"})
		rec := e.Editor("POST", "/api/v1/articles", string(body))
		if rec.Code != 201 {
			t.Fatalf("%s: %d %s", tt.name, rec.Code, rec.Body.String())
		}
		var out struct{ ID string }
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		id, _ := strconv.ParseInt(out.ID, 10, 64)
		a, err := e.Store.Article(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Title != tt.wantTitle || a.Summary != tt.wantSummary || a.Author != tt.wantBy {
			t.Errorf("%s: stored title %q, summary %q, author %q; want %q, %q, %q", tt.name, a.Title, a.Summary, a.Author, tt.wantTitle, tt.wantSummary, tt.wantBy)
		}
	}
}

func TestArticleTextValidation(t *testing.T) {
	t.Parallel()
	e := webtest.New(t)
	post := func(title, summary string) (int, string) {
		body, _ := json.Marshal(map[string]any{"url": "https://journal.example/v", "title": title, "summary": summary,
			"topics": []string{"politique"}, "published_at": "2026-11-29T06:30:00Z"})
		rec := e.Editor("POST", "/api/v1/articles", string(body))
		return rec.Code, rec.Body.String()
	}
	// Nothing readable is no title.
	if code, body := post("<p> &nbsp;</p>", ""); code != 400 || !strings.Contains(body, `"title"`) {
		t.Errorf("markup-only title: %d %s", code, body)
	}
	// Limits count the text kept: 500 characters of title in more bytes of
	// markup and accents pass, 501 do not.
	long := strings.Repeat("é", 500)
	if code, body := post("<strong>"+long+"</strong>", strings.Repeat("<b>é</b>", 4000)); code != 201 {
		t.Errorf("500 characters in markup: %d %s", code, body)
	}
	if code, body := post(long+"e", ""); code != 400 || !strings.Contains(body, `"title"`) {
		t.Errorf("501 characters: %d %s", code, body)
	}
}

// TestBearerSchemeCase: the Authorization scheme is case-insensitive (RFC
// 7235 2.1), so "bearer" and "BEARER" work as "Bearer" does.
func TestBearerSchemeCase(t *testing.T) {
	t.Parallel()
	e := webtest.New(t)
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		req := httptest.NewRequest("GET", "/api/v1/digests/runs/999999", nil)
		req.Header.Set("Authorization", scheme+" "+e.Token)
		rec := httptest.NewRecorder()
		e.Handler.ServeHTTP(rec, req)
		if rec.Code != 404 {
			t.Errorf("%s: %d, want 404 (authenticated, no such run)", scheme, rec.Code)
		}
	}
	req := httptest.NewRequest("GET", "/api/v1/digests/runs/999999", nil)
	req.Header.Set("Authorization", "Basic "+e.Token)
	rec := httptest.NewRecorder()
	e.Handler.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Errorf("Basic: %d, want 401", rec.Code)
	}
}
