package digest

import (
	"context"
	"fmt"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// Selection is what a digest of one frequency, sent at one time, chooses
// its articles from: the articles of Window up to a last article id,
// indexed by topic. A run and the desk's preview both choose through it,
// so a preview shows what the run would send.
type Selection struct {
	pool       *Pool
	firstSince time.Time
	byID       map[int64]news.Article
}

// LoadSelection reads the articles a digest of frequency f sent at at
// chooses from: those up to maxID published within Window of at, on
// topics (all the topics there are).
func LoadSelection(ctx context.Context, st *store.Store, f news.Frequency, maxID int64, at time.Time, topics []news.Topic) (*Selection, error) {
	arts, err := st.ArticlesWindow(ctx, 0, maxID, at.Add(-Window))
	if err != nil {
		return nil, fmt.Errorf("digest articles: %w", err)
	}
	byID := make(map[int64]news.Article, len(arts))
	for _, a := range arts {
		byID[a.ID] = a
	}
	// A reader's first digest covers one period back, as a new reader's.
	return &Selection{pool: NewPool(arts, topics), firstSince: at.Add(-f.Period()), byID: byID}, nil
}

// Choose returns the ids of the articles a reader of topicIDs whose last
// digest ended at cursor (0: none yet) gets, newest first, at most
// MaxArticles, and how many more there were; buf, when not nil, is reused.
func (s *Selection) Choose(topicIDs []int64, cursor int64, buf []int64) (ids []int64, more int) {
	return s.pool.Choose(topicIDs, cursor, s.firstSince, buf)
}

// Articles returns the articles of ids, in that order.
func (s *Selection) Articles(ids []int64) []news.Article {
	out := make([]news.Article, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.byID[id])
	}
	return out
}

// Reader reads sub the way a run does, with the run's own query: their
// topic ids and cursor (the last article a run covered for them). due is
// false when a run would pass them by (not confirmed, paused,
// unsubscribed).
func Reader(ctx context.Context, st *store.Store, sub news.Subscriber) (e store.Eligible, due bool, err error) {
	batch, err := st.EligibleBatch(ctx, sub.Frequency, sub.ID-1, 1)
	if err != nil {
		return e, false, err
	}
	if len(batch) == 0 || batch[0].ID != sub.ID {
		return e, false, nil
	}
	return batch[0], true, nil
}
