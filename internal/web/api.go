package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crieur/crieur/internal/feed"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/subscribe"
)

func newsStatus(s string) news.Status { return news.Status(s) }

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	m.HandleFunc("GET /readyz", s.readyz)
	if s.d.Metrics != nil && !s.d.MetricsElsewhere {
		m.Handle("GET /metrics", s.d.Metrics.Handler())
	}

	// Readers (public, CORS for the publisher's origins).
	m.HandleFunc("GET /api/v1/topics", s.cors(s.listTopics))
	m.HandleFunc("OPTIONS /api/v1/topics", s.cors(nil))
	m.HandleFunc("POST /api/v1/subscriptions", s.cors(s.apiSubscribe))
	m.HandleFunc("OPTIONS /api/v1/subscriptions", s.cors(nil))
	m.HandleFunc("GET /api/v1/push/key", s.cors(s.pushKey))
	m.HandleFunc("POST /api/v1/push/subscriptions", s.cors(s.pushSubscribe))
	m.HandleFunc("DELETE /api/v1/push/subscriptions", s.cors(s.pushUnsubscribe))
	m.HandleFunc("OPTIONS /api/v1/push/", s.cors(nil))
	m.HandleFunc("GET /push/widget.js", s.staticFile("static/push/widget.js", "text/javascript; charset=utf-8"))
	m.HandleFunc("GET /push/sw.js", s.staticFile("static/push/sw.js", "text/javascript; charset=utf-8"))
	m.HandleFunc("POST /unsubscribe/{token}", s.oneClickUnsubscribe)
	m.HandleFunc("GET "+subscribe.PreviewPath, s.previewLinkPage)
	s.pageRoutes()
	// Unknown API paths (and known ones called with the wrong method)
	// answer in the API's JSON error shape.
	m.HandleFunc("/api/v1/", s.apiFallback)

	// Bearer-token routes, with the role the contract gives each: a
	// CMS's editor token publishes; creating topics and reading or erasing
	// a reader need an admin token.
	s.apiRoute("POST /api/v1/topics", news.RoleAdmin, s.createTopic)
	s.apiRoute("POST /api/v1/articles", news.RoleEditor, s.createArticle)
	s.apiRoute("POST /api/v1/digests/{frequency}/run", news.RoleEditor, s.runDigest)
	s.apiRoute("GET /api/v1/digests/runs/{id}", news.RoleEditor, s.getRun)
	s.apiRoute("POST /api/v1/alerts", news.RoleEditor, s.createAlert)
	s.apiRoute("GET /api/v1/alerts/{id}", news.RoleEditor, s.getAlert)
	s.apiRoute("POST /api/v1/alerts/{id}/cancel", news.RoleEditor, s.cancelAlert)
	s.apiRoute("GET /api/v1/subscribers/{email}", news.RoleAdmin, s.getSubscriber)
	s.apiRoute("DELETE /api/v1/subscribers/{email}", news.RoleAdmin, s.deleteSubscriber)
	s.adminRoutes()
}

// RouteRole is a guarded route and the role it needs.
type RouteRole struct {
	Pattern string
	Role    news.Role
}

// apiRoute registers a Bearer-token route; every editor route goes through
// here, so the route table test sees them all.
func (s *Server) apiRoute(pattern string, need news.Role, h http.HandlerFunc) {
	s.api = append(s.api, RouteRole{Pattern: pattern, Role: need})
	s.mux.HandleFunc(pattern, s.bearer(need, h))
}

// APIRoutes lists the Bearer-token routes as registered.
func (s *Server) APIRoutes() []RouteRole { return append([]RouteRole(nil), s.api...) }

// bearerToken is the token of an "Authorization: Bearer" header; the
// scheme's case does not matter (RFC 7235 2.1).
func bearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || len(tok) > 200 {
		return "", false
	}
	return tok, true
}

// apiFallback answers 405 (with Allow) when the path exists for another
// method, else 404.
func (s *Server) apiFallback(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/api/v1/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, &news.Error{Code: "method_not_allowed", Message: "This route does not take " + r.Method + "."}, http.StatusMethodNotAllowed)
		return
	}
	writeError(w, news.Errorf(news.CodeNotFound, "No such API route."), http.StatusNotFound)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.d.Store.Ping(ctx); err != nil {
		writeJSON(w, 503, map[string]string{"status": "database unreachable"})
		return
	}
	writeJSON(w, 200, map[string]string{"status": "ready"})
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
func (s *Server) audit(r *http.Request, action, target, detail string) {
	if err := s.d.Store.Audit(r.Context(), actorOf(r.Context()), action, target, detail); err != nil {
		s.d.Log.Error("audit", "action", action, "err", err)
	}
}

// NewAPIToken returns a new API token: a prefix that secret scanners can
// recognise and 256 random bits. Only its HashToken is stored.
func NewAPIToken() string { return "crieur_" + randomToken(32) }

