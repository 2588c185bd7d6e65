package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// feedTests cover feeds (leased to one poller at a time) and the articles
// they bring.
var feedTests = []test{
	{"Feeds", testFeeds},
	{"Articles", testArticles},
	{"ArticlePoster", testArticlePoster},
}

func testFeeds(t *testing.T, s *store.Store) {
	t0 := now()
	const u = "https://n.test/rss"
	// Eight instances ask at once: one polls.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for i := range 8 {
		wg.Go(func() {
			_, ok, err := s.LeaseFeed(ctx, u, fmt.Sprint("inst", i), t0, t0.Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d instances leased the feed", wins)
	}
	// A lease expires.
	if _, ok, err := s.LeaseFeed(ctx, u, "late", t0.Add(2*time.Minute), t0.Add(3*time.Minute)); err != nil || !ok {
		t.Fatalf("lease after expiry: %v %v", ok, err)
	}
	st := store.FeedState{ETag: `"e1"`, LastModified: "Mon", LastPolledAt: t0, NextPollAt: t0.Add(5 * time.Minute), LastError: "", Failures: 0, Items: 12}
	check(t, s.SaveFeedState(ctx, u, st))
	got, err := s.Feed(ctx, u)
	check(t, err)
	if got.ETag != `"e1"` || got.Items != 12 || !got.NextPollAt.Equal(st.NextPollAt) || !got.LastPolledAt.Equal(t0) {
		t.Fatalf("feed %+v", got)
	}
	if _, ok, _ := s.LeaseFeed(ctx, u, "x", t0.Add(time.Minute), t0.Add(2*time.Minute)); ok {
		t.Fatal("leased a feed that is not due")
	}
	// Polling an unknown URL (a forged desk form) adds no feed.
	if err := s.PollFeedSoon(ctx, "https://never-added.example/x.xml"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PollFeedSoon of an unknown feed: %v, want ErrNotFound", err)
	}
	check(t, s.PollFeedSoon(ctx, u))
	if fs, ok, err := s.LeaseFeed(ctx, u, "x", t0, t0.Add(time.Minute)); err != nil || !ok || fs.ETag != `"e1"` {
		t.Fatalf("lease after PollFeedSoon: %v %v %+v", ok, err, fs)
	}
	// A new topic: the next poll fetches the feed whole, to map known
	// articles to it (a 304 would hide them).
	check(t, s.SaveFeedState(ctx, u, st))
	_, err = s.CreateTopic(ctx, "nouveau", "Nouveau")
	check(t, err)
	if got, err := s.Feed(ctx, u); err != nil || got.ETag != "" || got.LastModified != "" || got.Items != 12 {
		t.Fatalf("feed after a topic was added: %+v %v; want no validators", got, err)
	}
	check(t, s.AddFeed(ctx, "https://n.test/atom"))
	check(t, s.AddFeed(ctx, "https://n.test/atom"))
	list, err := s.Feeds(ctx)
	check(t, err)
	if len(list) != 2 || list[0].URL != "https://n.test/atom" {
		t.Fatalf("feeds %+v", list)
	}
	check(t, s.RemoveFeed(ctx, u))
	if _, err := s.Feed(ctx, u); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("removed feed: %v", err)
	}
}

func testArticles(t *testing.T, s *store.Store) {
	topic(t, s, "sport")
	topic(t, s, "eco")
	t0 := now()
	a := news.Article{GUID: "g1", URL: "https://n.test/1", Title: "Un", Summary: "résumé", Topics: []string{"sport", "eco", "nope"},
		PublishedAt: t0.Add(-time.Hour), CreatedAt: t0, Author: "A", ImageURL: "https://n.test/i.jpg"}
	id, created, err := s.SaveArticle(ctx, a)
	check(t, err)
	if !created || id == 0 {
		t.Fatalf("first save: %d %v", id, created)
	}
	// The same guid again is the same article, corrected.
	a.Title = "changed"
	a.Topics = []string{"eco"}
	id2, created, err := s.SaveArticle(ctx, a)
	check(t, err)
	if created || id2 != id {
		t.Fatalf("same guid again: %d %v", id2, created)
	}
	if got, err := s.Article(ctx, id); err != nil || got.Title != "changed" || !slices.Equal(got.Topics, []string{"eco"}) {
		t.Fatalf("corrected article %+v %v", got, err)
	}
	a.Title, a.Topics = "Un", []string{"sport", "eco", "nope"}
	_, _, err = s.SaveArticle(ctx, a)
	check(t, err)
	// No guid: the url identifies the article.
	b := news.Article{URL: "https://n.test/2", Title: "Deux", Topics: []string{"eco"}, PublishedAt: t0, CreatedAt: t0}
	bid, created, err := s.SaveArticle(ctx, b)
	check(t, err)
	bid2, created2, err := s.SaveArticle(ctx, b)
	check(t, err)
	if !created || created2 || bid2 != bid {
		t.Fatalf("url idempotency: %d %v %d %v", bid, created, bid2, created2)
	}
	got, err := s.Article(ctx, id)
	check(t, err)
	slices.Sort(got.Topics)
	if got.Title != "Un" || got.GUID != "g1" || !slices.Equal(got.Topics, []string{"eco", "sport"}) || !got.PublishedAt.Equal(a.PublishedAt) || got.Author != "A" {
		t.Fatalf("article %+v", got)
	}
	if _, err := s.Article(ctx, 999999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown article: %v", err)
	}
	maxID, err := s.MaxArticleID(ctx)
	check(t, err)
	if maxID != bid {
		t.Fatalf("MaxArticleID %d, want %d", maxID, bid)
	}
	win, err := s.ArticlesWindow(ctx, id, maxID, t0.Add(-time.Minute))
	check(t, err)
	if len(win) != 1 || win[0].ID != bid {
		t.Fatalf("window %+v", win)
	}
	recent, err := s.RecentArticles(ctx, t0.Add(-time.Minute))
	check(t, err)
	if len(recent) != 2 || recent[0].ID != bid {
		t.Fatalf("recent %+v", recent)
	}
}

// testArticlePoster: an article keeps who posted it, or who flagged it
// breaking since (who raises its automatic alert); a repost that flags
// nothing leaves it.
func testArticlePoster(t *testing.T, s *store.Store) {
	t0 := now()
	a := news.Article{GUID: "p1", URL: "https://n.test/p1", Title: "P", PublishedAt: t0, CreatedAt: t0, PostedBy: "token:chef"}
	id, _, err := s.SaveArticle(ctx, a)
	check(t, err)
	if by, err := s.ArticlePoster(ctx, id); err != nil || by != "token:chef" {
		t.Fatalf("poster %q %v, want token:chef", by, err)
	}
	a.PostedBy = "token:other"
	_, _, err = s.SaveArticle(ctx, a)
	check(t, err)
	if by, _ := s.ArticlePoster(ctx, id); by != "token:chef" {
		t.Fatalf("poster %q after a plain repost, want token:chef", by)
	}
	a.PostedBy, a.Breaking = "token:rogue", true
	_, _, err = s.SaveArticle(ctx, a)
	check(t, err)
	if by, _ := s.ArticlePoster(ctx, id); by != "token:rogue" {
		t.Fatalf("poster %q after flagging breaking, want token:rogue", by)
	}
	if _, err := s.ArticlePoster(ctx, id+100); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown article: %v", err)
	}
}
