package reader

// The reader pages: the subscribe form, the confirmation page, the
// preference center and the unsubscribe page. They are plain HTML forms
// that work without JavaScript, rendered with html/template from
// templates/pages (one layout, one file per page), parsed once when the
// server is built.
//
// Routes:
//
//	GET  /subscribe                        the form
//	POST /subscribe                        subscribe (double opt-in)
//	GET  /confirm/{token}                  a page whose script (or button)
//	                                       posts to POST /confirm/{token},
//	                                       which confirms the address
//	GET  /preferences/{token}              the preference center
//	POST /preferences/{token}              save the preferences
//	GET  /preferences/{token}/data         download my data (JSON attachment)
//	POST /preferences/{token}/unsubscribe  unsubscribe from everything
//	POST /preferences/{token}/erase        erase my data (asks first; confirm=yes erases)
//	POST /preferences/{token}/signout      sign out everywhere
//	GET  /unsubscribe/{token}              a page with one button posting to
//	                                       POST /unsubscribe/{token} (reader_api.go)
//	POST /unsubscribe/{token}/link         email me my preferences link
//
// The confirmation and link routes are in pages_links.go; the route
// table, with how each route authenticates, is in routes.go.
//
// Publishers may embed the form in an iframe (GET /subscribe?embed=1) or
// post to POST /subscribe from a form on their own site, as
// application/x-www-form-urlencoded or multipart/form-data, with these
// fields:
//
//	email      the reader's address (required)
//	topics     a topic slug; repeat the field (or separate slugs with
//	           commas) for several topics
//	frequency  "daily" (the default) or "weekly"
//	lang       "fr" or "en", the language of the emails; default: the
//	           page language
//	alerts     present with any value but "", "0", "false", "off" or "no":
//	           also send breaking-news alerts by email
//
// GET /subscribe and POST /subscribe also read these query parameters:
// lang=fr|en (the page language; default: the lang field, then the
// browser's Accept-Language, then French), topics=a,b (topics ticked
// in advance) and embed=1 (a compact page without the site header, for
// an iframe). The answer to a valid request is the same "check your
// inbox" page whether the address was new, pending or confirmed.

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/internal/web"
)

// Content security policies of the reader pages. The subscribe form may
// be framed by any publisher page and posted to from anywhere; the pages
// reached through a secret link may not be framed at all.
const (
	cspEmbeddable = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self' https: http:; frame-ancestors *"
	cspPrivate    = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

// pageNames are the templates in templates/pages besides the layout.
func pageNames() []string {
	return []string{"subscribe", "message", "preferences", "erase", "unsubscribe", "confirm"}
}

// pageSet is the parsed reader pages, built once by newPageSet.
type pageSet struct {
	pages map[string]*template.Template
	css   template.CSS
	// base is the path of CRIEUR_BASE_URL ("" at the root), the prefix of
	// every link and form action, so that the pages work behind a proxy
	// that serves crieur under a path.
	base string
	// err is why the pages could not be built; every page then answers
	// 500.
	err error
}

// newPageSet parses templates/pages/layout.html with each page of fsys
// and reads the stylesheet the layout inlines.
func newPageSet(fsys fs.FS, baseURL string) (*pageSet, error) {
	css, err := fs.ReadFile(fsys, "static/css/reader.css")
	if err != nil {
		return nil, fmt.Errorf("read reader stylesheet: %w", err)
	}
	layout, err := template.New("layout.html").Option("missingkey=error").ParseFS(fsys, "pages/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse page layout: %w", err)
	}
	ps := &pageSet{pages: make(map[string]*template.Template), css: template.CSS(css)}
	for _, name := range pageNames() {
		t, err := layout.Clone()
		if err != nil {
			return nil, fmt.Errorf("clone page layout: %w", err)
		}
		if _, err := t.ParseFS(fsys, "pages/"+name+".html"); err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		ps.pages[name] = t
	}
	if u, err := url.Parse(baseURL); err == nil {
		ps.base = strings.TrimRight(u.Path, "/")
	}
	return ps, nil
}

