package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/internal/web"
)

// The admin-token routes on one reader: GET /api/v1/subscribers/{email}
// (their data and what was sent to them) and DELETE (erase them). Every
// call is audited by subscriber id, never by address: the audit log
// outlives an erase, and must not keep the address the erase removed.

// readerReads is the default limit of reader lookups per API token: a
// person checking a reader's data or answering a GDPR request makes a
// handful; a script walking an address list to learn who subscribes is
// held to one every few seconds.
func readerReads() *subscribe.Limiter { return subscribe.NewLimiter(3*time.Second, 20, 10_000) }

// allowLookup spends one reader lookup (read or erase) of the calling
// token, or answers 429 with Retry-After.
func (s *handler) allowLookup(w http.ResponseWriter, r *http.Request) bool {
	key := strconv.FormatInt(tokenIDOf(r.Context()), 10)
	if ok, wait := s.d.ReaderReads.Allow(key, s.d.Now()); !ok {
		web.WriteError(w, &news.Error{Code: news.CodeRateLimited, Message: "Too many reader lookups with this token; try again later.",
			RetryAfter: wait}, http.StatusTooManyRequests)
		return false
	}
	return true
}

func (s *handler) getSubscriber(w http.ResponseWriter, r *http.Request) {
	if !s.allowLookup(w, r) {
		return
	}
	sub, err := s.d.Subscribe.ByEmail(r.Context(), r.PathValue("email"))
	if err != nil {
		// A miss is audited too: probing addresses for membership shows.
		s.audit(r, "subscriber.read", "", "not found")
		s.srv.Fail(w, r, err)
		return
	}
	d, err := s.d.Subscribe.Export(r.Context(), sub.ID)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	s.audit(r, "subscriber.read", strconv.FormatInt(sub.ID, 10), "")
	web.WriteJSON(w, http.StatusOK, d)
}

func (s *handler) deleteSubscriber(w http.ResponseWriter, r *http.Request) {
	if !s.allowLookup(w, r) {
		return
	}
	sub, err := s.d.Subscribe.ByEmail(r.Context(), r.PathValue("email"))
	if err != nil {
		s.audit(r, "subscriber.erase", "", "not found")
		s.srv.Fail(w, r, err)
		return
	}
	if err := s.d.Subscribe.Erase(r.Context(), sub.ID); err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	s.audit(r, "subscriber.erase", strconv.FormatInt(sub.ID, 10), "")
	w.WriteHeader(http.StatusNoContent)
}
