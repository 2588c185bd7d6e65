package admin_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	stdhtml "html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/crieur/crieur/internal/desk"
	"github.com/crieur/crieur/internal/digest"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/web/admin"
)

// adminRouteTable is every admin route and the role it needs ("" public).
// A route registered in admin.go without a line here fails
// TestAdminRouteTable.
var adminRouteTable = map[string]news.Role{
	"GET /admin/login":         "",
	"POST /admin/login":        "",
	"GET /admin/static/{name}": "",
	" /admin/":                 "",
	"POST /admin/logout":       news.RoleEditor,

	"GET /admin":          news.RoleEditor,
	"GET /admin/{$}":      news.RoleEditor,
	"GET /admin/articles": news.RoleEditor,
	"GET /admin/audience": news.RoleEditor,
	"GET /admin/reading":  news.RoleEditor,

	"GET /admin/alerts":               news.RoleEditor,
	"GET /admin/alerts/new":           news.RoleEditor,
	"POST /admin/alerts/new":          news.RoleEditor,
	"POST /admin/alerts/confirm":      news.RoleEditor,
	"POST /admin/alerts":              news.RoleEditor,
	"GET /admin/alerts/{id}":          news.RoleEditor,
	"GET /admin/alerts/{id}/status":   news.RoleEditor,
	"POST /admin/alerts/{id}/cancel":  news.RoleEditor,
	"POST /admin/alerts/{id}/approve": news.RoleEditor,
	"GET /admin/auto-alerts":          news.RoleAdmin,
	"POST /admin/auto-alerts":         news.RoleAdmin,

	"GET /admin/digests":                  news.RoleEditor,
	"GET /admin/digests/preview":          news.RoleEditor,
	"GET /admin/digests/preview/html":     news.RoleEditor,
	"POST /admin/digests/preview/send":    news.RoleEditor,
	"POST /admin/digests/{frequency}/run": news.RoleEditor,
	"GET /admin/digests/runs/{id}":        news.RoleEditor,

	"GET /admin/readers":              news.RoleAdmin,
	"GET /admin/readers/export.csv":   news.RoleAdmin,
	"POST /admin/readers/import":      news.RoleAdmin,
	"GET /admin/readers/{id}":         news.RoleAdmin,
	"GET /admin/readers/{id}/export":  news.RoleAdmin,
	"GET /admin/readers/{id}/erase":   news.RoleAdmin,
	"POST /admin/readers/{id}/erase":  news.RoleAdmin,
	"POST /admin/readers/{id}/revoke": news.RoleAdmin,
	"GET /admin/suppressions":         news.RoleAdmin,
	"GET /admin/health":               news.RoleEditor,
	"GET /admin/health/parked/{id}":   news.RoleAdmin,
	"GET /admin/topics":               news.RoleAdmin,
	"POST /admin/topics":              news.RoleAdmin,
	"GET /admin/feeds":                news.RoleAdmin,
	"POST /admin/feeds":               news.RoleAdmin,
	"POST /admin/feeds/remove":        news.RoleAdmin,
	"POST /admin/feeds/poll":          news.RoleAdmin,
	"GET /admin/tokens":               news.RoleAdmin,
	"POST /admin/tokens":              news.RoleAdmin,
	"POST /admin/tokens/{id}/revoke":  news.RoleAdmin,
	"GET /admin/users":                news.RoleAdmin,
	"POST /admin/users":               news.RoleAdmin,
	"POST /admin/users/{id}/role":     news.RoleAdmin,
	"POST /admin/users/{id}/disable":  news.RoleAdmin,
	"GET /admin/audit":                news.RoleAdmin,

	// Webhooks and the welcome email.
	"GET /admin/webhooks":              news.RoleAdmin,
	"POST /admin/webhooks":             news.RoleAdmin,
	"GET /admin/webhooks/{id}":         news.RoleAdmin,
	"POST /admin/webhooks/{id}/test":   news.RoleAdmin,
	"POST /admin/webhooks/{id}/enable": news.RoleAdmin,
	"POST /admin/webhooks/{id}/delete": news.RoleAdmin,
	"GET /admin/welcome":               news.RoleAdmin,
	"POST /admin/welcome":              news.RoleAdmin,
	"GET /admin/welcome/preview/html":  news.RoleAdmin,
}