// pageHead is what every page's data carries for the layout.
type pageHead struct {
	// Lang is the page's language; empty: the request's.
	Lang news.Lang
	// Title is the page title, without the site name.
	Title string
	// Embed drops the site header and footer (the form in an iframe).
	Embed bool
	// Frameable lets any site frame the page (the subscribe form only).
	Frameable bool
	// NoIndex keeps the page out of search engines.
	NoIndex bool
	// LangLinks offer the page in the other languages.
	LangLinks []langLink
	// Errors are what the reader must fix, shown at the top.
	Errors []errorItem
	// Nonce, when set, is the nonce of the page's one inline script,
	// which the page's Content-Security-Policy allows.
	Nonce string
}

func (h pageHead) head() pageHead { return h }

// langLink is a link to the page in another language.
type langLink struct {
	Lang  news.Lang
	Label string
	URL   string
}

// errorItem is one entry of the error summary, linked to its field.
type errorItem struct {
	Href    string
	Message string
}

// pageLink is a link a message page offers.
type pageLink struct {
	URL, Label string
	Button     bool
}

// messageData is a page holding a title, a few paragraphs and links.
type messageData struct {
	pageHead
	Paragraphs []string
	Links      []pageLink
}

// view is the dot of every page template: the layout's fields, the
// translator and the page's own data in Page.
type view struct {
	pageHead
	s        *handler
	DocTitle string
	SiteName string
	SiteURL  string
	CSS      template.CSS
	Page     any
}

// T returns the string key in the page's language, formatted with args.
func (v *view) T(key string, args ...any) string { return v.s.srv.T(v.Lang, key, args...) }

// page renders the page name with data (messageData or one of the page
// data types of this file) and status. The page is rendered in full before
// anything is written, so a template failure is a clean 500.
func (s *handler) page(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var h pageHead
	if d, ok := data.(interface{ head() pageHead }); ok {
		h = d.head()
	}
	if !h.Lang.Valid() {
		h.Lang = s.requestLang(r)
	}
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	csp := cspPrivate
	if h.Frameable {
		csp = cspEmbeddable
	} else {
		hd.Set("X-Frame-Options", "DENY")
	}
	if h.Nonce != "" {
		csp += "; script-src 'nonce-" + h.Nonce + "'"
	}
	hd.Set("Content-Security-Policy", csp)

	var t *template.Template
	if s.pages != nil && s.pages.err == nil {
		t = s.pages.pages[name]
	}
	if t == nil {
		s.d.Log.Error("no such reader page", "page", name)
		http.Error(w, "Service unavailable.", http.StatusInternalServerError)
		return
	}
	site := s.srv.SiteName()
	v := &view{pageHead: h, s: s, SiteName: site, CSS: s.pages.css, Page: data}
	if s.d.Composer != nil {
		v.SiteURL = s.d.Composer.Site().URL
	}
	v.DocTitle = h.Title
	if !strings.Contains(v.DocTitle, site) {
		v.DocTitle += " — " + site
	}
	if len(h.Errors) > 0 {
		v.DocTitle = s.srv.T(h.Lang, "page.common.error_prefix", v.DocTitle)
	}
	s.srv.RenderHTML(w, status, t, "reader", name, v)
}

// messagePage is a message page in the request's language; titleKey and
// msgKey are string keys.
func (s *handler) messagePage(r *http.Request, titleKey, msgKey string) messageData {
	return s.messagePageLang(s.requestLang(r), titleKey, msgKey)
}

// messagePageLang is a message page in l; titleKey and msgKey are string
// keys.
func (s *handler) messagePageLang(l news.Lang, titleKey, msgKey string) messageData {
	return messageData{pageHead: pageHead{Lang: l, Title: s.srv.T(l, titleKey), NoIndex: true},
		Paragraphs: []string{s.srv.T(l, msgKey)}}
}

// requestLang is the language a page is shown in: ?lang=, else the
// browser's Accept-Language, else French.
func (s *handler) requestLang(r *http.Request) news.Lang {
	if l := news.Lang(r.URL.Query().Get("lang")); l.Valid() {
		return l
	}
	return acceptLang(r.Header.Get("Accept-Language"))
}