// HashToken is how API tokens are stored: their SHA-256, so a database
// leak reveals no usable token.
func HashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// bearer guards an editor route: 401 without a valid, unrevoked token,
// 403 when its role is too low.
func (s *Server) bearer(need news.Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearerToken(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="crieur"`)
			writeError(w, news.Errorf(news.CodeUnauthorized, "Send Authorization: Bearer TOKEN."), 401)
			return
		}
		t, err := s.d.Store.LookupAPIToken(r.Context(), HashToken(tok))
		if err != nil || !t.RevokedAt.IsZero() {
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				s.fail(w, r, err)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="crieur", error="invalid_token"`)
			writeError(w, news.Errorf(news.CodeUnauthorized, "This token is not valid."), 401)
			return
		}
		if !t.Role.Allows(need) {
			writeError(w, news.Errorf(news.CodeForbidden, "This token's role (%s) cannot do this.", t.Role), 403)
			return
		}
		ctx := context.WithValue(r.Context(), actorKey{}, caller{actor: "token:" + t.Name, tokenID: t.ID})
		h(w, r.WithContext(ctx))
	}
}

type topicJSON struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

func (s *Server) listTopics(w http.ResponseWriter, r *http.Request) {
	ts, err := s.d.Store.Topics(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]topicJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, topicJSON{Slug: t.Slug, Name: t.Name})
	}
	writeJSON(w, 200, out)
}

func (s *Server) createTopic(w http.ResponseWriter, r *http.Request) {
	var in topicJSON
	if err := decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := ValidateTopic(in.Slug, in.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.d.Store.CreateTopic(r.Context(), in.Slug, in.Name); err != nil {
		if errors.Is(err, store.ErrConflict) {
			s.fail(w, r, news.FieldError(news.CodeConflict, "slug", "A topic with this slug exists."))
			return
		}
		s.fail(w, r, err)
		return
	}
	s.audit(r, "topic.create", in.Slug, in.Name)
	writeJSON(w, 201, in)
}

// ValidateTopic checks a topic slug ([a-z0-9-], 1–64) and name.
func ValidateTopic(slug, name string) error {
	if slug == "" || len(slug) > 64 {
		return news.FieldError(news.CodeInvalid, "slug", "slug must be 1 to 64 characters")
	}
	for _, c := range slug {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return news.FieldError(news.CodeInvalid, "slug", "slug may hold only a-z, 0-9 and -")
		}
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 || strings.ContainsAny(name, "\r\n\x00") {
		return news.FieldError(news.CodeInvalid, "name", "name must be 1 to 200 characters on one line")
	}
	return nil
}

type subscribeJSON struct {
	Email     string   `json:"email"`
	Topics    []string `json:"topics"`
	Frequency string   `json:"frequency"`
	Lang      string   `json:"lang"`
	Alerts    bool     `json:"alerts"`
}

func (s *Server) apiSubscribe(w http.ResponseWriter, r *http.Request) {
	var in subscribeJSON
	if err := decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	err := s.d.Subscribe.Subscribe(r.Context(), subscribe.Request{Email: in.Email, Topics: in.Topics,
		Frequency: news.Frequency(in.Frequency), Lang: news.Lang(in.Lang), Alerts: in.Alerts, Client: s.clientIP(r)})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 202, map[string]string{"status": "pending"})
}

// oneClickUnsubscribe is RFC 8058: a POST unsubscribes at once and answers
// 200, never a redirect. The HTML form on the GET page posts here too.
// It is idempotent: a genuine link whose reader has since been erased
// answers 200 as well, since there is no one left to send email to.
func (s *Server) oneClickUnsubscribe(w http.ResponseWriter, r *http.Request) {
	if err := parseOneClickForm(w, r); err != nil && statusOf(err) == http.StatusRequestEntityTooLarge {
		s.pageFail(w, r, "", false, err)
		return
	}
	sub, err := s.d.Subscribe.Lookup(r.Context(), r.PathValue("token"), subscribe.PurposeUnsubscribe)
	if err != nil && !subscriberGone(err) {
		s.pageFail(w, r, "", false, fmt.Errorf("look up unsubscribe link: %w", err))
		return
	}
	l := s.requestLang(r)
	if err == nil {
		if err := s.d.Subscribe.Unsubscribe(r.Context(), sub.ID, "one-click"); err != nil && !subscriberGone(err) {
			s.pageFail(w, r, sub.Lang, false, fmt.Errorf("unsubscribe: %w", err))
			return
		}
		l = sub.Lang
	}
	if r.FormValue("List-Unsubscribe") == "One-Click" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(200)
		w.Write([]byte("unsubscribed\n"))
		return
	}
	s.page(w, r, 200, "message", s.messagePageLang(l, "page.unsubscribe.done_title", "page.unsubscribe.done_body"))
}

// subscriberGone reports whether err says a validly signed link names a
// subscriber who no longer exists (erased, or never confirmed and
// deleted). Token errors never wrap store.ErrNotFound.
func subscriberGone(err error) bool { return errors.Is(err, store.ErrNotFound) }

