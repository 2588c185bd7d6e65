// Package reader is what a reader sees and calls: the subscribe form, the
// confirmation page, the preference center and the unsubscribe page (plain
// HTML forms), the page digest-preview links lead to, and the public JSON
// routes a publisher's page calls (topics, subscriptions, web push) with
// the push widget and its service worker.
//
// Readers have no account: a route is public, or limited per client, or
// authenticated by the signed link of one purpose that the reader got by
// email (the token in the path is the credential). Routes lists each route
// with how it authenticates, and the tests check it as data.
//
// It imports web (the server it registers on) and the services below it,
// never another room (web/api, web/admin).
package reader

import (
	"net/http"

	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/templates"
)

// Auth is how a reader route knows it may act.
type Auth string

// The ways a reader route authenticates.
const (
	// Public routes serve anyone: they show public data or a form, and
	// change nothing.
	Public Auth = "public"
	// RateLimited routes serve anyone within a budget per client (and,
	// for subscriptions, per address); what they change is confirmed by
	// email or belongs to the browser that asked.
	RateLimited Auth = "rate-limited"
	// LinkConfirm routes need a signed confirmation link.
	LinkConfirm Auth = "link:confirm"
	// LinkPreferences routes need a signed preference-center link.
	LinkPreferences Auth = "link:preferences"
	// LinkUnsubscribe routes need a signed unsubscribe link.
	LinkUnsubscribe Auth = "link:unsubscribe"
	// LinkClick routes need a signed tracked link from an email (of a
	// run or an alert, not of a reader unless readers are tracked).
	LinkClick Auth = "link:click"
)

// Route is a reader route and how it authenticates.
type Route struct {
	Pattern string
	Auth    Auth
}

// route is one reader route: its pattern, how it authenticates, whether
// the publisher's origins may call it from a browser (CORS, with its
// preflight), and its handler (nil: a preflight only).
type route struct {
	Route
	cors   bool
	handle http.HandlerFunc
}

// routeList is every reader route of s. Register serves exactly these.
func (s *handler) routeList() []route {
	r := func(pattern string, auth Auth, h http.HandlerFunc) route {
		return route{Route: Route{Pattern: pattern, Auth: auth}, handle: h}
	}
	c := func(pattern string, auth Auth, h http.HandlerFunc) route {
		return route{Route: Route{Pattern: pattern, Auth: auth}, cors: true, handle: h}
	}
	const js = "text/javascript; charset=utf-8"
	return []route{
		// The pages.
		r("GET /subscribe", Public, s.subscribeForm),
		r("POST /subscribe", RateLimited, s.subscribeSubmit),
		r("GET /confirm/{token}", LinkConfirm, s.confirmPage),
		r("POST /confirm/{token}", LinkConfirm, s.confirmSubmit),
		r("GET /preferences/{token}", LinkPreferences, s.preferencesPage),
		r("POST /preferences/{token}", LinkPreferences, s.preferencesSave),
		r("GET /preferences/{token}/data", LinkPreferences, s.preferencesData),
		r("POST /preferences/{token}/unsubscribe", LinkPreferences, s.preferencesUnsubscribe),
		r("POST /preferences/{token}/erase", LinkPreferences, s.preferencesErase),
		r("POST /preferences/{token}/signout", LinkPreferences, s.preferencesSignOut),
		r("POST /preferences/{token}/keep", LinkPreferences, s.preferencesKeep),
		r("GET /unsubscribe/{token}", LinkUnsubscribe, s.unsubscribePage),
		r("POST /unsubscribe/{token}", LinkUnsubscribe, s.oneClickUnsubscribe),
		// Emails the preference link to the reader's own address, so the
		// unsubscribe link is enough; the subscribe service limits it too.
		r("POST /unsubscribe/{token}/link", LinkUnsubscribe, s.unsubscribeEmailLink),
		r("GET "+subscribe.PreviewPath, Public, s.previewLinkPage),
		// GET also answers HEAD, which mail scanners send: counted apart.
		r("GET /r/{token}", LinkClick, s.follow),

		// The public JSON routes (CORS for the publisher's origins).
		c("GET /api/v1/topics", Public, s.listTopics),
		c("OPTIONS /api/v1/topics", Public, nil),
		c("POST /api/v1/subscriptions", RateLimited, s.apiSubscribe),
		c("OPTIONS /api/v1/subscriptions", Public, nil),
		c("GET /api/v1/push/key", Public, s.pushKey),
		c("POST /api/v1/push/subscriptions", RateLimited, s.pushSubscribe),
		c("DELETE /api/v1/push/subscriptions", RateLimited, s.pushUnsubscribe),
		c("POST /api/v1/push/events", RateLimited, s.pushEvent),
		c("OPTIONS /api/v1/push/", Public, nil),
		r("GET /push/widget.js", Public, s.staticFile("static/push/widget.js", js)),
		r("GET /push/sw.js", Public, s.staticFile("static/push/sw.js", js)),
	}
}

// Routes lists the reader routes and how each authenticates, as Register
// serves them.
func Routes() []Route {
	var out []Route
	for _, rt := range (&handler{}).routeList() {
		out = append(out, rt.Route)
	}
	return out
}

// handler serves the reader routes over the server's dependencies.
type handler struct {
	srv   *web.Server
	d     web.Deps
	pages *pageSet // the reader pages, parsed once by Register
}

// Register parses the reader pages and adds every route of Routes to srv.
func Register(srv *web.Server) {
	s := &handler{srv: srv, d: srv.Deps()}
	ps, err := newPageSet(templates.FS, s.d.BaseURL)
	if err != nil {
		// The templates are embedded in the binary, so this is a build
		// defect the tests catch; the API keeps working meanwhile.
		s.d.Log.Error("reader pages unavailable", "err", err)
		ps = &pageSet{err: err}
	}
	s.pages = ps
	for _, rt := range s.routeList() {
		h := rt.handle
		if rt.cors {
			h = srv.CORS(h)
		}
		srv.HandleFunc(rt.Pattern, h)
	}
}
