package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/web"
)

// webhookIn is POST /api/v1/webhooks's body.
type webhookIn struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

// webhookJSON is one endpoint as GET /api/v1/webhooks lists it: never
// its secret, which POST showed once.
type webhookJSON struct {
	ID             string     `json:"id"`
	URL            string     `json:"url"`
	Events         []string   `json:"events"`
	CreatedAt      time.Time  `json:"created_at"`
	Disabled       bool       `json:"disabled"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
}

func (s *handler) hooksReady(w http.ResponseWriter) bool {
	if s.d.Webhooks == nil {
		web.WriteError(w, news.Errorf(news.CodeNotFound, "Webhooks are not served here."), http.StatusNotFound)
		return false
	}
	return true
}

func (s *handler) createWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.hooksReady(w) {
		return
	}
	var in webhookIn
	if err := web.DecodeJSON(w, r, &in); err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	id, secret, err := s.d.Webhooks.Register(r.Context(), actorOf(r.Context()), in.URL, in.Events)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	// The audit names the endpoint by id: its URL may carry a token.
	s.audit(r, "webhook.create", strconv.FormatInt(id, 10), "")
	web.WriteJSON(w, http.StatusCreated, map[string]string{"id": strconv.FormatInt(id, 10), "secret": secret})
}

func (s *handler) listWebhooks(w http.ResponseWriter, r *http.Request) {
	if !s.hooksReady(w) {
		return
	}
	list, err := s.d.Webhooks.List(r.Context())
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	out := make([]webhookJSON, 0, len(list))
	for _, e := range list {
		j := webhookJSON{ID: strconv.FormatInt(e.ID, 10), URL: e.URL, Events: make([]string, 0, len(e.Events)), CreatedAt: e.CreatedAt,
			Disabled: !e.DisabledAt.IsZero(), DisabledReason: e.DisabledReason}
		for _, ev := range e.Events {
			j.Events = append(j.Events, string(ev))
		}
		if j.Disabled {
			at := e.DisabledAt
			j.DisabledAt = &at
		}
		out = append(out, j)
	}
	web.WriteJSON(w, http.StatusOK, out)
}

func (s *handler) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.hooksReady(w) {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		web.WriteError(w, news.Errorf(news.CodeNotFound, "No webhook endpoint with this id."), http.StatusNotFound)
		return
	}
	if err := s.d.Webhooks.Delete(r.Context(), id); err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	s.audit(r, "webhook.delete", strconv.FormatInt(id, 10), "")
	w.WriteHeader(http.StatusNoContent)
}
