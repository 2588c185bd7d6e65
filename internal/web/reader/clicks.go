package reader

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/crieur/crieur/internal/click"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/web"
)

// follow answers a tracked link from an email with a 302 to the URL
// stored for its article or alert, and counts the click. The token never
// carries a URL, so no link can be made to lead anywhere else: a forged,
// altered or other-purpose token gets a 400 page, a stored URL that is not
// http(s) too.
func (s *handler) follow(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// The answer depends on nothing but the token, yet each fetch must
	// reach crieur to be counted.
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	if s.d.Clicks == nil {
		http.NotFound(w, r)
		return
	}
	l, target, err := s.d.Clicks.Resolve(r.Context(), r.PathValue("token"))
	switch {
	case errors.Is(err, click.ErrInvalid), errors.Is(err, click.ErrBadTarget):
		s.page(w, r, http.StatusBadRequest, "message", s.messagePage(r, "page.click.invalid_title", "page.click.invalid_body"))
		return
	case errors.Is(err, click.ErrNoTarget):
		s.page(w, r, http.StatusNotFound, "message", s.messagePage(r, "page.click.gone_title", "page.click.gone_body"))
		return
	case err != nil:
		s.srv.Fail(w, r, err)
		return
	}
	method := r.Method
	if prefetch(r) {
		// A browser fetching ahead of a click that may never come.
		method = "PREFETCH"
	}
	s.d.Clicks.Record(l, method, s.srv.ClientIP(r), r.UserAgent())
	h.Set("Location", target)
	w.WriteHeader(http.StatusFound)
}

// pushEvent counts what a service worker reports of an alert: shown when
// it displayed the notification, clicked when the reader opened it. An
// unknown alert or browser is answered the same and counts nothing, so
// the route tells nobody which browsers or alerts exist.
func (s *handler) pushEvent(w http.ResponseWriter, r *http.Request) {
	if ok, wait := s.d.PushEventLimit.Allow(s.srv.ClientIP(r), s.d.Now()); !ok {
		s.srv.Fail(w, r, &news.Error{Code: news.CodeRateLimited, Message: "Too many requests; try again later.", RetryAfter: wait})
		return
	}
	var in struct {
		AlertID  any    `json:"alert_id"`
		Type     string `json:"type"`
		Endpoint string `json:"endpoint"`
	}
	if err := web.DecodeJSON(w, r, &in); err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	ev := store.PushEvent(in.Type)
	if ev != store.PushShown && ev != store.PushClicked {
		s.srv.Fail(w, r, news.FieldError(news.CodeInvalid, "type", "type must be shown or clicked"))
		return
	}
	if in.Endpoint == "" || len(in.Endpoint) > news.MaxURLLen {
		s.srv.Fail(w, r, news.FieldError(news.CodeInvalid, "endpoint", "endpoint is missing or too long"))
		return
	}
	// The payload's alert_id is a string (ids in JSON are); a number is
	// taken too.
	var id int64
	switch v := in.AlertID.(type) {
	case string:
		id, _ = strconv.ParseInt(v, 10, 64)
	case float64:
		if v > 0 && v < 1<<53 {
			id = int64(v)
		}
	}
	if id > 0 {
		counted, err := s.d.Store.RecordPushEvent(r.Context(), id, in.Endpoint, ev, s.d.Now())
		if err != nil {
			s.srv.Fail(w, r, err)
			return
		}
		if counted && s.d.Metrics != nil {
			s.d.Metrics.PushEvent(string(ev))
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// clicksNote tells the reader what is kept of the links they open in
// emails.
func (s *handler) clicksNote(l news.Lang) string {
	if s.d.Clicks == nil {
		return ""
	}
	if s.d.Clicks.TrackReaders() {
		return s.srv.T(l, "page.preferences.clicks_tracked")
	}
	return s.srv.T(l, "page.preferences.clicks_aggregate")
}

// prefetch reports whether r is a browser's prefetch or prerender, not a
// reader's click.
func prefetch(r *http.Request) bool {
	h := r.Header
	return strings.Contains(h.Get("Sec-Purpose"), "prefetch") || h.Get("Purpose") == "prefetch" || h.Get("X-Moz") == "prefetch"
}
