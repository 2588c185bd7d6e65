// Package api is the editors' JSON API under /api/v1/: publishing
// articles, sending and cancelling alerts, starting digest runs, creating
// topics and looking up or erasing a reader. Every route proves its caller
// with a Bearer token (an API token and its role); errors are the
// contract's JSON shape, written by package web.
//
// It imports web (the server it registers on) and the services below it,
// never another room (web/reader, web/admin).
package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crieur/crieur/internal/desk"
	"github.com/crieur/crieur/internal/feed"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/web"
)

// RouteRole is a guarded route and the role it needs.
type RouteRole struct {
	Pattern string
	Role    news.Role
}

// route is one Bearer-token route: its pattern, the role it needs and its
// handler.
type route struct {
	pattern string
	role    news.Role
	handle  func(*handler, http.ResponseWriter, *http.Request)
}

// routeList is every Bearer-token route, with the role the contract gives
// each: a CMS's editor token publishes; creating topics and reading or
// erasing a reader need an admin token. Register serves exactly these, so
// the route table test sees them all.
var routeList = []route{
	{"POST /api/v1/topics", news.RoleAdmin, (*handler).createTopic},
	{"POST /api/v1/articles", news.RoleEditor, (*handler).createArticle},
	{"GET /api/v1/articles/{id}", news.RoleEditor, (*handler).getArticle},
	{"POST /api/v1/digests/{frequency}/run", news.RoleEditor, (*handler).runDigest},
	{"GET /api/v1/digests/runs/{id}", news.RoleEditor, (*handler).getRun},
	{"POST /api/v1/alerts", news.RoleEditor, (*handler).createAlert},
	{"GET /api/v1/alerts/{id}", news.RoleEditor, (*handler).getAlert},
	{"POST /api/v1/alerts/{id}/cancel", news.RoleEditor, (*handler).cancelAlert},
	{"POST /api/v1/alerts/{id}/approve", news.RoleEditor, (*handler).approveAlert},
	{"GET /api/v1/subscribers/{email}", news.RoleAdmin, (*handler).getSubscriber},
	{"DELETE /api/v1/subscribers/{email}", news.RoleAdmin, (*handler).deleteSubscriber},
	{"POST /api/v1/webhooks", news.RoleAdmin, (*handler).createWebhook},
	{"GET /api/v1/webhooks", news.RoleAdmin, (*handler).listWebhooks},
	{"DELETE /api/v1/webhooks/{id}", news.RoleAdmin, (*handler).deleteWebhook},
}

// Routes lists the Bearer-token routes and their roles, as Register
// serves them.
func Routes() []RouteRole {
	out := make([]RouteRole, 0, len(routeList))
	for _, rt := range routeList {
		out = append(out, RouteRole{Pattern: rt.pattern, Role: rt.role})
	}
	return out
}

// handler serves the API's routes over the server's dependencies.
type handler struct {
	srv *web.Server
	d   web.Deps
}

// Register adds the API to srv: every route of Routes behind its Bearer
// token check, and the JSON 404/405 answer for any other /api/v1/ path.
func Register(srv *web.Server) {
	s := &handler{srv: srv, d: srv.Deps()}
	if s.d.ReaderReads == nil {
		s.d.ReaderReads = readerReads()
	}
	for _, rt := range routeList {
		h := rt.handle
		srv.HandleFunc(rt.pattern, s.bearer(rt.role, func(w http.ResponseWriter, r *http.Request) { h(s, w, r) }))
	}
	s.registerOpenAPI()
	// Unknown API paths (and known ones called with the wrong method)
	// answer in the API's JSON error shape.
	srv.HandleFunc("/api/v1/", s.apiFallback)
}

// actorKey holds who made a Bearer-token request, for the audit log.
type actorKey struct{}

// caller is the token behind a Bearer-token request.
type caller struct {
	actor   string // "token:NAME", as the audit log names it
	tokenID int64  // the key of per-token rate limits (names may repeat)
}

