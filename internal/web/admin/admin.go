// Package admin is the editors' desk under /admin: server-rendered pages
// for alerts, digests, readers, topics, feeds, tokens and users. A user
// proves who they are with a session cookie from the login form, and every
// form they post carries the session's CSRF token; each route needs a role.
//
// It imports web (the server it registers on) and the services below it,
// never another room (web/reader, web/api).
package admin

// The editors' admin UI under /admin: server-rendered pages (html/template,
// templates/pages/admin), one small stylesheet and one small script
// (templates/static/admin), in French and English.
//
// Every route is registered through adminUI.handle from the table built by
// adminRouteList, which names the role each route needs; the route-table
// test compares that registry with its own table, so a route cannot be
// added without saying who may use it. The guard in handle:
//
//   - sets the security headers of every admin page (CSP, X-Frame-Options,
//     Referrer-Policy, Cache-Control: no-store);
//   - finds the session from the crieur_admin cookie (only the SHA-256 of
//     the cookie value is stored); without one, a GET is redirected to the
//     login page and any other method is refused with 403;
//   - refuses (403) a role that is too low;
//   - on POST, parses the form (multipart up to 20 MiB for the CSV import,
//     1 MiB otherwise) and refuses (403) a missing or wrong CSRF token.
//
// The public routes skip the guard: the login form, read before anyone is
// known, is parsed as the reader pages' forms are (web.ParseForm: urlencoded,
// 16 KiB at most).
//
// Handlers hold no SQL: they call the store's named queries and the shared
// services (alerts, digests, subscribe, feeds).

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/templates"
)

// Admin UI settings.
const (
	adminSessionCookie = "crieur_admin"
	adminLoginCookie   = "crieur_admin_login" // CSRF token of the login form
	adminLangCookie    = "crieur_admin_lang"
	adminSessionTTL    = 12 * time.Hour
	adminMaxForm       = 1 << 20
	adminMaxUpload     = 20 << 20
	// adminCSP is the Content-Security-Policy of every admin page.
	adminCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)

// rolePublic marks the routes anyone may reach (login, static assets).
const rolePublic news.Role = ""

// Route describes one registered admin route: its method, pattern
// and the role it needs ("" for public routes).
type Route struct {
	Method  string
	Pattern string
	Role    news.Role
}

// adminRoute is a registry entry: the route and its handler.
type adminRoute struct {
	Route
	h adminHandler
}

// adminHandler serves an admin request with its session and language.
type adminHandler func(w http.ResponseWriter, r *http.Request, rq *adminReq)

// adminReq is what the guard learnt about a request.
type adminReq struct {
	Session news.Session // zero on public routes
	Lang    news.Lang
}

// actor is how the audit log names the editor.
func (rq *adminReq) actor() string { return "user:" + rq.Session.Email }

// adminUI is the admin UI's state, built once by Register.
type adminUI struct {
	s        *web.Server
	d        web.Deps
	pages    map[string]*template.Template
	assets   map[string][]byte // static/admin files by name
	version  string            // hash of the assets, for cache busting
	base     string            // path prefix of CRIEUR_BASE_URL
	secure   bool              // cookies get Secure (https base URL)
	ipLimit  *subscribe.Limiter
	accLimit *subscribe.Limiter
	registry []adminRoute

	dummyOnce sync.Once
	dummy     []byte // a bcrypt hash compared against for unknown users
}

// Routes lists the desk's routes with the role each needs, as Register
// serves them, for the route-table test and the documentation.
func Routes() []Route {
	list := adminRouteList(&adminUI{})
	out := make([]Route, len(list))
	for i, rt := range list {
		out[i] = rt.Route
	}
	return out
}

// Register adds the desk under /admin to srv.
func Register(srv *web.Server) {
	ui, err := newAdminUI(srv)
	if err != nil {
		// The templates are embedded: a build defect the tests catch.
		srv.Deps().Log.Error("admin UI unavailable", "err", err)
		srv.HandleFunc("/admin", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "The admin UI is unavailable.", http.StatusInternalServerError)
		})
		return
	}
	for _, rt := range adminRouteList(ui) {
		ui.handle(rt)
	}
}