// queryLang is the ?lang= of r when valid, else "".
func queryLang(r *http.Request) news.Lang {
	if l := news.Lang(r.URL.Query().Get("lang")); l.Valid() {
		return l
	}
	return ""
}

// acceptLang picks French or English from an Accept-Language header,
// French when it names neither.
func acceptLang(h string) news.Lang {
	if len(h) > 512 {
		h = h[:512]
	}
	best, bestQ := news.French, 0.0
	for part := range strings.SplitSeq(h, ",") {
		tag, params, _ := strings.Cut(part, ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				continue
			}
			q = f
		}
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if l := news.Lang(primary); l.Valid() && q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

// langLinks offers the current GET page in the other languages, keeping
// its other query parameters.
func (s *handler) langLinks(r *http.Request, current news.Lang) []langLink {
	var out []langLink
	for _, l := range []news.Lang{news.French, news.English} {
		if l == current {
			continue
		}
		q := r.URL.Query()
		q.Set("lang", string(l))
		out = append(out, langLink{Lang: l, Label: s.srv.T(l, "lang."+string(l)), URL: s.pages.base + r.URL.Path + "?" + q.Encode()})
	}
	return out
}

// path is a path-absolute URL of crieur's, with the query q.
func (s *handler) path(p string, q url.Values) string {
	u := s.pages.base + p
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// langQuery keeps an explicit ?lang= in the links of a page.
func langQuery(r *http.Request) url.Values {
	if l := queryLang(r); l != "" {
		return url.Values{"lang": {string(l)}}
	}
	return nil
}

// truthy reads a checkbox a publisher's form may send as "1", "on",
// "true" or "yes".
func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "false", "off", "no":
		return false
	}
	return true
}

// slugs reads topic slugs from repeated values, each possibly a
// comma-separated list, without blanks or duplicates.
func slugs(vals []string) []string {
	var out []string
	seen := make(map[string]bool)
	for _, v := range vals {
		for s := range strings.SplitSeq(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" || seen[s] {
				continue
			}
			seen[s] = true
			out = append(out, s)
			if len(out) > 200 {
				return out // the service refuses that many
			}
		}
	}
	return out
}

// choice is one checkbox or radio button.
type choice struct {
	ID, Value, Label string
	Checked          bool
}

// prefsForm holds the choices the subscribe form and the preference
// center share, and what is wrong with them.
type prefsForm struct {
	Topics                                 []choice
	Frequencies                            []choice
	Langs                                  []choice
	Alerts                                 bool
	TopicsError, FrequencyError, LangError string
	zoneField
}

// prefsValues are a reader's choices as the form shows them.
type prefsValues struct {
	topics    []string
	frequency news.Frequency
	lang      news.Lang
	alerts    bool
	timezone  string
}

// form builds the shared choices in l from the publication's topics.
func (s *handler) form(l news.Lang, topics []news.Topic, v prefsValues) prefsForm {
	var f prefsForm
	picked := make(map[string]bool, len(v.topics))
	for _, t := range v.topics {
		picked[t] = true
	}
	for _, t := range topics {
		f.Topics = append(f.Topics, choice{ID: "topic-" + t.Slug, Value: t.Slug, Label: t.Name, Checked: picked[t.Slug]})
	}
	if !v.frequency.Valid() {
		v.frequency = news.Daily
	}
	for _, fr := range []news.Frequency{news.Daily, news.Weekly} {
		f.Frequencies = append(f.Frequencies, choice{ID: "frequency-" + string(fr), Value: string(fr),
			Label: s.srv.T(l, "page.common.frequency_"+string(fr)), Checked: fr == v.frequency})
	}
	if !v.lang.Valid() {
		v.lang = l
	}
	for _, lg := range []news.Lang{news.French, news.English} {
		// Each language is named in itself, as readers look for it.
		f.Langs = append(f.Langs, choice{ID: "lang-" + string(lg), Value: string(lg),
			Label: s.srv.T(lg, "lang."+string(lg)), Checked: lg == v.lang})
	}
	f.Alerts = v.alerts
	f.Timezone, f.DefaultZone = v.timezone, s.d.Location.String()
	return f
}