func TestAdminRouteTable(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t)
	routes := admin.Routes()
	seen := map[string]bool{}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Pattern
		seen[key] = true
		want, ok := adminRouteTable[key]
		if !ok {
			t.Errorf("route %q is registered but not in adminRouteTable: say which role it needs", key)
			continue
		}
		if rt.Role != want {
			t.Errorf("route %q needs role %q, table says %q", key, rt.Role, want)
		}
	}
	for key := range adminRouteTable {
		if !seen[key] {
			t.Errorf("adminRouteTable lists %q, which is not registered", key)
		}
	}

	for _, rt := range routes {
		key := rt.Method + " " + rt.Pattern
		path := concretePath(rt.Pattern)
		if rt.Role == "" {
			continue
		}
		t.Run(key, func(t *testing.T) {
			var form url.Values
			if rt.Method == "POST" {
				form = url.Values{}
			}
			// Anonymous: a GET goes to the login page, anything else is refused.
			resp, _ := e.do(t, rt.Method, path, "", form)
			checkAdminHeaders(t, key, resp)
			if rt.Method == "GET" {
				if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/login?next=") {
					t.Errorf("anonymous: %d Location %q, want 303 to the login page", resp.StatusCode, resp.Header.Get("Location"))
				}
			} else if resp.StatusCode != http.StatusForbidden {
				t.Errorf("anonymous POST: %d, want 403", resp.StatusCode)
			}
			// An editor on an admin route is refused.
			if rt.Role == news.RoleAdmin {
				sid, csrf := e.session(t, e.editor)
				if form != nil {
					form = url.Values{"csrf": {csrf}}
				}
				if resp, _ := e.do(t, rt.Method, path, sid, form); resp.StatusCode != http.StatusForbidden {
					t.Errorf("editor on an admin route: %d, want 403", resp.StatusCode)
				}
			}
			// The right role gets through.
			user := e.editor
			if rt.Role == news.RoleAdmin {
				user = e.admin
			}
			sid, csrf := e.session(t, user)
			if rt.Method == "POST" {
				for _, bad := range []url.Values{{}, {"csrf": {"wrong"}}} {
					if resp, _ := e.do(t, "POST", path, sid, bad); resp.StatusCode != http.StatusForbidden {
						t.Errorf("POST with csrf %q: %d, want 403", bad.Get("csrf"), resp.StatusCode)
					}
				}
				form = url.Values{"csrf": {csrf}}
			}
			resp, body := e.do(t, rt.Method, path, sid, form)
			if resp.StatusCode == 401 || resp.StatusCode == 403 || resp.StatusCode >= 500 {
				t.Errorf("role %s: %d\n%.500s", rt.Role, resp.StatusCode, body)
			}
			checkAdminHeaders(t, key, resp)
		})
	}

	// Public routes.
	if resp, body := e.do(t, "GET", "/admin/login", "", nil); resp.StatusCode != 200 || !strings.Contains(body, `name="csrf"`) {
		t.Errorf("login page: %d", resp.StatusCode)
	}
	if resp, _ := e.do(t, "POST", "/admin/login", "", url.Values{"email": {"admin@journal.example"}, "password": {"correct horse"}}); resp.StatusCode != 403 {
		t.Errorf("login without CSRF token: %d, want 403", resp.StatusCode)
	}
	if resp, _ := e.do(t, "GET", "/admin/static/admin.js", "", nil); resp.StatusCode != 200 {
		t.Errorf("static: %d", resp.StatusCode)
	}
	if resp, _ := e.do(t, "GET", "/admin/nope", "", nil); resp.StatusCode != 404 {
		t.Errorf("unknown admin path: %d, want 404", resp.StatusCode)
	}
}