func actorOf(ctx context.Context) string {
	if c, ok := ctx.Value(actorKey{}).(caller); ok {
		return c.actor
	}
	return "unknown"
}

func tokenIDOf(ctx context.Context) int64 {
	c, _ := ctx.Value(actorKey{}).(caller)
	return c.tokenID
}

// audit records what a Bearer-token request did; a failed write is
// logged (the request itself has succeeded and is answered as such).
func (s *handler) audit(r *http.Request, action, target, detail string) {
	if err := s.d.Store.Audit(r.Context(), actorOf(r.Context()), action, target, detail); err != nil {
		s.d.Log.Error("audit", "action", action, "err", err)
	}
}

// bearer guards an editor route: 401 without a valid, unrevoked token,
// 403 when its role is too low.
func (s *handler) bearer(need news.Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := web.BearerToken(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="crieur"`)
			web.WriteError(w, news.Errorf(news.CodeUnauthorized, "Send Authorization: Bearer TOKEN."), 401)
			return
		}
		t, err := s.d.Store.LookupAPIToken(r.Context(), desk.HashToken(tok))
		if err != nil || !t.RevokedAt.IsZero() {
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				s.srv.Fail(w, r, err)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="crieur", error="invalid_token"`)
			web.WriteError(w, news.Errorf(news.CodeUnauthorized, "This token is not valid."), 401)
			return
		}
		if !t.Role.Allows(need) {
			web.WriteError(w, news.Errorf(news.CodeForbidden, "This token's role (%s) cannot do this.", t.Role), 403)
			return
		}
		ctx := context.WithValue(r.Context(), actorKey{}, caller{actor: "token:" + t.Name, tokenID: t.ID})
		h(w, r.WithContext(ctx))
	}
}

// topicJSON is a topic as POST /api/v1/topics takes it and answers it.
type topicJSON struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

func (s *handler) createTopic(w http.ResponseWriter, r *http.Request) {
	var in topicJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	if _, err := s.d.Desk.CreateTopic(r.Context(), actorOf(r.Context()), in.Slug, in.Name); err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	web.WriteJSON(w, 201, in)
}

type articleJSON struct {
	GUID        string   `json:"guid"`
	URL         string   `json:"url"`
	Title       string   `json:"title"`
	Summary     string   `json:"summary"`
	Topics      []string `json:"topics"`
	PublishedAt string   `json:"published_at"`
	ImageURL    string   `json:"image_url"`
	Author      string   `json:"author"`
	Breaking    bool     `json:"breaking"`
}

func (s *handler) createArticle(w http.ResponseWriter, r *http.Request) {
	var in articleJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	a, err := validateArticle(in, s.d.Now())
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	if _, unknown, err := s.d.Store.TopicIDs(r.Context(), a.Topics); err != nil {
		s.srv.Fail(w, r, err)
		return
	} else if len(unknown) > 0 {
		s.srv.Fail(w, r, news.FieldError(news.CodeUnknownTopic, "topics", "unknown topic %q", unknown[0]))
		return
	}
	a.PostedBy = actorOf(r.Context())
	id, created, err := s.d.Store.SaveArticle(r.Context(), a)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	status := 200
	if created {
		status = 201
	}
	web.WriteJSON(w, status, map[string]string{"id": strconv.FormatInt(id, 10)})
}