// fieldErrors puts a validation error next to its field and in the
// error summary. It reports false when err is not about the reader's input.
func (s *handler) fieldErrors(l news.Lang, err error, h *pageHead, f *prefsForm, emailErr *string) bool {
	e, ok := news.AsError(err)
	if !ok {
		return false
	}
	msg := s.srv.T(l, web.MessageKey(e))
	switch {
	case e.Field == "email" && emailErr != nil:
		*emailErr = msg
		h.Errors = append(h.Errors, errorItem{Href: "#email", Message: msg})
	case e.Field == "topics":
		f.TopicsError = msg
		href := "#topics"
		if len(f.Topics) > 0 {
			href = "#" + f.Topics[0].ID
		}
		h.Errors = append(h.Errors, errorItem{Href: href, Message: msg})
	case e.Field == "frequency":
		f.FrequencyError = msg
		h.Errors = append(h.Errors, errorItem{Href: "#frequency-daily", Message: msg})
	case e.Field == "lang":
		f.LangError = msg
		h.Errors = append(h.Errors, errorItem{Href: "#lang-fr", Message: msg})
	case e.Field == "timezone":
		f.TimezoneError = msg
		h.Errors = append(h.Errors, errorItem{Href: "#timezone", Message: msg})
	default:
		h.Errors = append(h.Errors, errorItem{Message: msg})
	}
	return true
}

// pageFail shows the error page for err, logging unexpected errors;
// frameable keeps the subscribe pages embeddable.
func (s *handler) pageFail(w http.ResponseWriter, r *http.Request, l news.Lang, frameable bool, err error) {
	status := web.StatusOf(err)
	if status >= 500 {
		s.d.Log.Error("reader page failed", "method", r.Method, "path", web.SafePath(r), "err", err)
	}
	if !l.Valid() {
		l = s.requestLang(r)
	}
	title := "page.error.title"
	if e, ok := news.AsError(err); ok && e.Code == news.CodeRevokedToken {
		title = "page.error.revoked_title"
	}
	m := s.messagePageLang(l, title, web.MessageKey(err))
	m.Frameable = frameable
	if e, ok := news.AsError(err); ok && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", retryAfter(e.RetryAfter))
	}
	s.page(w, r, status, "message", m)
}

// retryAfter is a Retry-After value in whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int((d+time.Second-1)/time.Second)))
}

// subscribeData is the subscribe form.
type subscribeData struct {
	pageHead
	Heading    string
	Action     string
	Email      string
	EmailError string
	Form       prefsForm
}

// subscribeHead is the head of the subscribe pages: frameable, compact
// with ?embed=1.
func subscribeHead(r *http.Request, l news.Lang) pageHead {
	// The nonce lets the form's script fill in the browser's time zone.
	return pageHead{Lang: l, Frameable: true, Embed: truthy(r.URL.Query().Get("embed")), Nonce: newNonce()}
}

// subscribeAction is where the form posts: /subscribe, keeping the page
// language and the embed mode.
func (s *handler) subscribeAction(l news.Lang, embed bool) string {
	q := url.Values{"lang": {string(l)}}
	if embed {
		q.Set("embed", "1")
	}
	return s.path("/subscribe", q)
}

// subscribeForm is GET /subscribe.
func (s *handler) subscribeForm(w http.ResponseWriter, r *http.Request) {
	l := s.requestLang(r)
	topics, err := s.srv.Topics(r.Context(), l)
	if err != nil {
		s.pageFail(w, r, l, true, fmt.Errorf("subscribe form: %w", err))
		return
	}
	h := subscribeHead(r, l)
	h.Title = s.srv.T(l, "page.subscribe.title", s.srv.SiteName())
	h.LangLinks = s.langLinks(r, l)
	q := r.URL.Query()
	d := subscribeData{pageHead: h, Heading: h.Title, Action: s.subscribeAction(l, h.Embed),
		Form: s.form(l, topics, prefsValues{topics: slugs(q["topics"]), lang: l})}
	s.page(w, r, http.StatusOK, "subscribe", d)
}