// adminRouteList is every admin route with the role it needs.
func adminRouteList(ui *adminUI) []adminRoute {
	const E, A, P = news.RoleEditor, news.RoleAdmin, rolePublic
	r := func(method, pattern string, role news.Role, h adminHandler) adminRoute {
		return adminRoute{Route{method, pattern, role}, h}
	}
	return []adminRoute{
		r("GET", "/admin/login", P, ui.loginPage),
		r("POST", "/admin/login", P, ui.loginSubmit),
		r("GET", "/admin/static/{name}", P, ui.static),
		r("", "/admin/", P, ui.notFound),
		r("POST", "/admin/logout", E, ui.logout),

		r("GET", "/admin", E, ui.dashboard),
		r("GET", "/admin/{$}", E, ui.dashboard),
		r("GET", "/admin/articles", E, ui.articles),
		r("GET", "/admin/audience", E, ui.audience),
		r("GET", "/admin/reading", E, ui.reading),

		r("GET", "/admin/alerts", E, ui.alertList),
		r("GET", "/admin/alerts/new", E, ui.alertNew),
		r("POST", "/admin/alerts/new", E, ui.alertPreview),
		r("POST", "/admin/alerts/confirm", E, ui.alertConfirm),
		r("POST", "/admin/alerts", E, ui.alertSend),
		r("GET", "/admin/alerts/{id}", E, ui.alertProgress),
		r("GET", "/admin/alerts/{id}/status", E, ui.alertStatus),
		r("POST", "/admin/alerts/{id}/cancel", E, ui.alertCancel),
		r("POST", "/admin/alerts/{id}/approve", E, ui.alertApprove),

		r("GET", "/admin/digests", E, ui.digests),
		r("GET", "/admin/digests/preview", E, ui.digestPreview),
		r("GET", "/admin/digests/preview/html", E, ui.digestPreviewHTML),
		r("POST", "/admin/digests/preview/send", E, ui.digestPreviewSend),
		r("POST", "/admin/digests/{frequency}/run", E, ui.digestRun),
		r("GET", "/admin/digests/runs/{id}", E, ui.digestRunPage),

		r("GET", "/admin/readers", A, ui.readers),
		r("GET", "/admin/readers/export.csv", A, ui.readersExport),
		r("POST", "/admin/readers/import", A, ui.readersImport),
		r("GET", "/admin/readers/{id}", A, ui.reader),
		r("GET", "/admin/readers/{id}/export", A, ui.readerExport),
		r("GET", "/admin/readers/{id}/erase", A, ui.readerEraseConfirm),
		r("POST", "/admin/readers/{id}/erase", A, ui.readerErase),
		r("POST", "/admin/readers/{id}/revoke", A, ui.readerRevoke),
		r("GET", "/admin/suppressions", A, ui.suppressions),
		r("GET", "/admin/health", E, ui.health),
		r("GET", "/admin/health/parked/{id}", A, ui.parkedReport),

		r("GET", "/admin/topics", A, ui.topics),
		r("POST", "/admin/topics", A, ui.topicCreate),
		r("GET", "/admin/feeds", A, ui.feeds),
		r("POST", "/admin/feeds", A, ui.feedAdd),
		r("POST", "/admin/feeds/remove", A, ui.feedRemove),
		r("POST", "/admin/feeds/poll", A, ui.feedPoll),
		r("GET", "/admin/auto-alerts", A, ui.autoAlerts),
		r("POST", "/admin/auto-alerts", A, ui.autoAlertSave),
		r("GET", "/admin/tokens", A, ui.tokens),
		r("POST", "/admin/tokens", A, ui.tokenCreate),
		r("POST", "/admin/tokens/{id}/revoke", A, ui.tokenRevoke),
		r("GET", "/admin/users", A, ui.users),
		r("POST", "/admin/users", A, ui.userCreate),
		r("POST", "/admin/users/{id}/role", A, ui.userRole),
		r("POST", "/admin/users/{id}/disable", A, ui.userDisable),
		r("GET", "/admin/audit", A, ui.auditPage),

		r("GET", "/admin/webhooks", A, ui.webhooks),
		r("POST", "/admin/webhooks", A, ui.webhookCreate),
		r("GET", "/admin/webhooks/{id}", A, ui.webhookPage),
		r("POST", "/admin/webhooks/{id}/test", A, ui.webhookAction("test")),
		r("POST", "/admin/webhooks/{id}/enable", A, ui.webhookAction("enable")),
		r("POST", "/admin/webhooks/{id}/delete", A, ui.webhookAction("delete")),
		r("GET", "/admin/welcome", A, ui.welcomePage),
		r("POST", "/admin/welcome", A, ui.welcomeSave),
		r("GET", "/admin/welcome/preview/html", A, ui.welcomePreviewHTML),
	}
}

