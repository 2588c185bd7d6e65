// Package web is the server under crieur's HTTP face: the middleware
// every request goes through (security headers, request log and metrics,
// the client's address behind trusted proxies, the base path, panic
// recovery), the one JSON writer with the one mapping of errors to HTTP
// statuses, the one HTML renderer, and the operator endpoints (health,
// readiness, metrics). It holds no handler of any audience: the reader
// pages and public JSON (web/reader), the editors' API (web/api) and the
// desk (web/admin) register on a Server, and web/site puts them together.
//
// It must not import its rooms (web/reader, web/api, web/admin, web/site).
package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/bounce"
	"github.com/crieur/crieur/internal/bounce/provider"
	"github.com/crieur/crieur/internal/click"
	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/desk"
	"github.com/crieur/crieur/internal/i18n"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/internal/webhook"
)

// MaxBody is the largest request body accepted (contract: 413 above 1 MiB).
const MaxBody = 1 << 20

// Deps is what the HTTP layer needs.
type Deps struct {
	Store     *store.Store
	Subscribe *subscribe.Service
	Alerts    Alerts
	Digests   Digests
	Feeds     Feeds
	Composer  *compose.Composer
	// Desk creates topics, tokens and users (validated, stored, audited
	// as the command line does); nil: one over Store and Log.
	Desk *desk.Service
	// Strings is the message catalogue pages are written in; nil: the
	// Composer's, so pages and emails say the same words.
	Strings *i18n.Catalog
	Metrics *Metrics
	// MetricsElsewhere: /metrics has a listener of its own
	// (CRIEUR_METRICS_LISTEN) and is not served by this handler.
	MetricsElsewhere bool
	Log              *slog.Logger
	BaseURL          string
	// AllowedOrigins may call the reader routes from a browser ("*": any).
	AllowedOrigins []string
	VAPIDPublicKey string
	// PushAllowPrivate accepts push endpoints on private addresses.
	PushAllowPrivate bool
	// CheckEndpoint validates a push endpoint (push.EndpointChecker); an error wrapping netguard.ErrUnresolved is told apart.
	CheckEndpoint func(ctx context.Context, endpoint string) error
	// ValidateKeys validates push subscription keys.
	ValidateKeys func(p256dh, auth string) error
	// PushLimit limits the push subscription routes (create and delete)
	// per client, as subscribe.Config.PerClient limits subscription
	// requests; nil: 60 at once, then one a second. More than for email
	// subscriptions: a widget on a busy page gets many opt-ins a minute,
	// and mobile carriers put many readers behind one address.
	PushLimit *subscribe.Limiter
	// PushEventLimit limits POST /api/v1/push/events per client; nil:
	// 600 at once, then 20 a second (every browser behind a carrier's
	// address reports each alert shown and opened).
	PushEventLimit *subscribe.Limiter
	// Clicks resolves and counts the tracked links of emails (/r/TOKEN);
	// nil: that route answers 404.
	Clicks *click.Service
	// ReaderReads limits, per API token, the lookups of one reader by
	// address (GET and DELETE /api/v1/subscribers/{email}); nil: 20 at
	// once, then one every 3 seconds.
	ReaderReads *subscribe.Limiter
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (CRIEUR_TRUSTED_PROXIES, or PrivateProxies with
	// CRIEUR_TRUST_PROXY=true); empty: the client is the direct peer.
	TrustedProxies []netip.Prefix
	Now            func() time.Time
	SiteName       string
	// WakeMail wakes the mail workers (a digest preview was queued).
	WakeMail func()
	// Bounces records what the sending providers' webhooks report; nil:
	// the webhook routes answer 404.
	Bounces bounce.Recorder
	// BounceProviders are the configured provider webhooks (see
	// web/bouncehook); a provider not among them answers 401.
	BounceProviders []provider.Provider
	// Webhooks registers, lists, deletes and tests webhook endpoints;
	// nil: the webhook routes answer 404.
	Webhooks *webhook.Service
	// Location is the publisher's time zone (CRIEUR_TIMEZONE): the admin
	// UI shows times and reads embargo times in it.
	Location *time.Location
}

// Alerts is the alert service the editors' routes and the admin UI share.
type Alerts interface {
	Send(ctx context.Context, req AlertRequest) (int64, error)
	Get(ctx context.Context, id int64) (store.AlertInfo, error)
	Cancel(ctx context.Context, id int64) error
	// Approve sends an alert awaiting approval on behalf of by, who must
	// not be its author.
	Approve(ctx context.Context, id int64, by string) error
}

// AlertRequest is a breaking alert as an editor sends it.
type AlertRequest = news.AlertRequest

// Digests starts digest runs.
type Digests interface {
	RunNow(ctx context.Context, f news.Frequency, by string) (int64, error)
}

// Feeds lets editors poll a feed at once.
type Feeds interface {
	PollNow(ctx context.Context, url string) error
}

// Server is the HTTP handler.
type Server struct {
	d       Deps
	mux     *routeMux
	origins map[string]bool
	anyOrig bool
	base    string // CRIEUR_BASE_URL's path, see atRoot
}

// New builds the server with its middleware and the operator endpoints;
// each audience's room (web/reader, web/api, web/admin) registers its
// routes on it, and web/site puts them together.
func New(d Deps) (*Server, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Desk == nil && d.Store != nil {
		d.Desk = desk.New(d.Store, d.Log)
	}
	if d.Strings == nil && d.Composer != nil {
		d.Strings = d.Composer.Strings()
	}
	if d.PushLimit == nil {
		d.PushLimit = subscribe.NewLimiter(time.Second, 60, 100_000)
	}
	if d.PushEventLimit == nil {
		d.PushEventLimit = subscribe.NewLimiter(50*time.Millisecond, 600, 100_000)
	}
	s := &Server{d: d, mux: newRouteMux(), origins: map[string]bool{}, base: basePath(d.BaseURL)}
	for _, o := range d.AllowedOrigins {
		if o == "*" {
			s.anyOrig = true
		}
		s.origins[strings.TrimRight(o, "/")] = true
	}
	s.routes()
	return s, nil
}

// Deps returns what the server was built with, its defaults filled in.
func (s *Server) Deps() Deps { return s.d }

// Handle registers h for pattern (as http.ServeMux does); the pattern is
// what the request metrics name the route by.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// HandleFunc registers h for pattern, as Handle.
func (s *Server) HandleFunc(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, h) }

