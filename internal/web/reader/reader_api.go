package reader

import (
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/internal/web"
)

type topicJSON struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

func (s *handler) listTopics(w http.ResponseWriter, r *http.Request) {
	ts, err := s.d.Store.Topics(r.Context())
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	out := make([]topicJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, topicJSON{Slug: t.Slug, Name: t.Name})
	}
	web.WriteJSON(w, 200, out)
}

type subscribeJSON struct {
	Email     string   `json:"email"`
	Topics    []string `json:"topics"`
	Frequency string   `json:"frequency"`
	Lang      string   `json:"lang"`
	Alerts    bool     `json:"alerts"`
	Timezone  string   `json:"timezone"`
}

func (s *handler) apiSubscribe(w http.ResponseWriter, r *http.Request) {
	var in subscribeJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	err := s.d.Subscribe.Subscribe(r.Context(), subscribe.Request{Email: in.Email, Topics: in.Topics,
		Frequency: news.Frequency(in.Frequency), Lang: news.Lang(in.Lang), Alerts: in.Alerts, Timezone: in.Timezone, Client: s.srv.ClientIP(r)})
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	web.WriteJSON(w, 202, map[string]string{"status": "pending"})
}

// oneClickUnsubscribe is RFC 8058: a POST unsubscribes at once and answers
// 200, never a redirect. The HTML form on the GET page posts here too.
// It is idempotent: a genuine link whose reader has since been erased
// answers 200 as well, since there is no one left to send email to.
func (s *handler) oneClickUnsubscribe(w http.ResponseWriter, r *http.Request) {
	if err := parseOneClickForm(w, r); err != nil && web.StatusOf(err) == http.StatusRequestEntityTooLarge {
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

// parseOneClickForm reads a one-click unsubscribe body, which RFC 8058
// lets a mail client send urlencoded or as multipart/form-data: either is
// read, within web.MaxFormBody.
func parseOneClickForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, web.MaxFormBody)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		return web.FormError(r.ParseMultipartForm(web.MaxFormBody))
	}
	return web.FormError(r.ParseForm())
}