// adminPageNames are the templates of templates/pages/admin besides the
// layout.
var adminPageNames = []string{"login", "message", "dashboard", "articles", "alerts", "alert_form", "alert_confirm",
	"alert_progress", "digests", "digest_preview", "digest_run", "readers", "reader", "reader_erase", "import_report",
	"suppressions", "topics", "feeds", "tokens", "users", "audit", "health", "parked", "webhooks", "webhook", "welcome", "reading", "auto_alerts"}

func newAdminUI(s *web.Server) (*adminUI, error) {
	fsys := templates.FS
	ui := &adminUI{s: s, d: s.Deps(), pages: map[string]*template.Template{}, assets: map[string][]byte{},
		ipLimit: subscribe.NewLimiter(6*time.Second, 20, 10000), accLimit: subscribe.NewLimiter(30*time.Second, 5, 10000)}
	if u, err := url.Parse(ui.d.BaseURL); err == nil {
		ui.base = strings.TrimRight(u.Path, "/")
		ui.secure = u.Scheme == "https"
	}
	h := sha256.New()
	for _, name := range []string{"admin.css", "admin.js"} {
		b, err := fs.ReadFile(fsys, "static/admin/"+name)
		if err != nil {
			return nil, fmt.Errorf("read admin asset: %w", err)
		}
		ui.assets[name] = b
		h.Write(b)
	}
	ui.version = hex.EncodeToString(h.Sum(nil))[:12]
	layout, err := template.New("layout.html").Funcs(adminFuncs()).ParseFS(fsys, "pages/admin/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse admin layout: %w", err)
	}
	for _, name := range adminPageNames {
		t, err := layout.Clone()
		if err != nil {
			return nil, fmt.Errorf("clone admin layout: %w", err)
		}
		if _, err := t.ParseFS(fsys, "pages/admin/"+name+".html"); err != nil {
			return nil, fmt.Errorf("parse admin page %s: %w", name, err)
		}
		ui.pages[name] = t
	}
	return ui, nil
}

// handle registers rt behind the guard described at the top of this file.
func (ui *adminUI) handle(rt adminRoute) {
	ui.registry = append(ui.registry, rt)
	pattern := rt.Pattern
	if rt.Method != "" {
		pattern = rt.Method + " " + rt.Pattern
	}
	ui.s.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", adminCSP)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		rq := &adminReq{Lang: ui.lang(w, r)}
		if rt.Role == rolePublic {
			rt.h(w, r, rq)
			return
		}
		sess, ok := ui.session(r)
		if !ok {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				next := r.URL.Path
				if r.URL.RawQuery != "" {
					next += "?" + r.URL.RawQuery
				}
				http.Redirect(w, r, ui.base+"/admin/login?next="+url.QueryEscape(next), http.StatusSeeOther)
				return
			}
			ui.forbidden(w, r, rq)
			return
		}
		rq.Session = sess
		if !sess.Role.Allows(rt.Role) {
			ui.forbidden(w, r, rq)
			return
		}
		if r.Method == http.MethodPost {
			if err := ui.parseForm(w, r); err != nil {
				ui.message(w, r, rq, http.StatusRequestEntityTooLarge, "admin.error.title", "admin.error.too_large")
				return
			}
			if !sameToken(r.PostFormValue("csrf"), sess.CSRF) {
				ui.forbidden(w, r, rq)
				return
			}
		}
		rt.h(w, r, rq)
	})
}