// validateArticle checks an article from the CMS API. Its title, summary
// and author become plain text the way feed items do (feed.PlainText): a
// CMS such as WordPress sends HTML with entities ("L&apos;État &amp; moi",
// "<p>Le <strong>budget</strong>&hellip;</p>"), which digests would show
// literally; text that is not markup ("Tom & Jerry <3") stays as written.
func validateArticle(in articleJSON, now time.Time) (news.Article, error) {
	a := news.Article{GUID: strings.TrimSpace(in.GUID), URL: strings.TrimSpace(in.URL), Title: feed.PlainText(in.Title),
		Summary: feed.PlainText(in.Summary), ImageURL: strings.TrimSpace(in.ImageURL), Author: feed.PlainText(in.Author), Topics: in.Topics, CreatedAt: now,
		Breaking: in.Breaking}
	if !news.HTTPURL(a.URL) {
		return a, news.FieldError(news.CodeInvalid, "url", "url must be an absolute http(s) URL")
	}
	if a.ImageURL != "" && !news.HTTPURL(a.ImageURL) {
		return a, news.FieldError(news.CodeInvalid, "image_url", "image_url must be an absolute http(s) URL")
	}
	// Lengths are those of the text kept, markup and entities removed.
	if a.Title == "" || utf8.RuneCountInString(a.Title) > 500 {
		return a, news.FieldError(news.CodeInvalid, "title", "title must be 1 to 500 characters")
	}
	if utf8.RuneCountInString(a.Summary) > 5000 || len(a.GUID) > 500 || utf8.RuneCountInString(a.Author) > 200 {
		return a, news.FieldError(news.CodeInvalid, "summary", "summary, guid or author too long")
	}
	// Required (contract): digests choose articles by it, and defaulting
	// to now would present an old article as new.
	if in.PublishedAt == "" {
		return a, news.FieldError(news.CodeInvalid, "published_at", "published_at is required, as an RFC 3339 time")
	}
	t, err := time.Parse(time.RFC3339, in.PublishedAt)
	if err != nil {
		return a, news.FieldError(news.CodeInvalid, "published_at", "published_at must be an RFC 3339 time")
	}
	a.PublishedAt = t
	return a, nil
}

func (s *handler) runDigest(w http.ResponseWriter, r *http.Request) {
	f := news.Frequency(r.PathValue("frequency"))
	if !f.Valid() {
		s.srv.Fail(w, r, news.FieldError(news.CodeInvalid, "frequency", "frequency must be daily or weekly"))
		return
	}
	id, err := s.d.Digests.RunNow(r.Context(), f, actorOf(r.Context()))
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	web.WriteJSON(w, 202, map[string]string{"id": strconv.FormatInt(id, 10)})
}

// RunJSON is a digest run as the API shows it.
type RunJSON struct {
	ID           string `json:"id"`
	Frequency    string `json:"frequency"`
	State        string `json:"state"`
	Recipients   int64  `json:"recipients"`
	Sent         int64  `json:"sent"`
	Failed       int64  `json:"failed"`
	SkippedEmpty int64  `json:"skipped_empty"`
	// Clicks are readers' clicks on the run's tracked links; mail
	// scanners' fetches are ScannerClicks; Clickers the distinct clickers.
	Clicks        int64  `json:"clicks"`
	ScannerClicks int64  `json:"scanner_clicks"`
	Clickers      int64  `json:"clickers"`
	Error         string `json:"error,omitempty"`
}

// RunToJSON converts a run for the API.
func RunToJSON(ri store.RunInfo) RunJSON {
	return RunJSON{ID: strconv.FormatInt(ri.ID, 10), Frequency: string(ri.Frequency), State: string(ri.State),
		Recipients: ri.Recipients, Sent: ri.Sent, Failed: ri.Failed, SkippedEmpty: ri.SkippedEmpty, Error: ri.Error}
}

func (s *handler) getRun(w http.ResponseWriter, r *http.Request) {
	id, err := web.PathID(r)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	ri, err := s.d.Store.Run(r.Context(), id)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	j, err := s.withRunClicks(r.Context(), RunToJSON(ri), id)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	web.WriteJSON(w, 200, j)
}

type alertJSON struct {
	Title      string   `json:"title"`
	Body       string   `json:"body"`
	URL        string   `json:"url"`
	Topics     []string `json:"topics"`
	TTLSeconds *int     `json:"ttl_seconds"`
	Urgency    string   `json:"urgency"`
	Email      bool     `json:"email"`
	ImageURL   string   `json:"image_url"`
	Replaces   *string  `json:"replaces"`
	SendAt     string   `json:"send_at"`
	Priority   string   `json:"priority"`
}