// subscribeSubmit is POST /subscribe, from this form or a publisher's.
func (s *handler) subscribeSubmit(w http.ResponseWriter, r *http.Request) {
	if err := web.ParseForm(w, r); err != nil {
		s.pageFail(w, r, "", true, err)
		return
	}
	f := r.PostForm
	email := strings.TrimSpace(f.Get("email"))
	emailLang := news.Lang(f.Get("lang"))
	l := queryLang(r)
	if l == "" {
		if emailLang.Valid() {
			l = emailLang
		} else {
			l = acceptLang(r.Header.Get("Accept-Language"))
		}
	}
	if f.Get("lang") == "" {
		emailLang = l
	}
	v := prefsValues{topics: slugs(f["topics"]), frequency: news.Frequency(f.Get("frequency")), lang: emailLang, alerts: truthy(f.Get("alerts")),
		timezone: f.Get("timezone")}

	var err error
	if email == "" {
		err = news.FieldError(news.CodeInvalidEmail, "email", "An email address is required.")
	} else {
		err = s.d.Subscribe.Subscribe(r.Context(), subscribe.Request{Email: email, Topics: v.topics,
			Frequency: v.frequency, Lang: v.lang, Alerts: v.alerts, Timezone: v.timezone, Client: s.srv.ClientIP(r)})
	}
	h := subscribeHead(r, l)
	if err == nil {
		h.Title = s.srv.T(l, "page.subscribe.sent_title")
		h.NoIndex = true
		s.page(w, r, http.StatusOK, "message", messageData{pageHead: h,
			Paragraphs: []string{s.srv.T(l, "page.subscribe.sent_body")}})
		return
	}
	e, ok := news.AsError(err)
	if !ok {
		s.pageFail(w, r, l, true, fmt.Errorf("subscribe: %w", err))
		return
	}

	// The reader's input comes back with what is wrong with it.
	topics, terr := s.srv.Topics(r.Context(), l)
	if terr != nil {
		s.pageFail(w, r, l, true, fmt.Errorf("subscribe form: %w", terr))
		return
	}
	h.Title = s.srv.T(l, "page.subscribe.title", s.srv.SiteName())
	d := subscribeData{pageHead: h, Heading: h.Title, Action: s.subscribeAction(l, h.Embed), Email: email,
		Form: s.form(l, topics, v)}
	if email == "" {
		msg := s.srv.T(l, "page.error.email_required")
		d.EmailError = msg
		d.Errors = append(d.Errors, errorItem{Href: "#email", Message: msg})
	} else {
		s.fieldErrors(l, e, &d.pageHead, &d.Form, &d.EmailError)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", retryAfter(e.RetryAfter))
	}
	s.page(w, r, web.StatusFor(e.Code), "subscribe", d)
}

// tokenSubscriber returns the subscriber a link names for purpose, or
// shows the error page and reports false.
func (s *handler) tokenSubscriber(w http.ResponseWriter, r *http.Request, p subscribe.Purpose) (news.Subscriber, bool) {
	sub, err := s.d.Subscribe.Lookup(r.Context(), r.PathValue("token"), p)
	if err != nil {
		s.pageFail(w, r, "", false, fmt.Errorf("look up %s link: %w", p, err))
		return sub, false
	}
	return sub, true
}

// subscriberLang is the language of a subscriber's pages: theirs, or ?lang=.
func subscriberLang(r *http.Request, sub news.Subscriber) news.Lang {
	if l := queryLang(r); l != "" {
		return l
	}
	if sub.Lang.Valid() {
		return sub.Lang
	}
	return news.French
}

