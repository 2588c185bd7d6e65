package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/web"
)

// ArticleJSON is GET /api/v1/articles/{id}.
type ArticleJSON struct {
	ID          string        `json:"id"`
	URL         string        `json:"url"`
	Title       string        `json:"title"`
	Topics      []string      `json:"topics"`
	PublishedAt time.Time     `json:"published_at"`
	Clicks      ChannelClicks `json:"clicks"`
}

// ChannelClicks are an article's readers' clicks by channel: tracked
// links in emails, and opened push notifications of alerts linking to it.
// Mail scanners' fetches are not in them.
type ChannelClicks struct {
	Email int64 `json:"email"`
	Push  int64 `json:"push"`
}

func (s *handler) getArticle(w http.ResponseWriter, r *http.Request) {
	id, err := web.PathID(r)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	a, err := s.d.Store.Article(r.Context(), id)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	email, push, err := s.d.Store.ArticleClicks(r.Context(), id, a.URL)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	topics := a.Topics
	if topics == nil {
		topics = []string{}
	}
	web.WriteJSON(w, http.StatusOK, ArticleJSON{ID: strconv.FormatInt(a.ID, 10), URL: a.URL, Title: a.Title, Topics: topics,
		PublishedAt: a.PublishedAt.UTC(), Clicks: ChannelClicks{Email: email, Push: push}})
}

// withRunClicks adds a run's clicks to its JSON.
func (s *handler) withRunClicks(ctx context.Context, j RunJSON, id int64) (RunJSON, error) {
	t, err := s.d.Store.ClickTotals(ctx, store.ClickScope{RunID: id})
	if err != nil {
		return j, err
	}
	j.Clicks, j.ScannerClicks, j.Clickers = t.Human, t.Scanner, t.Clickers
	return j, nil
}

// withAlertEngagement adds what browsers reported of an alert, and the
// clicks on its emails' link, to its JSON.
func (s *handler) withAlertEngagement(ctx context.Context, j AlertJSON, id int64) (AlertJSON, error) {
	shown, clicked, err := s.d.Store.AlertEngagement(ctx, id)
	if err != nil {
		return j, err
	}
	t, err := s.d.Store.ClickTotals(ctx, store.ClickScope{AlertID: id})
	if err != nil {
		return j, err
	}
	j.Shown, j.Clicked, j.EmailClicks = shown, clicked, t.Human
	return j, nil
}
