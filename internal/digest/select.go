// Package digest decides who gets which articles in a digest run and
// writes the run's deliveries. Choosing is a pure function over the run's
// articles, held in memory (a run sees at most a month of articles), and
// one subscriber's topics and cursor, streamed a batch at a time so that
// memory stays flat however many readers there are.
//
// It must not import dispatch, compose, mail or web: it writes
// deliveries, and the dispatcher composes and sends them.
package digest

import (
	"sort"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// MaxArticles is the most articles one digest lists; the rest become an
// "N more on the site" line.
const MaxArticles = 25

// Window is how far back a run looks at articles at all: a reader back
// from a long pause gets the newest, not a month of backlog.
const Window = 30 * 24 * time.Hour

// Pool is the articles a run may hand out, newest first, with their
// topics as bit sets for fast matching.
type Pool struct {
	arts   []poolArticle
	topics map[int64]int // topic id → bit
}

type poolArticle struct {
	id        int64
	published time.Time
	bits      []uint64
}

// NewPool indexes articles (any order) against the known topics.
func NewPool(articles []news.Article, topics []news.Topic) *Pool {
	p := &Pool{topics: make(map[int64]int, len(topics))}
	bySlug := make(map[string]int, len(topics))
	for i, t := range topics {
		p.topics[t.ID] = i
		bySlug[t.Slug] = i
	}
	words := (len(topics) + 63) / 64
	for _, a := range articles {
		pa := poolArticle{id: a.ID, published: a.PublishedAt, bits: make([]uint64, words)}
		any := false
		for _, s := range a.Topics {
			if b, ok := bySlug[s]; ok {
				pa.bits[b/64] |= 1 << (b % 64)
				any = true
			}
		}
		if any { // an article with no known topic goes in no digest
			p.arts = append(p.arts, pa)
		}
	}
	sort.Slice(p.arts, func(i, j int) bool {
		if !p.arts[i].published.Equal(p.arts[j].published) {
			return p.arts[i].published.After(p.arts[j].published)
		}
		return p.arts[i].id > p.arts[j].id
	})
	return p
}

// Len is the number of articles that can go in a digest.
func (p *Pool) Len() int { return len(p.arts) }

// Choose returns the articles for one reader, newest first, at most
// MaxArticles, and how many more matched. cursor is the highest article id
// the reader already received (0: never, then only articles published
// since firstSince count). A reader with no topics follows every topic.
func (p *Pool) Choose(topicIDs []int64, cursor int64, firstSince time.Time, buf []int64) (ids []int64, more int) {
	ids = buf[:0]
	var want []uint64
	if len(topicIDs) > 0 {
		want = make([]uint64, (len(p.topics)+63)/64)
		for _, t := range topicIDs {
			if b, ok := p.topics[t]; ok {
				want[b/64] |= 1 << (b % 64)
			}
		}
	}
	for i := range p.arts {
		a := &p.arts[i]
		if cursor > 0 {
			if a.id <= cursor {
				continue
			}
		} else if a.published.Before(firstSince) {
			continue
		}
		if want != nil && !intersects(want, a.bits) {
			continue
		}
		if len(ids) < MaxArticles {
			ids = append(ids, a.id)
		} else {
			more++
		}
	}
	return ids, more
}

func intersects(a, b []uint64) bool {
	for i := range a {
		if a[i]&b[i] != 0 {
			return true
		}
	}
	return false
}