func (s *handler) createAlert(w http.ResponseWriter, r *http.Request) {
	var in alertJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	req := news.AlertRequest{Title: in.Title, Body: in.Body, URL: in.URL, ImageURL: in.ImageURL, Topics: in.Topics,
		TTLSeconds: in.TTLSeconds, Urgency: news.Urgency(in.Urgency), Email: in.Email, CreatedBy: actorOf(r.Context()),
		Priority: news.Priority(in.Priority)}
	if in.Replaces != nil {
		id, err := strconv.ParseInt(*in.Replaces, 10, 64)
		if err != nil {
			s.srv.Fail(w, r, news.FieldError(news.CodeInvalid, "replaces", "replaces must be an alert id"))
			return
		}
		req.Replaces = id
	}
	if in.SendAt != "" {
		t, err := time.Parse(time.RFC3339, in.SendAt)
		if err != nil {
			s.srv.Fail(w, r, news.FieldError(news.CodeInvalid, "send_at", "send_at must be RFC 3339"))
			return
		}
		req.SendAt = t
	}
	once, err := apiOnce(r, in)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	req.Once = once
	id, err := s.d.Alerts.Send(r.Context(), req)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	web.WriteJSON(w, 202, map[string]string{"id": strconv.FormatInt(id, 10)})
}

// AlertJSON is an alert as the API shows it.
type AlertJSON struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Targeted  int64  `json:"targeted"`
	Delivered int64  `json:"delivered"`
	Failed    int64  `json:"failed"`
	Expired   int64  `json:"expired"`
	Emails    int64  `json:"emails"`
	EmailSent int64  `json:"emails_sent"`
	Title     string `json:"title"`
	// Shown and Clicked are the browsers whose service worker reported
	// the notification shown, and opened; EmailClicks the readers' clicks
	// on the alert email's link.
	Shown       int64  `json:"shown"`
	Clicked     int64  `json:"clicked"`
	EmailClicks int64  `json:"email_clicks"`
	Priority    string `json:"priority,omitempty"`
	// ApprovedBy names who approved it, when it waited for approval.
	ApprovedBy string `json:"approved_by,omitempty"`
	// Error says why it failed (an automatic alert whose article never
	// answered) or what it waits for.
	Error string `json:"error,omitempty"`
}

// AlertToJSON converts an alert for the API.
func AlertToJSON(a store.AlertInfo) AlertJSON {
	st := a.State
	if st == news.AlertScheduled {
		st = news.AlertSending
	}
	return AlertJSON{ID: strconv.FormatInt(a.ID, 10), State: string(st), Targeted: a.Targeted, Delivered: a.Delivered,
		Failed: a.Failed, Expired: a.Expired, Emails: a.Emails, EmailSent: a.EmailSent, Title: a.Title,
		Priority: string(a.Priority), ApprovedBy: a.ApprovedBy, Error: a.Error}
}

func (s *handler) getAlert(w http.ResponseWriter, r *http.Request) {
	id, err := web.PathID(r)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	a, err := s.d.Alerts.Get(r.Context(), id)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	j, err := s.withAlertEngagement(r.Context(), AlertToJSON(a), id)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	web.WriteJSON(w, 200, j)
}

func (s *handler) cancelAlert(w http.ResponseWriter, r *http.Request) {
	id, err := web.PathID(r)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	if err := s.d.Alerts.Cancel(r.Context(), id); err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	s.audit(r, "alert.cancel", strconv.FormatInt(id, 10), "")
	a, err := s.d.Alerts.Get(r.Context(), id)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	j, err := s.withAlertEngagement(r.Context(), AlertToJSON(a), id)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	web.WriteJSON(w, 200, j)
}

// apiFallback answers 405 (with Allow) when the path exists for another
// method, else 404.
func (s *handler) apiFallback(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if pattern := s.srv.Pattern(probe); pattern != "" && pattern != "/api/v1/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		web.WriteError(w, &news.Error{Code: "method_not_allowed", Message: "This route does not take " + r.Method + "."}, http.StatusMethodNotAllowed)
		return
	}
	web.WriteError(w, news.Errorf(news.CodeNotFound, "No such API route."), http.StatusNotFound)
}
