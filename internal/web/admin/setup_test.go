package admin_test

// The desk's test setup: a site over a fresh database with an editor
// and an admin, and a browser-like client that keeps cookies and CSRF
// tokens.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/crieur/crieur/internal/alert"
	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/digest"
	"github.com/crieur/crieur/internal/netguard"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/storetest"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/internal/web/site"
	"github.com/crieur/crieur/internal/webhook"
	"github.com/crieur/crieur/templates"
)

const adminXSS = `<script>alert(1)</script>`

type adminEnv struct {
	st     *store.Store
	h      *web.Server
	srv    *httptest.Server
	subs   *subscribe.Service
	editor int64
	admin  int64
}

func setupAdmin(tb testing.TB) *adminEnv {
	tb.Helper()
	ctx := context.Background()
	st := storetest.SQLite(tb)
	for _, t := range [][2]string{{"politique", "Politique"}, {"afrique", "Afrique"}, {"culture", "Culture " + adminXSS}} {
		if _, err := st.CreateTopic(ctx, t[0], t[1]); err != nil {
			tb.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	tokens, err := subscribe.NewTokens(bytes.Repeat([]byte{7}, 32), nil)
	if err != nil {
		tb.Fatal(err)
	}
	subs := subscribe.New(subscribe.Config{Store: st, Tokens: tokens, HashKey: []byte("k"), BaseURL: "https://crieur.example", Log: log})
	comp, err := compose.New(templates.FS, compose.Site{Name: "Le Journal", URL: "https://journal.example"})
	if err != nil {
		tb.Fatalf("composer: %v", err)
	}
	h, err := site.New(web.Deps{Store: st, Subscribe: subs, Composer: comp, Log: log, BaseURL: "https://crieur.example",
		Alerts: alert.New(st, log, nil, func() {}, func() {}), Digests: digest.NewRunner(st, log, nil, nil), WakeMail: func() {},
		Webhooks: webhook.NewService(st, netguard.Policy{AllowPrivate: true}, nil)})
	if err != nil {
		tb.Fatal(err)
	}
	e := &adminEnv{st: st, h: h, subs: subs}
	e.srv = httptest.NewServer(h)
	tb.Cleanup(e.srv.Close)
	hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if e.editor, err = st.CreateUser(ctx, "editor@journal.example", news.RoleEditor, string(hash)); err != nil {
		tb.Fatal(err)
	}
	if e.admin, err = st.CreateUser(ctx, "admin@journal.example", news.RoleAdmin, string(hash)); err != nil {
		tb.Fatal(err)
	}
	return e
}

// session opens a session for user straight in the store and returns its
// cookie value and CSRF token.
func (e *adminEnv) session(tb testing.TB, user int64) (string, string) {
	tb.Helper()
	sid, csrf := randHex(16), randHex(16)
	sum := sha256.Sum256([]byte(sid))
	if err := e.st.CreateSession(context.Background(), hex.EncodeToString(sum[:]), user, csrf, time.Now().Add(time.Hour)); err != nil {
		tb.Fatal(err)
	}
	return sid, csrf
}

var randCounter int

func randHex(n int) string {
	randCounter++
	sum := sha256.Sum256([]byte(time.Now().String() + string(rune(randCounter))))
	return hex.EncodeToString(sum[:n])
}

// do sends a request without following redirects.
func (e *adminEnv) do(tb testing.TB, method, path, sid string, form url.Values) (*http.Response, string) {
	tb.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if sid != "" {
		req.AddCookie(&http.Cookie{Name: "crieur_admin", Value: sid})
	}
	c := &http.Client{Transport: e.srv.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func concretePath(pattern string) string {
	r := strings.NewReplacer("{id}", "999999", "{frequency}", "daily", "{name}", "admin.css", "{$}", "")
	return r.Replace(pattern)
}

func checkAdminHeaders(tb testing.TB, what string, resp *http.Response) {
	tb.Helper()
	h := resp.Header
	if (strings.HasPrefix(what, "GET /admin/digests/preview/html") || strings.HasPrefix(what, "GET /admin/welcome/preview/html")) && resp.StatusCode == 200 {
		// The email shown in the preview frame: its own, stricter policy.
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "sandbox") ||
			!strings.Contains(csp, "frame-ancestors 'self'") || strings.Contains(csp, "script-src") {
			tb.Errorf("%s: Content-Security-Policy = %q", what, csp)
		}
		return
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		!strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "form-action 'self'") {
		tb.Errorf("%s: Content-Security-Policy = %q", what, csp)
	}
	if h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "same-origin" {
		tb.Errorf("%s: X-Frame-Options %q, Referrer-Policy %q", what, h.Get("X-Frame-Options"), h.Get("Referrer-Policy"))
	}
	if !strings.HasPrefix(what, "GET /admin/static/") && h.Get("Cache-Control") != "no-store" {
		tb.Errorf("%s: Cache-Control = %q", what, h.Get("Cache-Control"))
	}
}

// browser is a cookie-keeping client that reads CSRF tokens off pages.
type adminBrowser struct {
	tb testing.TB
	e  *adminEnv
	c  *http.Client
}

func (e *adminEnv) browser(tb testing.TB, lang string) *adminBrowser {
	jar, _ := cookiejar.New(nil)
	return &adminBrowser{tb: tb, e: e, c: &http.Client{Jar: jar, Transport: langTransport{lang: lang, base: e.srv.Client().Transport}}}
}

// langTransport sends every request with Accept-Language: lang.
type langTransport struct {
	lang string
	base http.RoundTripper
}

func (l langTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r.Header.Set("Accept-Language", l.lang)
	return l.base.RoundTrip(r)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *adminBrowser) get(path string) (*http.Response, string) {
	b.tb.Helper()
	resp, err := b.c.Get(b.e.srv.URL + path)
	if err != nil {
		b.tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// post submits a form found on page (its CSRF token added).
func (b *adminBrowser) post(page, path string, form url.Values) (*http.Response, string) {
	b.tb.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		b.tb.Fatalf("no CSRF token on the page:\n%.800s", page)
	}
	form.Set("csrf", m[1])
	resp, err := b.c.PostForm(b.e.srv.URL+path, form)
	if err != nil {
		b.tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// importCSV uploads csv to the readers' import form (its CSRF token taken
// from page) and returns the answer and the report page.
func (b *adminBrowser) importCSV(page, csv string) (*http.Response, string) {
	b.tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", csrfRE.FindStringSubmatch(page)[1])
	fw, _ := mw.CreateFormFile("file", "readers.csv")
	io.WriteString(fw, csv)
	mw.Close()
	resp, err := b.c.Post(b.e.srv.URL+"/admin/readers/import", mw.FormDataContentType(), &buf)
	if err != nil {
		b.tb.Fatal(err)
	}
	defer resp.Body.Close()
	rep, _ := io.ReadAll(resp.Body)
	return resp, string(rep)
}

func (b *adminBrowser) login(email string) string {
	b.tb.Helper()
	_, page := b.get("/admin/login")
	resp, body := b.post(page, "/admin/login", url.Values{"email": {email}, "password": {"correct horse"}})
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/admin" {
		b.tb.Fatalf("login: %d at %s\n%.500s", resp.StatusCode, resp.Request.URL, body)
	}
	return body
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
