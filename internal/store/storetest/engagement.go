package storetest

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// engagementTests cover clicks on tracked links, push events and the
// desk's pictures.
var engagementTests = []test{
	{"ClicksConcurrent", testClicksConcurrent},
	{"PushEvents", testPushEvents},
	{"ReaderClicksErased", testReaderClicksErased},
	{"EngagementDashboards", testEngagementDashboards},
}

// testClicksConcurrent: eight writers (instances) add batches at once;
// every click is counted once, every distinct clicker once however many
// writers saw them.
func testClicksConcurrent(t *testing.T, s *store.Store) {
	t0 := now()
	sc := store.ClickScope{RunID: 7}
	salt, err := s.ClickSalt(ctx, sc, t0)
	check(t, err)
	if salt == "" {
		t.Fatal("no salt")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for b := range 10 {
				var hashes []string
				for c := range 50 {
					// Clickers 0..99 each seen by several writers.
					hashes = append(hashes, fmt.Sprintf("h%03d", (w*10+b*5+c)%100))
				}
				batch := store.ClickBatch{
					Counts: []store.ClickCount{
						{ClickScope: sc, ArticleID: 1, Day: t0, Human: 3, Scanner: 1},
						{ClickScope: sc, ArticleID: 2, Day: t0, Human: 1},
					},
					Clickers: map[store.ClickScope][]string{sc: hashes},
				}
				if err := s.AddClicks(ctx, batch); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	tot, err := s.ClickTotals(ctx, sc)
	check(t, err)
	if tot.Human != 8*10*4 || tot.Scanner != 8*10 || tot.Clickers != 100 {
		t.Fatalf("totals %+v, want %d readers' clicks, %d scanners', 100 clickers", tot, 8*10*4, 8*10)
	}
	// A second instance asking for the salt gets the same one.
	again, err := s.ClickSalt(ctx, sc, t0.Add(time.Hour))
	check(t, err)
	if again != salt {
		t.Fatalf("salt changed: %q then %q", salt, again)
	}
	check(t, s.ForgetClickers(ctx, t0.Add(time.Millisecond)))
	if again, err := s.ClickSalt(ctx, sc, t0); err != nil || again != "" {
		t.Fatalf("salt %q after forgetting (%v)", again, err)
	}
	if tot2, _ := s.ClickTotals(ctx, sc); tot2 != tot {
		t.Fatalf("forgetting changed the totals: %+v, was %+v", tot2, tot)
	}
}

// testPushEvents: counted once per browser and alert, unknown alert or
// browser, or a browser the alert was not sent to, counts nothing, reports at once from many requests count once;
// the alert's curve gets delivered (by the trigger on its counter), shown
// and clicked.
func testPushEvents(t *testing.T, s *store.Store) {
	t0 := time.Now().UTC().Truncate(time.Minute)
	insertBrowsers(t, s, "https://push.test/", 3, t0)
	aid, err := s.CreateAlert(ctx, news.Alert{Title: "T", Body: "B", URL: "https://n.test/story", TTL: time.Hour, Urgency: "high",
		TopicHeader: "t", State: news.AlertSending, SendAt: t0, CreatedAt: t0}, nil)
	check(t, err)
	_, err = s.DB().ExecContext(ctx, rebind(s, "UPDATE alerts SET delivered = 3 WHERE id = ?"), aid)
	check(t, err)
	// The alert's enqueuing passed browsers 0 and 1, not yet 2.
	var ids [3]int64
	for i := range ids {
		check(t, s.DB().QueryRowContext(ctx, rebind(s, "SELECT id FROM push_subscriptions WHERE endpoint = ?"), fmt.Sprintf("https://push.test/%d", i)).Scan(&ids[i]))
	}
	_, err = s.DB().ExecContext(ctx, rebind(s, "UPDATE alerts SET enqueue_after = ? WHERE id = ?"), ids[1], aid)
	check(t, err)
	report := func(ep string, id int64, ev store.PushEvent) bool {
		t.Helper()
		n, err := s.RecordPushEvent(ctx, id, ep, ev, t0)
		check(t, err)
		return n
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	counted := 0
	for range 10 {
		wg.Go(func() {
			n, err := s.RecordPushEvent(ctx, aid, "https://push.test/0", store.PushShown, t0)
			if err != nil {
				t.Error(err)
			}
			if n {
				mu.Lock()
				counted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if counted != 1 {
		t.Fatalf("ten shown reports from one browser counted %d times", counted)
	}
	if !report("https://push.test/0", aid, store.PushClicked) || report("https://push.test/0", aid, store.PushClicked) {
		t.Fatal("a click not counted once")
	}
	// A click whose shown report was lost counts both.
	if !report("https://push.test/1", aid, store.PushClicked) {
		t.Fatal("click without shown not counted")
	}
	if report("https://push.test/unknown", aid, store.PushShown) || report("https://push.test/2", aid+100, store.PushShown) {
		t.Fatal("unknown browser or alert counted")
	}
	if report("https://push.test/2", aid, store.PushShown) || report("https://push.test/2", aid, store.PushClicked) {
		t.Fatal("a browser the alert was never sent to counted")
	}
	shown, clicked, err := s.AlertEngagement(ctx, aid)
	check(t, err)
	if shown != 2 || clicked != 2 {
		t.Fatalf("shown %d clicked %d, want 2 and 2", shown, clicked)
	}
	curve, err := s.AlertCurve(ctx, aid, t0, 60)
	check(t, err)
	if len(curve) != 60 {
		t.Fatalf("%d points", len(curve))
	}
	last := curve[59]
	if last.Delivered != 3 || last.Shown != 2 || last.Clicked != 2 {
		t.Fatalf("curve ends at %+v, want 3 delivered, 2 shown, 2 clicked", last)
	}
}

// testReaderClicksErased: a reader's kept clicks are gone with them.
func testReaderClicksErased(t *testing.T, s *store.Store) {
	t0 := now()
	id, _, err := s.Subscribe(ctx, "clicker@example.com", store.Prefs{Frequency: news.Daily, Lang: news.French}, t0)
	check(t, err)
	check(t, s.AddClicks(ctx, store.ClickBatch{Readers: []store.ReaderClick{
		{ClickScope: store.ClickScope{RunID: 1}, SubscriberID: id, ArticleID: 5, At: t0},
		{ClickScope: store.ClickScope{AlertID: 2}, SubscriberID: id, Scanner: true, At: t0.Add(time.Second)},
		{ClickScope: store.ClickScope{RunID: 1}, SubscriberID: id + 1000, ArticleID: 5, At: t0}, // no such reader
	}}))
	kept, err := s.ReaderClicks(ctx, id, 10)
	check(t, err)
	if len(kept) != 2 || kept[0].AlertID != 2 || !kept[0].Scanner || kept[1].ArticleID != 5 || !kept[1].At.Equal(t0) {
		t.Fatalf("kept %+v", kept)
	}
	check(t, s.Erase(ctx, id, "hash-of-clicker", t0))
	var n int
	check(t, s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM reader_clicks").Scan(&n))
	if n != 0 {
		t.Fatalf("%d reader clicks left after erasing", n)
	}
}

// testEngagementDashboards: readers per day, browsers per day and the
// most-clicked stories.
func testEngagementDashboards(t *testing.T, s *store.Store) {
	today := time.Now().UTC().Truncate(24 * time.Hour).Add(10 * time.Hour)
	yesterday := today.Add(-24 * time.Hour)
	id, _, err := s.Subscribe(ctx, "dash@example.com", store.Prefs{Frequency: news.Daily, Lang: news.French}, yesterday)
	check(t, err)
	_, err = s.Confirm(ctx, id, "", yesterday)
	check(t, err)
	check(t, s.Suppress(ctx, "h1", "bounce", today))
	check(t, s.Suppress(ctx, "h2", "complaint", today))
	check(t, s.Suppress(ctx, "h3", "unsubscribed", today))
	days, err := s.ReadersPerDay(ctx, yesterday.Add(-24*time.Hour), today)
	check(t, err)
	if len(days) != 3 {
		t.Fatalf("%d days, want 3", len(days))
	}
	if d := days[1]; d.Confirmed != 1 || !d.Day.Equal(yesterday.Truncate(24*time.Hour)) {
		t.Fatalf("yesterday %+v", d)
	}
	if d := days[2]; d.Bounced != 1 || d.Complained != 1 || d.Unsubscribed != 1 {
		t.Fatalf("today %+v", d)
	}
	insertBrowsers(t, s, "https://push.test/d", 2, yesterday)
	insertBrowsers(t, s, "https://push.test/e", 1, today)
	browsers, err := s.PushBrowsersPerDay(ctx, yesterday, today)
	check(t, err)
	if len(browsers) != 2 || browsers[0].Total != 2 || browsers[1].Total != 3 {
		t.Fatalf("browsers %+v", browsers)
	}
	a1, _, err := s.SaveArticle(ctx, news.Article{URL: "https://n.test/1", Title: "One", PublishedAt: today, CreatedAt: today})
	check(t, err)
	a2, _, err := s.SaveArticle(ctx, news.Article{URL: "https://n.test/2", Title: "Two", PublishedAt: today, CreatedAt: today})
	check(t, err)
	check(t, s.AddClicks(ctx, store.ClickBatch{Counts: []store.ClickCount{
		{ClickScope: store.ClickScope{RunID: 1}, ArticleID: a1, Day: today, Human: 2, Scanner: 9},
		{ClickScope: store.ClickScope{RunID: 1}, ArticleID: a2, Day: today, Human: 5},
		{ClickScope: store.ClickScope{RunID: 2}, ArticleID: a1, Day: yesterday, Human: 1},
		{ClickScope: store.ClickScope{RunID: 3}, ArticleID: a1, Day: today.Add(-30 * 24 * time.Hour), Human: 100},
	}}))
	top, err := s.TopClicked(ctx, today.Add(-7*24*time.Hour), 10)
	check(t, err)
	if len(top) != 2 || top[0].ArticleID != a2 || top[0].Human != 5 || top[1].Human != 3 || top[1].Scanner != 9 || top[1].Title != "One" {
		t.Fatalf("top %+v", top)
	}
	email, push, err := s.ArticleClicks(ctx, a1, "https://n.test/1")
	check(t, err)
	if email != 103 || push != 0 {
		t.Fatalf("article clicks %d %d", email, push)
	}
}

// rebind writes a query with ? placeholders for the store's dialect.
func rebind(s *store.Store, q string) string {
	if s.Dialect() != store.Postgres {
		return q
	}
	for n := 1; strings.Contains(q, "?"); n++ {
		q = strings.Replace(q, "?", "$"+strconv.Itoa(n), 1)
	}
	return q
}