// prefsData is the preference center.
type prefsData struct {
	pageHead
	Email             string
	Form              prefsForm
	Paused            bool
	Saved             bool
	Unsubscribed      bool
	Action            string
	UnsubscribeAction string
	EraseAction       string
	SignOutAction     string
	DataURL           string
	SubscribeURL      string
	// ClicksNote says whether the stories the reader opens are kept with
	// their address (CRIEUR_TRACK_READERS) or counted without it.
	ClicksNote string
	// KeepAction, when set, asks the reader "still want this?"
	// (CRIEUR_SUNSET_AFTER): they were asked by email and have not answered.
	KeepAction string
}

// prefsPage builds the preference center of sub in l.
func (s *handler) prefsPage(r *http.Request, sub news.Subscriber, l news.Lang, topics []news.Topic, v prefsValues, paused bool) prefsData {
	base := "/preferences/" + url.PathEscape(r.PathValue("token"))
	q := langQuery(r)
	d := prefsData{
		pageHead:          pageHead{Lang: l, Title: s.srv.T(l, "page.preferences.title"), NoIndex: true, Nonce: newNonce()},
		Email:             sub.Email,
		Form:              s.form(l, topics, v),
		Paused:            paused,
		Unsubscribed:      sub.Status.Stopped(),
		Action:            s.path(base, q),
		UnsubscribeAction: s.path(base+"/unsubscribe", q),
		EraseAction:       s.path(base+"/erase", q),
		SignOutAction:     s.path(base+"/signout", q),
		DataURL:           s.path(base+"/data", nil),
		SubscribeURL:      s.path("/subscribe", url.Values{"lang": {string(l)}}),
		ClicksNote:        s.clicksNote(l),
	}
	d.Form.ZoneVisible = true
	return d
}

// preferencesPage is GET /preferences/{token}.
func (s *handler) preferencesPage(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.tokenSubscriber(w, r, subscribe.PurposePreferences)
	if !ok {
		return
	}
	l := subscriberLang(r, sub)
	topics, err := s.srv.Topics(r.Context(), l)
	if err != nil {
		s.pageFail(w, r, l, false, fmt.Errorf("preference center: %w", err))
		return
	}
	d := s.prefsPage(r, sub, l, topics, prefsValues{topics: sub.Topics, frequency: sub.Frequency, lang: sub.Lang, alerts: sub.Alerts, timezone: sub.Timezone}, sub.Paused)
	d.LangLinks = s.langLinks(r, l)
	if d.KeepAction, err = s.keepAction(r, sub); err != nil {
		s.pageFail(w, r, l, false, fmt.Errorf("preference center: %w", err))
		return
	}
	s.page(w, r, http.StatusOK, "preferences", d)
}

// preferencesSave is POST /preferences/{token}: it saves and shows the
// page again with a notice, or the reader's input with what is wrong.
func (s *handler) preferencesSave(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.tokenSubscriber(w, r, subscribe.PurposePreferences)
	if !ok {
		return
	}
	if err := web.ParseForm(w, r); err != nil {
		s.pageFail(w, r, subscriberLang(r, sub), false, err)
		return
	}
	f := r.PostForm
	u := subscribe.PrefsUpdate{Topics: slugs(f["topics"]), Frequency: news.Frequency(f.Get("frequency")),
		Lang: news.Lang(f.Get("lang")), Alerts: truthy(f.Get("alerts")), Paused: truthy(f.Get("paused")), Timezone: postedZone(f, sub)}
	err := s.d.Subscribe.UpdatePrefs(r.Context(), sub.ID, u)
	if err != nil {
		if _, isUser := news.AsError(err); !isUser {
			s.pageFail(w, r, subscriberLang(r, sub), false, fmt.Errorf("save preferences: %w", err))
			return
		}
	}
	topics, terr := s.srv.Topics(r.Context(), subscriberLang(r, sub))
	if terr != nil {
		s.pageFail(w, r, subscriberLang(r, sub), false, fmt.Errorf("preference center: %w", terr))
		return
	}
	v := prefsValues{topics: u.Topics, frequency: u.Frequency, lang: u.Lang, alerts: u.Alerts, timezone: u.Timezone}
	if err != nil {
		l := subscriberLang(r, sub)
		d := s.prefsPage(r, sub, l, topics, v, u.Paused)
		s.fieldErrors(l, err, &d.pageHead, &d.Form, nil)
		s.page(w, r, web.StatusOf(err), "preferences", d)
		return
	}
	// Saved: the page now speaks the language the reader chose.
	if fresh, ferr := s.d.Store.SubscriberByID(r.Context(), sub.ID); ferr == nil {
		sub = fresh
	}
	l := subscriberLang(r, sub)
	d := s.prefsPage(r, sub, l, topics, prefsValues{topics: sub.Topics, frequency: sub.Frequency, lang: sub.Lang, alerts: sub.Alerts, timezone: sub.Timezone}, sub.Paused)
	d.Saved = true
	s.page(w, r, http.StatusOK, "preferences", d)
}