func TestAdminLoginLogout(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t)
	b := e.browser(t, "fr")
	_, page := b.get("/admin/login")
	resp, body := b.post(page, "/admin/login", url.Values{"email": {"editor@journal.example"}, "password": {"wrong"}})
	if resp.StatusCode != 401 || !strings.Contains(body, "Adresse ou mot de passe incorrect") {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	// The session cookie is HttpOnly, SameSite=Strict, and only its hash is stored.
	_, page = b.get("/admin/login")
	m := csrfRE.FindStringSubmatch(page)
	c := &http.Client{Jar: b.c.Jar, Transport: e.srv.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(e.srv.URL+"/admin/login", url.Values{"csrf": {m[1]}, "email": {"Editor@journal.example"}, "password": {"correct horse"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var sess *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "crieur_admin" {
			sess = ck
		}
	}
	if resp.StatusCode != 303 || sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || !sess.Secure || sess.MaxAge != 12*3600 {
		t.Fatalf("login: %d, cookie %+v", resp.StatusCode, sess)
	}
	sum := sha256.Sum256([]byte(sess.Value))
	if _, err := e.st.SessionByHash(context.Background(), hex.EncodeToString(sum[:]), time.Now()); err != nil {
		t.Fatalf("session not stored by hash: %v", err)
	}
	if _, err := e.st.SessionByHash(context.Background(), sess.Value, time.Now()); err == nil {
		t.Fatal("the raw session id is stored")
	}
	_, dash := b.get("/admin")
	if !strings.Contains(dash, "editor@journal.example") || strings.Contains(dash, `href="/admin/users"`) {
		t.Fatal("an editor's nav must not show admin-only entries")
	}
	resp, _ = b.post(dash, "/admin/logout", url.Values{})
	if resp.Request.URL.Path != "/admin/login" {
		t.Fatalf("logout went to %s", resp.Request.URL)
	}
	if _, err := e.st.SessionByHash(context.Background(), hex.EncodeToString(sum[:]), time.Now()); err == nil {
		t.Fatal("session survives logout")
	}
}

func TestAdminLoginRateLimited(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t)
	b := e.browser(t, "en")
	_, page := b.get("/admin/login")
	var last *http.Response
	var body string
	for i := 0; i < 8; i++ {
		last, body = b.post(page, "/admin/login", url.Values{"email": {"admin@journal.example"}, "password": {"guess"}})
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" || !strings.Contains(body, "Too many login attempts") {
		t.Fatalf("after 8 attempts: %d Retry-After %q", last.StatusCode, last.Header.Get("Retry-After"))
	}
}

func TestAdminEscapesAndDashboard(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t)
	ctx := context.Background()
	if _, _, err := e.st.SaveArticle(ctx, news.Article{URL: "https://journal.example/a", Title: adminXSS, Topics: []string{"politique"},
		PublishedAt: time.Now(), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t, "en")
	dash := b.login("admin@journal.example")
	if strings.Contains(dash, adminXSS) || !strings.Contains(dash, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatal("an article title is not escaped on the dashboard")
	}
	for _, want := range []string{"Dashboard", "Readers", "Latest alerts", "Feed health", `href="/admin/users"`} {
		if !strings.Contains(dash, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	for _, p := range []string{"/admin/articles", "/admin/topics", "/admin/alerts/new"} {
		if _, body := b.get(p); strings.Contains(body, adminXSS) {
			t.Errorf("%s: unescaped script", p)
		}
	}
}

func TestAdminAlertFlow(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t)
	b := e.browser(t, "fr")
	b.login("editor@journal.example")
	_, page := b.get("/admin/alerts/new")
	form := url.Values{"title": {"Séisme " + adminXSS}, "body": {"Un séisme a frappé."}, "url": {"https://journal.example/seisme"},
		"topics": {"afrique"}, "urgency": {"high"}, "ttl": {"3600"}}
	// Preview (no JS): the composer comes back with the mock filled in.
	resp, body := b.post(page, "/admin/alerts/new", form)
	if resp.StatusCode != 200 || !strings.Contains(body, "journal.example") || strings.Contains(body, adminXSS) {
		t.Fatalf("preview: %d", resp.StatusCode)
	}
	if !strings.Contains(body, "0\u202fnavigateurs") && !strings.Contains(body, "0 navigateurs") {
		t.Errorf("preview lacks the audience")
	}
	// A bad link comes back on the form, nothing sent.
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("url", "javascript:alert(1)")
	if resp, body := b.post(page, "/admin/alerts/confirm", bad); resp.StatusCode != 400 || !strings.Contains(body, `href="#f-url"`) {
		t.Fatalf("bad url: %d", resp.StatusCode)
	}
	// Confirm, then send; sending the same confirmation twice sends once.
	resp, confirm := b.post(page, "/admin/alerts/confirm", form)
	if resp.StatusCode != 200 || !strings.Contains(confirm, "Confirmer") || !strings.Contains(confirm, `name="nonce"`) {
		t.Fatalf("confirm: %d\n%.1000s", resp.StatusCode, confirm)
	}
	send := url.Values{"confirmed": {"1"}, "nonce": {regexp.MustCompile(`name="nonce" value="([^"]+)"`).FindStringSubmatch(confirm)[1]}}
	for k, v := range form {
		send[k] = v
	}
	resp, progress := b.post(confirm, "/admin/alerts", send)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Request.URL.Path, "/admin/alerts/") {
		t.Fatalf("send: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	first := resp.Request.URL.Path
	resp2, _ := b.post(confirm, "/admin/alerts", send)
	if resp2.Request.URL.Path != first {
		t.Fatalf("double submit sent a second alert: %s then %s", first, resp2.Request.URL.Path)
	}
	if !strings.Contains(progress, `data-status="`+first+`/status"`) || !strings.Contains(progress, "Envoyer une mise à jour") {
		t.Fatal("progress page lacks its status endpoint or update button")
	}
	r, st := b.get(first + "/status")
	var s map[string]any
	if err := json.Unmarshal([]byte(st), &s); err != nil || r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("status: %v %s", err, st)
	}
	if _, ok := s["delivered"]; !ok || s["state"] == "" {
		t.Fatalf("status JSON: %s", st)
	}
	// "Send an update" prefills the composer with replaces.
	id := strings.TrimPrefix(first, "/admin/alerts/")
	if _, upd := b.get("/admin/alerts/new?replaces=" + id); !strings.Contains(upd, `name="replaces" inputmode="numeric" pattern="#?[0-9]*" value="`+id+`"`) {
		t.Fatal("update composer not prefilled")
	}
	// Cancel.
	resp, _ = b.post(progress, first+"/cancel", url.Values{})
	if resp.StatusCode != 200 {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	log, _ := e.st.AuditLog(context.Background(), 20)
	var actions []string
	for _, a := range log {
		actions = append(actions, a.Actor+" "+a.Action)
	}
	if j := strings.Join(actions, ","); !strings.Contains(j, "user:editor@journal.example alert.send") || !strings.Contains(j, "user:editor@journal.example alert.cancel") {
		t.Fatalf("audit log: %s", j)
	}
}

func TestAdminDigestPreview(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t)
	ctx := context.Background()
	if _, _, err := e.st.SaveArticle(ctx, news.Article{URL: "https://journal.example/b", Title: "Élections au Sénégal", Topics: []string{"afrique"},
		PublishedAt: time.Now().Add(-time.Hour), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t, "en")
	b.login("editor@journal.example")
	resp, body := b.get("/admin/digests/preview?topics=afrique&lang=en&frequency=daily")
	if resp.StatusCode != 200 || !strings.Contains(body, `id="preview-subject"`) || !strings.Contains(body, "Élections au Sénégal") {
		t.Fatalf("preview: %d\n%.2000s", resp.StatusCode, body)
	}
	resp, html := b.get("/admin/digests/preview/html?topics=afrique&lang=en&frequency=daily")
	if resp.StatusCode != 200 || !strings.Contains(html, "Élections au Sénégal") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("preview html: %d %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	if _, body := b.get("/admin/digests/preview?topics=politique&lang=en&frequency=daily"); !strings.Contains(body, `id="preview-empty"`) {
		t.Fatal("an empty preview must say so")
	}
	resp, _ = b.post(body, "/admin/digests/preview/send", url.Values{"topics": {"afrique"}, "lang": {"en"}, "frequency": {"daily"}})
	if resp.StatusCode != 200 || !strings.Contains(resp.Request.URL.RawQuery, "done=preview_sent") {
		t.Fatalf("send preview: %d %s", resp.StatusCode, resp.Request.URL)
	}
	n, _ := e.st.PendingEmails(ctx)
	if n != 1 {
		t.Fatalf("pending emails after a preview: %d", n)
	}
}

// frameSrcRE finds the preview frame's URL on the preview page.
var frameSrcRE = regexp.MustCompile(`<iframe class="email-frame"[^>]* src="([^"]+)"`)

// frameOf returns the HTML the preview page's frame shows.
func (b *adminBrowser) frameOf(page string) string {
	b.tb.Helper()
	m := frameSrcRE.FindStringSubmatch(page)
	if m == nil {
		b.tb.Fatalf("no preview frame on the page:\n%.3000s", page)
	}
	src := stdhtml.UnescapeString(m[1])
	u, err := url.Parse(src)
	if err != nil || u.Path != "/admin/digests/preview/html" {
		b.tb.Fatalf("frame src %q: %v", src, err)
	}
	resp, body := b.get(src)
	if resp.StatusCode != 200 {
		b.tb.Fatalf("frame %s: %d", src, resp.StatusCode)
	}
	return body
}

// The preview frame carries the chosen sample or reader: its query is
// the page's, not the page's query escaped into one parameter name.
func TestAdminDigestPreviewFrameCarriesQuery(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t)
	ctx := context.Background()
	now := time.Now()
	for _, a := range []news.Article{
		{URL: "https://journal.example/dakar", Title: "Élections au Sénégal", Topics: []string{"afrique"}, PublishedAt: now.Add(-72 * time.Hour)},
		{URL: "https://journal.example/senat", Title: "Réforme au Sénat", Topics: []string{"politique"}, PublishedAt: now.Add(-time.Hour)},
	} {
		a.CreatedAt = now
		if _, _, err := e.st.SaveArticle(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.subs.Import(ctx, strings.NewReader("email,topics,frequency,lang,status\nen-weekly@x.example,afrique,weekly,en,confirmed\n")); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t, "fr")
	b.login("admin@journal.example") // previewing a reader by address is for admins
	for _, q := range []string{"topics=afrique&lang=en&frequency=weekly", "email=en-weekly@x.example"} {
		_, page := b.get("/admin/digests/preview?" + q)
		// The sample's language is not the desk's: the page stays French.
		if !strings.Contains(page, `<html lang="fr">`) {
			t.Errorf("%s: previewing an English sample switched the desk's language", q)
		}
		frame := b.frameOf(page)
		// English, weekly, Afrique only: the Sénégal story (three days
		// old, so only in a weekly digest) and not the Sénat one.
		if !strings.Contains(frame, "Your weekly digest") || !strings.Contains(frame, "Élections au Sénégal") || strings.Contains(frame, "Réforme au Sénat") {
			t.Errorf("%s: the frame is not the English weekly Afrique digest:\n%.3000s", q, frame)
		}
	}
}

// A reader's preview is what the next run would send them: from their
// digest cursor on; when that is nothing, the page says so and labels
// the recent articles it shows as a sample.
func TestAdminDigestPreviewFollowsReaderCursor(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t)
	ctx := context.Background()
	save := func(title string) {
		t.Helper()
		if _, _, err := e.st.SaveArticle(ctx, news.Article{URL: "https://journal.example/" + url.PathEscape(title), Title: title,
			Topics: []string{"afrique"}, PublishedAt: time.Now().Add(-time.Hour), CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	save("Élections au Sénégal")
	save("Sommet à Addis-Abeba")
	csv := "email,topics,frequency,lang,status\nfr-daily@x.example,afrique,daily,fr,confirmed\npending@x.example,afrique,daily,fr,pending\n"
	if _, err := e.subs.Import(ctx, strings.NewReader(csv)); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t, "en")
	b.login("admin@journal.example") // previewing a reader by address is for admins
	const reader = "/admin/digests/preview?email=fr-daily@x.example"

	// Never sent a digest: the articles of the last day.
	_, page := b.get(reader)
	if strings.Contains(page, `id="preview-empty"`) || strings.Contains(page, `id="preview-sample"`) || !strings.Contains(page, "<dd>2</dd>") {
		t.Fatalf("before any run:\n%.3000s", page)
	}

	// A run covers both: the next digest would be empty, and skipped.
	runner := digest.NewRunner(e.st, slog.New(slog.DiscardHandler), nil, nil)
	if _, err := runner.RunNow(ctx, news.Daily, "test"); err != nil {
		t.Fatal(err)
	}
	if err := runner.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	_, page = b.get(reader)
	if !strings.Contains(page, `id="preview-empty"`) || !strings.Contains(page, "Their next digest would be empty") {
		t.Fatalf("after a run, the page must say the next digest is empty:\n%.3000s", page)
	}
	if !strings.Contains(page, `id="preview-sample"`) || !strings.Contains(page, "This is not what this reader will receive") {
		t.Fatalf("the recent articles shown must be labelled a sample:\n%.3000s", page)
	}
	// The frame shows the same labelled sample, in the reader's language.
	if frame := b.frameOf(page); !strings.Contains(frame, "Élections au Sénégal") {
		t.Fatalf("sample frame:\n%.2000s", frame)
	}

	// One new article: that is all the next digest holds.
	save("Pluies au Sahel")
	_, page = b.get(reader)
	if strings.Contains(page, `id="preview-empty"`) || strings.Contains(page, `id="preview-sample"`) || !strings.Contains(page, "<dd>1</dd>") {
		t.Fatalf("after a new article:\n%.3000s", page)
	}
	if frame := b.frameOf(page); !strings.Contains(frame, "Pluies au Sahel") || strings.Contains(frame, "Élections au Sénégal") {
		t.Fatalf("the frame must hold only the new article:\n%.3000s", frame)
	}

	// A reader the run passes by gets nothing, and the page says why.
	if _, page = b.get("/admin/digests/preview?email=pending@x.example"); !strings.Contains(page, "This reader gets no digest at the moment") {
		t.Fatalf("pending reader:\n%.3000s", page)
	}
}

// The import report speaks the page's language, reasons included.
func TestAdminImportReasonsLocalized(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t)
	csv := "email,topics,frequency,lang,status\n" +
		"not-an-email,afrique,daily,fr,confirmed\n" +
		"a@x.example,nope,daily,fr,confirmed\n" +
		"b@x.example,afrique,hourly,fr,confirmed\n" +
		"c@x.example,afrique,daily,de,confirmed\n" +
		"d@x.example,afrique,daily,fr,maybe\n" +
		"e@x.example,afrique,daily,fr,confirmed\n" +
		"E@x.example,afrique,daily,fr,confirmed\n" +
		"f@x\"example,afrique,daily,fr,confirmed\n"
	for _, tc := range []struct {
		lang       string
		want, omit []string
	}{
		{"fr", []string{"Adresse email invalide", "Rubrique inconnue : &#34;nope&#34;", "Fréquence invalide", "Langue invalide",
			"Statut invalide", "Adresse déjà présente plus haut", "Ligne CSV mal formée ("},
			[]string{"invalid email address", "unknown topic", "must be", "duplicate address", "malformed CSV"}},
		{"en", []string{"Invalid email address", "Unknown topic: &#34;nope&#34;", "Frequency must be daily or weekly", "Language must be fr or en",
			"Status must be pending, confirmed or unsubscribed", "Address already earlier in this file", "Malformed CSV line ("}, nil},
	} {
		b := e.browser(t, tc.lang)
		page := b.login("admin@journal.example")
		resp, rep := b.importCSV(page, csv)
		if resp.StatusCode != 200 {
			t.Fatalf("%s import: %d", tc.lang, resp.StatusCode)
		}
		for _, w := range tc.want {
			if !strings.Contains(rep, w) {
				t.Errorf("%s report lacks %q", tc.lang, w)
			}
		}
		for _, o := range tc.omit {
			if strings.Contains(rep, o) {
				t.Errorf("%s report still says %q", tc.lang, o)
			}
		}
		if t.Failed() {
			t.Logf("%s report:\n%.4000s", tc.lang, rep)
		}
	}
}

// Topics are listed by name with accents and case ignored, not byte by
// byte ("Économie" after "Politique", "arts" after everything).
func TestAdminTopicsCollated(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t)
	ctx := context.Background()
	for _, tp := range [][2]string{{"economie", "Économie"}, {"arts", "arts"}} {
		if _, err := e.st.CreateTopic(ctx, tp[0], tp[1]); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"afrique", "arts", "culture", "economie", "politique"}
	b := e.browser(t, "fr")
	b.login("admin@journal.example")
	for _, tc := range []struct{ path, pattern string }{
		{"/admin/topics", `<td><code>%s</code></td>`},
		{"/admin/digests", `name="topics" value="%s"`},
		{"/admin/alerts/new", `name="topics" value="%s"`},
	} {
		_, page := b.get(tc.path)
		last := -1
		for _, slug := range want {
			i := strings.Index(page, fmt.Sprintf(tc.pattern, slug))
			if i < 0 || i < last {
				t.Errorf("%s: %s missing or out of order (want %v)", tc.path, slug, want)
			}
			last = i
		}
	}
	// The JSON API keeps the store's order (by name, byte by byte: "Économie" last).
	_, body := e.do(t, "GET", "/api/v1/topics", "", nil)
	var ts []struct{ Slug string }
	if err := json.Unmarshal([]byte(body), &ts); err != nil || len(ts) != len(want) || ts[0].Slug != "afrique" || ts[len(ts)-1].Slug != "economie" {
		t.Fatalf("GET /api/v1/topics: %s (%v)", body, err)
	}
}

func TestAdminReadersEraseImport(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t)
	ctx := context.Background()
	b := e.browser(t, "fr")
	page := b.login("admin@journal.example")

	resp, rep := b.importCSV(page, "email,topics,frequency,lang,status\nana@example.org,afrique,daily,fr,confirmed\nnot-an-email,afrique,daily,fr,confirmed\n")
	if resp.StatusCode != 200 || !strings.Contains(rep, "Lignes refusées") || !strings.Contains(rep, "<td class=\"num\">3</td>") {
		t.Fatalf("import: %d\n%.3000s", resp.StatusCode, rep)
	}
	sub, err := e.st.SubscriberByEmail(ctx, "ana@example.org")
	if err != nil {
		t.Fatal(err)
	}
	id := sub.ID
	_, search := b.get("/admin/readers?q=ana")
	if !strings.Contains(search, "ana@example.org") {
		t.Fatal("search does not find the reader")
	}
	rp := "/admin/readers/" + itoa(id)
	_, confirm := b.get(rp + "/erase")
	// Without confirm=yes nothing is erased.
	b.post(confirm, rp+"/erase", url.Values{})
	if _, err := e.st.SubscriberByEmail(ctx, "ana@example.org"); err != nil {
		t.Fatal("erased without confirmation")
	}
	resp, _ = b.post(confirm, rp+"/erase", url.Values{"confirm": {"yes"}})
	if resp.StatusCode != 200 || !strings.Contains(resp.Request.URL.RawQuery, "done=erased") {
		t.Fatalf("erase: %d %s", resp.StatusCode, resp.Request.URL)
	}
	if _, err := e.st.SubscriberByEmail(ctx, "ana@example.org"); err == nil {
		t.Fatal("reader still there after erase")
	}
	log, _ := e.st.AuditLog(ctx, 10)
	var acts []string
	for _, a := range log {
		acts = append(acts, a.Action)
	}
	if j := strings.Join(acts, ","); !strings.Contains(j, "subscriber.erase") || !strings.Contains(j, "subscribers.import") {
		t.Fatalf("audit: %s", j)
	}
}

func TestAdminTokensAndUsers(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t)
	ctx := context.Background()
	b := e.browser(t, "en")
	page := b.login("admin@journal.example")
	_, body := b.post(page, "/admin/tokens", url.Values{"name": {"cms"}, "role": {"editor"}})
	tok := regexp.MustCompile(`id="new-token">(crieur_[A-Za-z0-9_-]{43})<`).FindStringSubmatch(body)
	if tok == nil {
		t.Fatalf("token not shown:\n%.2000s", body)
	}
	if got, err := e.st.LookupAPIToken(ctx, desk.HashToken(tok[1])); err != nil || got.Name != "cms" {
		t.Fatalf("token not stored by hash: %v", err)
	}
	if _, again := b.get("/admin/tokens"); strings.Contains(again, tok[1]) {
		t.Fatal("the token is shown twice")
	}
	_, body = b.post(page, "/admin/users", url.Values{"email": {"new@journal.example"}, "role": {"editor"}})
	pw := regexp.MustCompile(`id="new-password">([^<]+)<`).FindStringSubmatch(body)
	if pw == nil {
		t.Fatal("password not shown")
	}
	u, err := e.st.UserByEmail(ctx, "new@journal.example")
	if err != nil || bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(pw[1])) != nil {
		t.Fatalf("user password: %v", err)
	}
	if resp, _ := b.post(page, "/admin/users/"+itoa(u.ID)+"/disable", url.Values{}); resp.StatusCode != 200 {
		t.Fatalf("disable: %d", resp.StatusCode)
	}
	if resp, _ := b.post(page, "/admin/users/"+itoa(e.admin)+"/disable", url.Values{}); resp.StatusCode != 400 {
		t.Fatalf("disabling yourself: %d, want 400", resp.StatusCode)
	}
	_, audit := b.get("/admin/audit")
	for _, want := range []string{"token.create", "user.create", "user.disable", "session.login"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit page lacks %s", want)
		}
	}
}