// parseForm reads a POST body: multipart (the CSV import) up to
// adminMaxUpload, anything else up to adminMaxForm.
func (ui *adminUI) parseForm(w http.ResponseWriter, r *http.Request) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		r.Body = http.MaxBytesReader(w, r.Body, adminMaxUpload+64<<10)
		// Files above 8 MiB spill to disk instead of memory.
		return r.ParseMultipartForm(8 << 20)
	}
	r.Body = http.MaxBytesReader(w, r.Body, adminMaxForm)
	return r.ParseForm()
}

func sameToken(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// session returns the live session named by the request's cookie.
func (ui *adminUI) session(r *http.Request) (news.Session, bool) {
	c, err := r.Cookie(adminSessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return news.Session{}, false
	}
	sess, err := ui.d.Store.SessionByHash(r.Context(), sessionHash(c.Value), ui.d.Now())
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			ui.d.Log.Error("admin session lookup", "err", err)
		}
		return news.Session{}, false
	}
	return sess, true
}

// sessionHash is how a session id is stored: its SHA-256.
func sessionHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// lang is the page language: ?ui= (remembered in a cookie), else the
// cookie, else Accept-Language, else French. Not ?lang=: the digest
// preview takes that for its sample reader's language, which must not
// switch the whole desk.
func (ui *adminUI) lang(w http.ResponseWriter, r *http.Request) news.Lang {
	if l := news.Lang(r.URL.Query().Get("ui")); l.Valid() {
		ui.setCookie(w, adminLangCookie, string(l), 365*24*3600)
		return l
	}
	if c, err := r.Cookie(adminLangCookie); err == nil && news.Lang(c.Value).Valid() {
		return news.Lang(c.Value)
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if l := news.Lang(base); l.Valid() {
			return l
		}
	}
	return news.French
}

// setCookie sets one of the admin cookies (HttpOnly, SameSite=Strict,
// Secure behind https); maxAge < 0 deletes it. Their path is the desk's
// as the browser sees it: under CRIEUR_BASE_URL's path when a proxy
// serves crieur below one (https://journal.example/newsletter/admin).
func (ui *adminUI) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: ui.base + "/admin", MaxAge: maxAge, HttpOnly: true,
		Secure: ui.secure, SameSite: http.SameSiteStrictMode})
}