// preferencesData is GET /preferences/{token}/data: everything crieur
// holds about the reader, as a JSON download.
func (s *handler) preferencesData(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.tokenSubscriber(w, r, subscribe.PurposePreferences)
	if !ok {
		return
	}
	d, err := s.d.Subscribe.Export(r.Context(), sub.ID)
	if err != nil {
		s.pageFail(w, r, sub.Lang, false, fmt.Errorf("export subscriber data: %w", err))
		return
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		s.pageFail(w, r, sub.Lang, false, fmt.Errorf("encode subscriber data: %w", err))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json; charset=utf-8")
	hd.Set("Content-Disposition", `attachment; filename="my-data.json"`)
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(b, '\n'))
}

// preferencesUnsubscribe is POST /preferences/{token}/unsubscribe.
func (s *handler) preferencesUnsubscribe(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.tokenSubscriber(w, r, subscribe.PurposePreferences)
	if !ok {
		return
	}
	l := subscriberLang(r, sub)
	if err := s.d.Subscribe.Unsubscribe(r.Context(), sub.ID, "preferences"); err != nil {
		s.pageFail(w, r, l, false, fmt.Errorf("unsubscribe: %w", err))
		return
	}
	m := s.messagePageLang(l, "page.unsubscribe.done_title", "page.unsubscribe.done_body")
	m.Links = []pageLink{
		{URL: s.path("/preferences/"+url.PathEscape(r.PathValue("token")), langQuery(r)), Label: s.srv.T(l, "page.preferences.back")},
		{URL: s.path("/subscribe", url.Values{"lang": {string(l)}}), Label: s.srv.T(l, "page.unsubscribe.resubscribe")},
	}
	s.page(w, r, http.StatusOK, "message", m)
}

// eraseData is the step that asks before erasing.
type eraseData struct {
	pageHead
	Email     string
	Action    string
	CancelURL string
}

// preferencesErase is POST /preferences/{token}/erase: without
// confirm=yes it asks; with it, it erases the reader for good.
func (s *handler) preferencesErase(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.tokenSubscriber(w, r, subscribe.PurposePreferences)
	if !ok {
		return
	}
	l := subscriberLang(r, sub)
	if err := web.ParseForm(w, r); err != nil {
		s.pageFail(w, r, l, false, err)
		return
	}
	base := "/preferences/" + url.PathEscape(r.PathValue("token"))
	if r.PostForm.Get("confirm") != "yes" {
		s.page(w, r, http.StatusOK, "erase", eraseData{
			pageHead:  pageHead{Lang: l, Title: s.srv.T(l, "page.preferences.erase_confirm"), NoIndex: true},
			Email:     sub.Email,
			Action:    s.path(base+"/erase", langQuery(r)),
			CancelURL: s.path(base, langQuery(r)),
		})
		return
	}
	if err := s.d.Subscribe.Erase(r.Context(), sub.ID); err != nil {
		s.pageFail(w, r, l, false, fmt.Errorf("erase subscriber: %w", err))
		return
	}
	m := s.messagePageLang(l, "page.preferences.erased_title", "page.preferences.erased_body")
	s.page(w, r, http.StatusOK, "message", m)
}
