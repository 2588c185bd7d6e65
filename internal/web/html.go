package web

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strconv"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// What the reader pages and the desk share to write HTML: one renderer,
// the message catalogue, the site's name, the topics in a reader's
// collation and the message that tells a user what went wrong.

// Topics returns the topics in the order a reader of l expects them:
// by name, ignoring accents and case ("Économie" before "Politique"),
// where the store sorts byte by byte. The pages use it; the JSON API keeps
// the store's order.
func (s *Server) Topics(ctx context.Context, l news.Lang) ([]news.Topic, error) {
	ts, err := s.d.Store.Topics(ctx)
	if err != nil {
		return nil, err
	}
	sortTopics(l, ts)
	return ts, nil
}

// sortTopics sorts ts by name with the collation of l, accents and case
// ignored; names equal under it keep a fixed order by slug.
func sortTopics(l news.Lang, ts []news.Topic) {
	// A Collator is not safe for concurrent use: one per call.
	c := collate.New(language.Make(string(l)), collate.Loose)
	slices.SortStableFunc(ts, func(a, b news.Topic) int {
		if r := c.CompareString(a.Name, b.Name); r != 0 {
			return r
		}
		return cmp.Compare(a.Slug, b.Slug)
	})
}

// T translates key into l; without a catalogue it shows the key.
func (s *Server) T(l news.Lang, key string, args ...any) string {
	if s.d.Strings == nil {
		return key
	}
	return s.d.Strings.T(l, key, args...)
}

// SiteName is the publication's name.
func (s *Server) SiteName() string {
	if s.d.SiteName != "" {
		return s.d.SiteName
	}
	if s.d.Composer != nil {
		return s.d.Composer.Site().Name
	}
	return "crieur"
}

// MessageKey returns the key of the string that tells a reader what went
// wrong.
func MessageKey(err error) string {
	if e, ok := news.AsError(err); ok {
		switch e.Code {
		case news.CodeInvalidToken:
			return "page.error.bad_token"
		case news.CodeExpiredToken:
			return "page.error.expired_token"
		case news.CodeRevokedToken:
			return "page.error.revoked_token"
		case news.CodeInvalidEmail:
			return "page.error.invalid_email"
		case news.CodeUnknownTopic:
			return "page.error.unknown_topic"
		case news.CodeInvalid:
			switch e.Field {
			case "frequency":
				return "page.error.invalid_frequency"
			case "lang":
				return "page.error.invalid_lang"
			case "timezone":
				return "page.error.invalid_timezone"
			}
			return "page.error.bad_request"
		case news.CodeRateLimited:
			return "page.error.rate_limited"
		case news.CodeNotFound:
			return "page.error.not_found"
		case news.CodeTooLarge:
			return "page.error.too_large"
		case news.CodeUnsupportedMedia:
			return "page.error.bad_request"
		}
		return "page.error.server"
	}
	if errors.Is(err, store.ErrNotFound) {
		return "page.error.not_found"
	}
	return "page.error.server"
}

// RenderHTML writes t's "layout" template with data as an HTML page with
// status. The page is rendered in full before anything is written, so a
// template failure is a clean 500; what and name say which page failed in
// the log.
func (s *Server) RenderHTML(w http.ResponseWriter, status int, t *template.Template, what, name string, data any) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		s.d.Log.Error("render "+what+" page", "page", name, "err", err)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