// static serves the admin stylesheet and script; their URLs carry a hash
// of their content, so they may be cached for long.
func (ui *adminUI) static(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	name := r.PathValue("name")
	b, ok := ui.assets[name]
	if !ok {
		ui.notFound(w, r, rq)
		return
	}
	ct := "text/css; charset=utf-8"
	if strings.HasSuffix(name, ".js") {
		ct = "text/javascript; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(b)
}

// --- rendering ---

// adminView is the dot of every admin template.
type adminView struct {
	ui                        *adminUI
	Lang                      news.Lang
	Title                     string
	Section                   string // the nav entry to mark as current
	User                      string
	IsAdmin                   bool
	CSRF                      string
	Base                      string
	Version                   string
	Site                      string
	Flash                     string // a translated confirmation shown at the top
	Error                     string // a translated error shown at the top
	Nav                       []adminNav
	OtherLang, OtherLangLabel string
	LangHref                  string // this page in the other language
	SiteInitial               string // the notification mock's icon
	// Refresh, when positive, reloads the page every so many seconds (a
	// run in progress, without JavaScript).
	Refresh int
	Page    any
}

// adminPair hands a shared table template the view and its rows.
type adminPair struct {
	V *adminView
	L any
}

// adminNav is one navigation entry.
type adminNav struct {
	Href, Label string
	Current     bool
}

// T translates key into the page's language.
func (v *adminView) T(key string, args ...any) string { return v.ui.s.T(v.Lang, key, args...) }

// N formats a count the way the page's language writes it.
func (v *adminView) N(n int64) string { return formatCount(v.Lang, n) }

// When formats a time in the publisher's time zone ("" for zero).
func (v *adminView) When(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t = t.In(v.ui.loc())
	if v.Lang == news.French {
		return t.Format("02/01/2006 15:04")
	}
	return t.Format("2006-01-02 15:04")
}

// formatCount writes 4213 as "4 213" (French, narrow no-break space) or
// "4,213" (English).
func formatCount(l news.Lang, n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	sep := ","
	if l == news.French {
		sep = "\u202f"
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func adminFuncs() template.FuncMap {
	return template.FuncMap{
		"join": strings.Join,
		"pair": func(v *adminView, l any) adminPair { return adminPair{V: v, L: l} },
		"id":   func(id int64) string { return strconv.FormatInt(id, 10) },
		"has": func(list []string, v string) bool {
			for _, x := range list {
				if x == v {
					return true
				}
			}
			return false
		},
	}
}

func (ui *adminUI) loc() *time.Location {
	if ui.d.Location != nil {
		return ui.d.Location
	}
	return time.UTC
}

// render writes the page name with data, rendered in full first so a
// template failure is a clean 500.
func (ui *adminUI) render(w http.ResponseWriter, r *http.Request, rq *adminReq, status int, name, titleKey string, data any, opts ...func(*adminView)) {
	t := ui.pages[name]
	v := &adminView{ui: ui, Lang: rq.Lang, Title: ui.s.T(rq.Lang, titleKey), Section: name, Base: ui.base,
		Version: ui.version, Site: ui.s.SiteName(), Page: data}
	if rq.Session.UserID != 0 {
		v.User, v.IsAdmin, v.CSRF = rq.Session.Email, rq.Session.Role == news.RoleAdmin, rq.Session.CSRF
		v.Nav = ui.nav(rq)
	}
	switch r.URL.Query().Get("done") {
	case "":
	default:
		if k := "admin.flash." + r.URL.Query().Get("done"); ui.s.T(rq.Lang, k) != k {
			v.Flash = ui.s.T(rq.Lang, k)
		}
	}
	v.OtherLang, v.OtherLangLabel = "en", "English"
	if rq.Lang == news.English {
		v.OtherLang, v.OtherLangLabel = "fr", "Français"
	}
	v.LangHref = ui.base + "/admin?ui=" + v.OtherLang
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		q.Del("done")
		q.Set("ui", v.OtherLang)
		v.LangHref = ui.base + r.URL.Path + "?" + q.Encode()
	}
	for _, c := range v.Site {
		v.SiteInitial = strings.ToUpper(string(c))
		break
	}
	for _, o := range opts {
		o(v)
	}
	for i := range v.Nav {
		v.Nav[i].Current = strings.TrimPrefix(v.Nav[i].Href, ui.base) == sectionOf(r.URL.Path)
	}
	if t == nil {
		ui.d.Log.Error("no such admin page", "page", name)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return
	}
	ui.s.RenderHTML(w, status, t, "admin", name, v)
}

// sectionOf maps a path to the nav entry it belongs to.
func sectionOf(p string) string {
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
	if len(parts) < 2 || parts[1] == "" {
		return "/admin"
	}
	switch parts[1] {
	case "suppressions":
		return "/admin/readers"
	}
	return "/admin/" + parts[1]
}

func withError(msg string) func(*adminView) { return func(v *adminView) { v.Error = msg } }

// nav lists what the session's role may open.
func (ui *adminUI) nav(rq *adminReq) []adminNav {
	items := []struct {
		path, key string
		role      news.Role
	}{
		{"/admin", "admin.nav.dashboard", news.RoleEditor},
		{"/admin/alerts", "admin.nav.alerts", news.RoleEditor},
		{"/admin/digests", "admin.nav.digests", news.RoleEditor},
		{"/admin/articles", "admin.nav.articles", news.RoleEditor},
		{"/admin/health", "admin.nav.health", news.RoleEditor},
		{"/admin/reading", "admin.nav.reading", news.RoleEditor},
		{"/admin/readers", "admin.nav.readers", news.RoleAdmin},
		{"/admin/topics", "admin.nav.topics", news.RoleAdmin},
		{"/admin/feeds", "admin.nav.feeds", news.RoleAdmin},
		{"/admin/auto-alerts", "admin.nav.auto", news.RoleAdmin},
		{"/admin/tokens", "admin.nav.tokens", news.RoleAdmin},
		{"/admin/users", "admin.nav.users", news.RoleAdmin},
		{"/admin/audit", "admin.nav.audit", news.RoleAdmin},
		{"/admin/webhooks", "admin.nav.webhooks", news.RoleAdmin},
		{"/admin/welcome", "admin.nav.welcome", news.RoleAdmin},
	}
	var out []adminNav
	for _, it := range items {
		if rq.Session.Role.Allows(it.role) {
			out = append(out, adminNav{Href: ui.base + it.path, Label: ui.s.T(rq.Lang, it.key)})
		}
	}
	return out
}

// adminMessage is the data of the message page.
type adminMessage struct {
	Text      string
	Link      string
	LinkLabel string
}

// message renders a page holding one translated sentence.
func (ui *adminUI) message(w http.ResponseWriter, r *http.Request, rq *adminReq, status int, titleKey, msgKey string, args ...any) {
	ui.render(w, r, rq, status, "message", titleKey, adminMessage{Text: ui.s.T(rq.Lang, msgKey, args...), Link: ui.base + "/admin",
		LinkLabel: ui.s.T(rq.Lang, "admin.nav.dashboard")})
}

func (ui *adminUI) forbidden(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	ui.message(w, r, rq, http.StatusForbidden, "admin.forbidden.title", "admin.forbidden.text")
}

func (ui *adminUI) notFound(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	if rq.Session.UserID == 0 {
		if sess, ok := ui.session(r); ok {
			rq.Session = sess
		}
	}
	ui.message(w, r, rq, http.StatusNotFound, "admin.notfound.title", "admin.notfound.text")
}

// fail answers an error from a service or the store with a page.
func (ui *adminUI) fail(w http.ResponseWriter, r *http.Request, rq *adminReq, err error) {
	if e, ok := news.AsError(err); ok && e.Code != "internal" {
		st := web.StatusFor(e.Code)
		ui.render(w, r, rq, st, "message", "admin.error.title", adminMessage{Text: e.Message, Link: ui.base + "/admin",
			LinkLabel: ui.s.T(rq.Lang, "admin.nav.dashboard")})
		return
	}
	if errors.Is(err, store.ErrNotFound) {
		ui.notFound(w, r, rq)
		return
	}
	ui.d.Log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	ui.message(w, r, rq, http.StatusInternalServerError, "admin.error.title", "admin.error.server")
}

// redirect answers a POST with 303 to an admin path.
func (ui *adminUI) redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, ui.base+path, http.StatusSeeOther)
}

// audit records an editor's action; a failure is logged, not shown.
func (ui *adminUI) audit(r *http.Request, rq *adminReq, action, target, detail string) {
	if err := ui.d.Store.Audit(r.Context(), rq.actor(), action, target, detail); err != nil {
		ui.d.Log.Error("audit", "action", action, "err", err)
	}
}

// pathID reads the {id} of a path; ok is false (and 404 sent) when bad.
func (ui *adminUI) pathID(w http.ResponseWriter, r *http.Request, rq *adminReq) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		ui.notFound(w, r, rq)
		return 0, false
	}
	return id, true
}