func statusOf(err error) int {
	if e, ok := news.AsError(err); ok {
		return statusFor(e.Code)
	}
	if errors.Is(err, store.ErrNotFound) {
		return 404
	}
	return 500
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
}

func (s *Server) createArticle(w http.ResponseWriter, r *http.Request) {
	var in articleJSON
	if err := decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := validateArticle(in, s.d.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, unknown, err := s.d.Store.TopicIDs(r.Context(), a.Topics); err != nil {
		s.fail(w, r, err)
		return
	} else if len(unknown) > 0 {
		s.fail(w, r, news.FieldError(news.CodeUnknownTopic, "topics", "unknown topic %q", unknown[0]))
		return
	}
	id, created, err := s.d.Store.SaveArticle(r.Context(), a)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := 200
	if created {
		status = 201
	}
	writeJSON(w, status, map[string]string{"id": strconv.FormatInt(id, 10)})
}

// validateArticle checks an article from the CMS API. Its title, summary
// and author become plain text the way feed items do (feed.PlainText): a
// CMS such as WordPress sends HTML with entities ("L&apos;État &amp; moi",
// "<p>Le <strong>budget</strong>&hellip;</p>"), which digests would show
// literally; text that is not markup ("Tom & Jerry <3") stays as written.
func validateArticle(in articleJSON, now time.Time) (news.Article, error) {
	a := news.Article{GUID: strings.TrimSpace(in.GUID), URL: strings.TrimSpace(in.URL), Title: feed.PlainText(in.Title),
		Summary: feed.PlainText(in.Summary), ImageURL: strings.TrimSpace(in.ImageURL), Author: feed.PlainText(in.Author), Topics: in.Topics, CreatedAt: now}
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

func (s *Server) runDigest(w http.ResponseWriter, r *http.Request) {
	f := news.Frequency(r.PathValue("frequency"))
	if !f.Valid() {
		s.fail(w, r, news.FieldError(news.CodeInvalid, "frequency", "frequency must be daily or weekly"))
		return
	}
	id, err := s.d.Digests.RunNow(r.Context(), f, actorOf(r.Context()))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 202, map[string]string{"id": strconv.FormatInt(id, 10)})
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, news.Errorf(news.CodeNotFound, "No such id.")
	}
	return id, nil
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
	Error        string `json:"error,omitempty"`
}

// RunToJSON converts a run for the API.
func RunToJSON(ri store.RunInfo) RunJSON {
	return RunJSON{ID: strconv.FormatInt(ri.ID, 10), Frequency: string(ri.Frequency), State: string(ri.State),
		Recipients: ri.Recipients, Sent: ri.Sent, Failed: ri.Failed, SkippedEmpty: ri.SkippedEmpty, Error: ri.Error}
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ri, err := s.d.Store.Run(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, RunToJSON(ri))
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
}

func (s *Server) createAlert(w http.ResponseWriter, r *http.Request) {
	var in alertJSON
	if err := decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	req := AlertRequest{Title: in.Title, Body: in.Body, URL: in.URL, ImageURL: in.ImageURL, Topics: in.Topics,
		TTLSeconds: in.TTLSeconds, Urgency: news.Urgency(in.Urgency), Email: in.Email, CreatedBy: actorOf(r.Context())}
	if in.Replaces != nil {
		id, err := strconv.ParseInt(*in.Replaces, 10, 64)
		if err != nil {
			s.fail(w, r, news.FieldError(news.CodeInvalid, "replaces", "replaces must be an alert id"))
			return
		}
		req.Replaces = id
	}
	if in.SendAt != "" {
		t, err := time.Parse(time.RFC3339, in.SendAt)
		if err != nil {
			s.fail(w, r, news.FieldError(news.CodeInvalid, "send_at", "send_at must be RFC 3339"))
			return
		}
		req.SendAt = t
	}
	once, err := apiOnce(r, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req.Once = once
	id, err := s.d.Alerts.Send(r.Context(), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 202, map[string]string{"id": strconv.FormatInt(id, 10)})
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
}

// AlertToJSON converts an alert for the API.
func AlertToJSON(a store.AlertInfo) AlertJSON {
	st := a.State
	if st == news.AlertScheduled {
		st = news.AlertSending
	}
	return AlertJSON{ID: strconv.FormatInt(a.ID, 10), State: string(st), Targeted: a.Targeted, Delivered: a.Delivered,
		Failed: a.Failed, Expired: a.Expired, Emails: a.Emails, EmailSent: a.EmailSent, Title: a.Title}
}

func (s *Server) getAlert(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := s.d.Alerts.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, AlertToJSON(a))
}

func (s *Server) cancelAlert(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.d.Alerts.Cancel(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, "alert.cancel", strconv.FormatInt(id, 10), "")
	a, err := s.d.Alerts.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, AlertToJSON(a))
}