// Patterns lists every pattern registered on the server, sorted: what a
// route table test compares with its table (or a description such as the
// OpenAPI document).
func (s *Server) Patterns() []string {
	out := make([]string, 0, len(s.mux.patterns))
	for p := range s.mux.patterns {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Pattern is the pattern of the route r would be served by, or "" when
// none matches.
func (s *Server) Pattern(r *http.Request) string {
	_, p := s.mux.Handler(r)
	return p
}

// ServeHTTP serves a request through the common middleware.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	r = s.atRoot(r)
	sw := &statusWriter{ResponseWriter: w, status: 200}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	defer func() {
		if v := recover(); v != nil {
			s.d.Log.Error("panic serving request", "path", safePath(r.URL.Path, s.mux.route(r)), "panic", fmt.Sprint(v))
			if !sw.wrote {
				WriteError(sw, &news.Error{Code: "internal", Message: "Something went wrong on our side."}, 500)
			}
		}
		took := time.Since(start)
		if s.d.Metrics != nil {
			s.d.Metrics.ObserveRequest(s.mux.route(r), r.Method, sw.status, took)
		}
		// The request log: every request at debug level, server errors
		// at warn. The path has its link token cut off and the query
		// (which can hold an address) is left out.
		level := slog.LevelDebug
		if sw.status >= 500 {
			level = slog.LevelWarn
		}
		if s.d.Log.Enabled(r.Context(), level) {
			s.d.Log.LogAttrs(r.Context(), level, "request", slog.String("method", r.Method), slog.String("path", safePath(r.URL.Path, s.mux.route(r))),
				slog.Int("status", sw.status), slog.Duration("duration", took))
		}
	}()
	s.mux.ServeHTTP(sw, r)
}

// SafePath is the request path with link tokens and readers' addresses
// cut off, for logs, as seen from inside a handler (the request matched a
// route). See safePath.
func SafePath(r *http.Request) string { return safePath(r.URL.Path, r.Pattern) }

// safePath cleans p for the log. The path is matched as the router will
// read it and wherever the sensitive segment sits: //api/v1/subscribers/
// ADDRESS (which the router redirects), /./unsubscribe/TOKEN and a base
// path in front would otherwise be logged raw. A path no route matched (a
// typo, a probe, /preferences\TOKEN from a mangled link) keeps only its
// first segment: whatever follows may be a token in a shape no rule here
// foresaw. A path a subtree pattern (/admin/) caught keeps the pattern's
// part, for the same reason. pattern is the route's, "" when none matched.
func safePath(p, pattern string) string {
	p = cleanLogPath(strings.ReplaceAll(p, `\`, "/"))
	lower := strings.ToLower(p)
	for _, seg := range []string{"/confirm/", "/preferences/", "/unsubscribe/", "/r/", "/api/v1/subscribers/"} {
		if i := strings.Index(lower, seg); i >= 0 {
			return p[:i+len(seg)] + "…"
		}
	}
	if pattern == "" {
		if i := strings.IndexByte(p[1:], '/'); i >= 0 {
			return p[:i+2] + "…"
		}
	}
	_, pat, _ := strings.Cut(pattern, " ")
	if pat == "" {
		pat = pattern
	}
	if strings.HasSuffix(pat, "/") && len(p) > len(pat) && strings.HasPrefix(p, pat) {
		return pat + "…"
	}
	// An address in a path is cut too.
	if i := strings.IndexByte(p, '@'); i >= 0 {
		return p[:strings.LastIndexByte(p[:i], '/')+1] + "…"
	}
	return p
}

// cleanLogPath collapses repeated slashes and resolves dot segments,
// keeping a trailing slash.
func cleanLogPath(p string) string {
	c := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// StatusFor maps a user-facing error code to its HTTP status, in one place.
func StatusFor(code news.Code) int {
	switch code {
	case news.CodeInvalid, news.CodeInvalidEmail, news.CodeUnknownTopic, news.CodeEndpointNotAllowed, news.CodeInvalidKeys, news.CodeInvalidToken:
		return http.StatusBadRequest
	case news.CodeExpiredToken, news.CodeRevokedToken:
		return http.StatusGone
	case news.CodeUnauthorized:
		return http.StatusUnauthorized
	case news.CodeForbidden:
		return http.StatusForbidden
	case news.CodeNotFound:
		return http.StatusNotFound
	case news.CodeConflict, news.CodeIdempotencyConflict:
		return http.StatusConflict
	case news.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case news.CodeUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case news.CodeRateLimited:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// Fail writes err as the contract's JSON error; unexpected errors are
// logged and answered with a generic 500.
func (s *Server) Fail(w http.ResponseWriter, r *http.Request, err error) {
	if e, ok := news.AsError(err); ok {
		WriteError(w, e, StatusFor(e.Code))
		return
	}
	if errors.Is(err, store.ErrNotFound) {
		WriteError(w, news.Errorf(news.CodeNotFound, "Not found."), 404)
		return
	}
	if errors.Is(err, store.ErrConflict) {
		WriteError(w, news.Errorf(news.CodeConflict, "That conflicts with what exists."), 409)
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	s.d.Log.Error("request failed", "method", r.Method, "path", SafePath(r), "err", err)
	WriteError(w, &news.Error{Code: "internal", Message: "Something went wrong on our side."}, 500)
}

// WriteError writes e as the contract's JSON error with status, and its
// Retry-After when it has one.
func WriteError(w http.ResponseWriter, e *news.Error, status int) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	body := map[string]any{"code": e.Code, "message": e.Message}
	if e.Field != "" {
		body["field"] = e.Field
	}
	WriteJSON(w, status, map[string]any{"error": body})
}

// WriteJSON writes v as JSON with status; every JSON answer goes through
// here (no-store, HTML-escaped).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// DecodeJSON reads a JSON body into v: 415 when not JSON, 413 over
// MaxBody, 400 naming the field on malformed input, unknown fields refused
// (names compared with their case, see exactKeys).
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return news.Errorf(news.CodeUnsupportedMedia, "Send JSON with Content-Type: application/json.")
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		return jsonError(err, reflect.TypeOf(v))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, reflect.TypeOf(v))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return news.Errorf(news.CodeInvalid, "The body must hold one JSON value.")
	}
	return exactKeys(raw, reflect.TypeOf(v))
}

// jsonError turns a decoding error into what the client is told; target
// is the type decoded into.
func jsonError(err error, target reflect.Type) error {
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &mbe):
		return news.Errorf(news.CodeTooLarge, "The body is larger than 1 MiB.")
	case errors.As(err, &ute):
		return typeError(ute, target)
	case errors.As(err, &se):
		return news.Errorf(news.CodeInvalid, "Malformed JSON at byte %d.", se.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return news.Errorf(news.CodeInvalid, "The JSON body is empty or cut short.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json reports DisallowUnknownFields with an untyped
		// error; its text is the only way to name the field for the user.
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return news.FieldError(news.CodeInvalid, f, "Unknown field %q.", f)
	}
	return news.Errorf(news.CodeInvalid, "Malformed JSON.")
}

// typeError says what a value of the wrong JSON type should have been, in
// JSON's words: encoding/json names Go types ("web.articleJSON"), which
// mean nothing to the person who sent the body. The field's declared type
// is used rather than the one encoding/json reports, which for "topics":[1]
// is the element's (string), not the field's (array of strings).
func typeError(ute *json.UnmarshalTypeError, target reflect.Type) error {
	if ute.Field == "" {
		one, _ := jsonKind(target)
		return news.Errorf(news.CodeInvalid, "The body must be %s.", one)
	}
	t := fieldType(target, ute.Field)
	if t == nil {
		t = ute.Type
	}
	one, _ := jsonKind(t)
	return news.FieldError(news.CodeInvalid, ute.Field, "Field %q must be %s.", ute.Field, one)
}

// fieldType is the type of the field at path (JSON names joined by dots,
// as encoding/json reports them) inside t, or nil when not found.
func fieldType(t reflect.Type, path string) reflect.Type {
	for name := range strings.SplitSeq(path, ".") {
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t == nil || t.Kind() != reflect.Struct {
			return nil
		}
		var next reflect.Type
		for i := range t.NumField() {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if tag == name || tag == "" && f.Name == name {
				next = f.Type
				break
			}
		}
		t = next
	}
	return t
}

// jsonKind describes the JSON values that decode into t, as "a …" and as
// a plural.
func jsonKind(t reflect.Type) (one, many string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string", "strings"
	case reflect.Bool:
		return "true or false", "true or false values"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number", "whole numbers"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "a whole number, 0 or more", "whole numbers, 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number", "numbers"
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string", "base64 strings" // how encoding/json reads []byte
		}
		_, elems := jsonKind(t.Elem())
		return "an array of " + elems, "arrays of " + elems
	case reflect.Struct, reflect.Map:
		return "a JSON object", "JSON objects"
	}
	return "another JSON value", "other JSON values"
}

// CORS wraps a reader route so publisher pages may call it from the
// browser, answering preflight requests.
func (s *Server) CORS(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && (s.anyOrig || s.origins[origin]) {
			hd := w.Header()
			hd.Set("Access-Control-Allow-Origin", origin)
			hd.Add("Vary", "Origin")
			hd.Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
			hd.Set("Access-Control-Allow-Headers", "Content-Type")
			hd.Set("Access-Control-Max-Age", "600")
			// A publisher's script waits as long as a 429 says.
			hd.Set("Access-Control-Expose-Headers", "Retry-After")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h(w, r)
	}
}

// originOf returns scheme://host of a URL.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// OriginOf returns the origin (scheme://host[:port]) of a URL, the default
// of CRIEUR_ALLOWED_ORIGINS.
func OriginOf(raw string) string { return originOf(raw) }

// StatusOf is the HTTP status err is answered with, as Fail answers it.
func StatusOf(err error) int {
	if e, ok := news.AsError(err); ok {
		return StatusFor(e.Code)
	}
	if errors.Is(err, store.ErrNotFound) {
		return 404
	}
	return 500
}

// PathID reads the {id} of a route's path: a positive integer, else a
// not_found error.
func PathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, news.Errorf(news.CodeNotFound, "No such id.")
	}
	return id, nil
}
