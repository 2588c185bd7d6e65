// Package storetest is the conformance suite of internal/store: every
// store method the product uses, checked the same way on each SQL dialect
// (internal/store runs it against SQLite and against PostgreSQL), including
// what several instances sharing one database rely on: one digest run per
// tick, optimistic enqueuing progress, claims that never hand one row to
// two workers, feed leases.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// Run runs the suite. open must return a fresh, migrated, empty store that
// is closed when the test ends; it is called once per subtest, in parallel.
func Run(t *testing.T, open func(t *testing.T) *store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, *store.Store)
	}{
		{"Migrate", testMigrate},
		{"Settings", testSettings},
		{"Topics", testTopics},
		{"Tokens", testTokens},
		{"Subscribers", testSubscribers},
		{"IDsNotReused", testIDsNotReused},
		{"SubscribeConcurrent", testSubscribeConcurrent},
		{"EmailCase", testEmailCase},
		{"EmailCaseMigration", testEmailCaseMigration},
		{"RevokeLinks", testRevokeLinks},
		{"Suppressions", testSuppressions},
		{"ExportAndSearch", testExportAndSearch},
		{"Import", testImport},
		{"Articles", testArticles},
		{"DigestRunUnique", testDigestRunUnique},
		{"DigestEnqueue", testDigestEnqueue},
		{"OutcomeCounts", testOutcomeCounts},
		{"DeliveryQueue", testDeliveryQueue},
		{"ConcurrentClaims", testConcurrentClaims},
		{"RescueOwner", testRescueOwner},
		{"StaleOutcomes", testStaleOutcomes},
		{"PushSubscriptions", testPushSubscriptions},
		{"Alerts", testAlerts},
		{"AlertEnqueueConcurrent", testAlertEnqueueConcurrent},
		{"AlertOnce", testAlertOnce},
		{"ConcurrentPushClaims", testConcurrentPushClaims},
		{"PushWindows", testPushWindows},
		{"PushRefusals", testPushRefusals},
		{"Feeds", testFeeds},
		{"UsersAndSessions", testUsers},
		{"Audit", testAudit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

var ctx = context.Background()

// now is a time with millisecond precision, as the store keeps it.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func topic(t *testing.T, s *store.Store, slug string) int64 {
	t.Helper()
	tp, err := s.CreateTopic(ctx, slug, "Topic "+slug)
	check(t, err)
	return tp.ID
}

// many inserts n confirmed readers (emails PREFIXi@x.test) with one
// statement, much faster than the import path for the big tests, and
// returns their ids in order.
func many(t *testing.T, s *store.Store, prefix string, n int, topicID int64) []int64 {
	t.Helper()
	db := s.DB()
	t0 := now().UnixMilli()
	for start := 0; start < n; start += 500 {
		var b strings.Builder
		b.WriteString("INSERT INTO subscribers (email, status, frequency, lang, alerts, paused, created_at, confirmed_at, updated_at) VALUES ")
		for i := start; i < min(start+500, n); i++ {
			if i > start {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "('%s%d@x.test', 'confirmed', 'daily', 'fr', 1, 0, %d, %d, %d)", prefix, i, t0, t0, t0)
		}
		_, err := db.ExecContext(ctx, b.String())
		check(t, err)
	}
	if topicID != 0 {
		_, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO subscriber_topics (subscriber_id, topic_id) SELECT id, %d FROM subscribers WHERE email LIKE '%s%%'", topicID, prefix))
		check(t, err)
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT id FROM subscribers WHERE email LIKE '%s%%' ORDER BY id", prefix))
	check(t, err)
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		check(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	check(t, rows.Err())
	if len(ids) != n {
		t.Fatalf("inserted %d subscribers, want %d", len(ids), n)
	}
	return ids
}

// confirmed imports n confirmed daily readers (emails r0@x.test…) with
// the given topics and returns their ids in order.
func confirmed(t *testing.T, s *store.Store, prefix string, n int, freq news.Frequency, topicIDs ...int64) []int64 {
	t.Helper()
	rows := make([]store.ImportRow, n)
	for i := range rows {
		e := fmt.Sprintf("%s%d@x.test", prefix, i)
		rows[i] = store.ImportRow{Line: i + 2, Email: e, Hash: "h-" + e, Status: news.Confirmed,
			Prefs: store.Prefs{Frequency: freq, Lang: news.French, Alerts: true, TopicIDs: topicIDs}}
	}
	out, err := s.ImportBatch(ctx, rows, now())
	check(t, err)
	ids := make([]int64, n)
	for i := range rows {
		if out[i] != store.Imported {
			t.Fatalf("import row %d: outcome %d", i, out[i])
		}
		sub, err := s.SubscriberByEmail(ctx, rows[i].Email)
		check(t, err)
		ids[i] = sub.ID
	}
	return ids
}

func testMigrate(t *testing.T, s *store.Store) {
	n, err := s.Migrate(ctx)
	check(t, err)
	if n != 0 {
		t.Fatalf("migrating a migrated store applied %d migrations", n)
	}
	check(t, s.Ping(ctx))
}

func testSettings(t *testing.T, s *store.Store) {
	if _, err := s.Setting(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing setting: %v, want ErrNotFound", err)
	}
	// Several instances starting at once all get the one value that won.
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Go(func() {
			v, err := s.SettingOrCreate(ctx, "k", func() (string, error) { return fmt.Sprint("v", i), nil })
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for _, v := range got {
		if v != got[0] || v == "" {
			t.Fatalf("concurrent SettingOrCreate gave %q", got)
		}
	}
	v, err := s.SettingOrCreate(ctx, "k", func() (string, error) { return "other", nil })
	check(t, err)
	if v != got[0] {
		t.Fatalf("setting changed to %q", v)
	}
}

func testTopics(t *testing.T, s *store.Store) {
	b := topic(t, s, "b-sport")
	a := topic(t, s, "a-afrique")
	if _, err := s.CreateTopic(ctx, "a-afrique", "again"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate slug: %v, want ErrConflict", err)
	}
	ts, err := s.Topics(ctx)
	check(t, err)
	if len(ts) != 2 || ts[0].Slug != "a-afrique" || ts[0].ID != a || ts[1].ID != b {
		t.Fatalf("topics %+v", ts)
	}
	ids, unknown, err := s.TopicIDs(ctx, []string{"b-sport", "nope", "a-afrique", "b-sport"})
	check(t, err)
	if !slices.Equal(ids, []int64{b, a}) || !slices.Equal(unknown, []string{"nope"}) {
		t.Fatalf("TopicIDs = %v, %v", ids, unknown)
	}
}

func testTokens(t *testing.T, s *store.Store) {
	id, err := s.CreateAPIToken(ctx, "cms", news.RoleEditor, "hash1")
	check(t, err)
	tok, err := s.LookupAPIToken(ctx, "hash1")
	check(t, err)
	if tok.ID != id || tok.Name != "cms" || tok.Role != news.RoleEditor || !tok.RevokedAt.IsZero() {
		t.Fatalf("token %+v", tok)
	}
	if _, err := s.LookupAPIToken(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	check(t, s.RevokeAPIToken(ctx, id))
	if err := s.RevokeAPIToken(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}
	tok, err = s.LookupAPIToken(ctx, "hash1")
	check(t, err)
	if tok.RevokedAt.IsZero() {
		t.Fatal("revoked token has no revoked_at")
	}
	list, err := s.APITokens(ctx)
	check(t, err)
	if len(list) != 1 || list[0].CreatedAt.IsZero() {
		t.Fatalf("tokens %+v", list)
	}
}

func testSubscribers(t *testing.T, s *store.Store) {
	sport := topic(t, s, "sport")
	eco := topic(t, s, "eco")
	t0 := now()
	p := store.Prefs{Frequency: news.Daily, Lang: news.French, Alerts: true, TopicIDs: []int64{sport, eco}}
	id, out, err := s.Subscribe(ctx, "a@x.test", p, t0)
	check(t, err)
	if out != store.SubscribeNew {
		t.Fatalf("first subscribe: outcome %d", out)
	}
	sub, err := s.SubscriberByID(ctx, id)
	check(t, err)
	if sub.Email != "a@x.test" || sub.Status != news.Pending || !sub.Alerts || sub.Paused ||
		!slices.Equal(sub.Topics, []string{"eco", "sport"}) || !sub.CreatedAt.Equal(t0) || !sub.ConfirmedAt.IsZero() {
		t.Fatalf("subscriber %+v", sub)
	}
	p.TopicIDs = []int64{sport}
	id2, out, err := s.Subscribe(ctx, "a@x.test", p, t0)
	check(t, err)
	if id2 != id || out != store.SubscribeResent {
		t.Fatalf("second subscribe: %d %d", id2, out)
	}
	h, err := s.History(ctx, id, 10)
	check(t, err)
	if len(h) != 2 || h[0].Kind != news.MailConfirm || h[0].State != news.DeliveryPending {
		t.Fatalf("history %+v", h)
	}
	ok, err := s.Confirm(ctx, id, "hash-a", t0)
	check(t, err)
	if !ok {
		t.Fatal("confirm: not pending")
	}
	ok, err = s.Confirm(ctx, id, "hash-a", t0)
	check(t, err)
	if ok {
		t.Fatal("confirming twice changed something")
	}
	if _, out, err = s.Subscribe(ctx, "a@x.test", p, t0); err != nil || out != store.SubscribeAlreadyConfirmed {
		t.Fatalf("subscribe confirmed: %d %v", out, err)
	}
	check(t, s.UpdatePrefs(ctx, id, store.Prefs{Frequency: news.Weekly, Lang: news.English, Paused: true, TopicIDs: []int64{eco}}, t0))
	sub, err = s.SubscriberByEmail(ctx, "a@x.test")
	check(t, err)
	if sub.Status != news.Confirmed || sub.Frequency != news.Weekly || sub.Lang != news.English || sub.Alerts || !sub.Paused ||
		!slices.Equal(sub.Topics, []string{"eco"}) || sub.ConfirmedAt.IsZero() {
		t.Fatalf("after UpdatePrefs: %+v", sub)
	}
	if err := s.UpdatePrefs(ctx, 999999, p, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdatePrefs unknown: %v", err)
	}
	counts, err := s.CountSubscribers(ctx)
	check(t, err)
	if counts[news.Confirmed] != 1 {
		t.Fatalf("counts %v", counts)
	}

	// Unsubscribing cancels what was queued and suppresses the address.
	bid, _, err := s.Subscribe(ctx, "b@x.test", p, t0)
	check(t, err)
	check(t, s.Unsubscribe(ctx, bid, "hash-b", "one-click", t0))
	sub, err = s.SubscriberByID(ctx, bid)
	check(t, err)
	if sub.Status != news.Unsubscribed {
		t.Fatalf("after unsubscribe: %s", sub.Status)
	}
	if sup, _ := s.Suppressed(ctx, "hash-b"); !sup {
		t.Fatal("unsubscribed address not suppressed")
	}
	h, err = s.History(ctx, bid, 10)
	check(t, err)
	if len(h) != 1 || h[0].State != news.DeliveryCancelled || h[0].LastError != "one-click" {
		t.Fatalf("history after unsubscribe %+v", h)
	}
	if err := s.Unsubscribe(ctx, 999999, "x", "r", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unsubscribe unknown: %v", err)
	}

	// Erasing leaves only the hash.
	check(t, s.Erase(ctx, id, "hash-a", t0))
	if _, err := s.SubscriberByID(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("erased subscriber: %v", err)
	}
	if sup, _ := s.Suppressed(ctx, "hash-a"); !sup {
		t.Fatal("erased address not suppressed")
	}
	if err := s.Erase(ctx, id, "hash-a", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("erasing twice: %v", err)
	}

	// Pending readers who never confirm expire.
	_, _, err = s.Subscribe(ctx, "old@x.test", p, t0.Add(-48*time.Hour))
	check(t, err)
	_, _, err = s.Subscribe(ctx, "new@x.test", p, t0)
	check(t, err)
	n, err := s.ExpirePending(ctx, t0.Add(-24*time.Hour))
	check(t, err)
	if n != 1 {
		t.Fatalf("expired %d, want 1", n)
	}
	if _, err := s.SubscriberByEmail(ctx, "old@x.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired subscriber: %v", err)
	}
}

func testSuppressions(t *testing.T, s *store.Store) {
	t0 := now()
	check(t, s.Suppress(ctx, "h1", "bounce", t0))
	check(t, s.Suppress(ctx, "h1", "bounce", t0)) // idempotent
	check(t, s.Suppress(ctx, "h2", "complaint", t0.Add(time.Second)))
	list, err := s.Suppressions(ctx, 10)
	check(t, err)
	if len(list) != 2 || list[0].Hash != "h2" || list[1].Reason != "bounce" || !list[1].CreatedAt.Equal(t0) {
		t.Fatalf("suppressions %+v", list)
	}
	// Confirming again (a new consent) lifts the suppression.
	id, _, err := s.Subscribe(ctx, "c@x.test", store.Prefs{Frequency: news.Daily, Lang: news.French}, t0)
	check(t, err)
	_, err = s.Confirm(ctx, id, "h1", t0)
	check(t, err)
	if sup, _ := s.Suppressed(ctx, "h1"); sup {
		t.Fatal("confirm did not lift the suppression")
	}
}

func testExportAndSearch(t *testing.T, s *store.Store) {
	tp := topic(t, s, "monde")
	ids := many(t, s, "r", 1203, tp) // more than one export page
	var seen []int64
	check(t, s.EachSubscriber(ctx, func(sub news.Subscriber) error {
		if !slices.Equal(sub.Topics, []string{"monde"}) {
			return fmt.Errorf("subscriber %d topics %v", sub.ID, sub.Topics)
		}
		seen = append(seen, sub.ID)
		return nil
	}))
	if !slices.Equal(seen, ids) {
		t.Fatalf("export saw %d subscribers, want %d in id order", len(seen), len(ids))
	}
	stop := errors.New("stop")
	if err := s.EachSubscriber(ctx, func(news.Subscriber) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("EachSubscriber error: %v", err)
	}
	found, err := s.SearchSubscribers(ctx, "r120", 10)
	check(t, err)
	// Ordered by address: r1200…r1202, then r120.
	if len(found) != 4 || found[3].Email != "r120@x.test" {
		t.Fatalf("search r120: %d results %v", len(found), found)
	}
}

func testImport(t *testing.T, s *store.Store) {
	tp := topic(t, s, "eco")
	t0 := now()
	check(t, s.Suppress(ctx, "h-sup", "unsubscribed", t0))
	_, _, err := s.Subscribe(ctx, "old@x.test", store.Prefs{Frequency: news.Daily, Lang: news.French}, t0)
	check(t, err)
	rows := []store.ImportRow{
		{Email: "c@x.test", Hash: "h-c", Status: news.Confirmed, Prefs: store.Prefs{Frequency: news.Weekly, Lang: news.English, TopicIDs: []int64{tp}}},
		{Email: "p@x.test", Hash: "h-p", Status: news.Pending, Prefs: store.Prefs{Frequency: news.Daily, Lang: news.French}},
		{Email: "old@x.test", Hash: "h-old", Status: news.Confirmed, Prefs: store.Prefs{Frequency: news.Daily, Lang: news.French}},
		{Email: "sup@x.test", Hash: "h-sup", Status: news.Confirmed, Prefs: store.Prefs{Frequency: news.Daily, Lang: news.French}},
	}
	out, err := s.ImportBatch(ctx, rows, t0)
	check(t, err)
	want := []store.ImportOutcome{store.Imported, store.ImportedPending, store.SkippedExisting, store.SkippedSuppressed}
	if !slices.Equal(out, want) {
		t.Fatalf("outcomes %v, want %v", out, want)
	}
	c, err := s.SubscriberByEmail(ctx, "c@x.test")
	check(t, err)
	if c.Status != news.Confirmed || c.ConfirmedAt.IsZero() || c.Frequency != news.Weekly || !slices.Equal(c.Topics, []string{"eco"}) {
		t.Fatalf("imported %+v", c)
	}
	p, err := s.SubscriberByEmail(ctx, "p@x.test")
	check(t, err)
	h, err := s.History(ctx, p.ID, 5)
	check(t, err)
	if len(h) != 1 || h[0].Kind != news.MailConfirm {
		t.Fatalf("pending import history %+v", h)
	}
	if _, err := s.SubscriberByEmail(ctx, "sup@x.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("suppressed address imported: %v", err)
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

func testDigestRunUnique(t *testing.T, s *store.Store) {
	tick := now().Truncate(time.Minute)
	id, created, err := s.CreateRun(ctx, news.Daily, tick, "cron")
	check(t, err)
	id2, created2, err := s.CreateRun(ctx, news.Daily, tick, "cron")
	check(t, err)
	if !created || created2 || id2 != id {
		t.Fatalf("CreateRun twice: (%d %v) (%d %v)", id, created, id2, created2)
	}
	// While it is unfinished, a run asked for at any other time (run now,
	// on this instance or another, all at once) is that run: two runs of
	// a frequency would send the same articles twice.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			other, c, err := s.CreateRun(ctx, news.Daily, tick.Add(time.Duration(i+1)*time.Millisecond), "editor")
			if err != nil || c || other != id {
				t.Errorf("run now while run %d is unfinished: %d %v %v", id, other, c, err)
			}
		})
	}
	wg.Wait()
	if _, err := s.DB().ExecContext(ctx, fmt.Sprintf("UPDATE digest_runs SET state = 'done', finished_at = 1 WHERE id = %d", id)); err != nil {
		t.Fatal(err)
	}
	// Several instances whose cron fires at the same tick: one run.
	next := tick.Add(time.Minute)
	var (
		mu      sync.Mutex
		ids     = map[int64]int{}
		creates int
	)
	for range 8 {
		wg.Go(func() {
			id, c, err := s.CreateRun(ctx, news.Daily, next, "cron")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ids[id]++
			if c {
				creates++
			}
		})
	}
	wg.Wait()
	if len(ids) != 1 || creates != 1 {
		t.Fatalf("8 concurrent CreateRun: ids %v, %d created", ids, creates)
	}
	wid, created, err := s.CreateRun(ctx, news.Weekly, tick, "cron")
	check(t, err)
	if !created || wid == id {
		t.Fatal("weekly run of the same tick was not its own run")
	}
	last, err := s.LastScheduled(ctx, news.Daily)
	check(t, err)
	if !last.Equal(next) {
		t.Fatalf("LastScheduled %v, want %v", last, next)
	}
	runs, err := s.Runs(ctx, 10)
	check(t, err)
	if len(runs) != 3 || runs[0].ID != wid {
		t.Fatalf("runs %+v", runs)
	}
}

func testDigestEnqueue(t *testing.T, s *store.Store) {
	sport := topic(t, s, "sport")
	eco := topic(t, s, "eco")
	t0 := now()
	daily := confirmed(t, s, "d", 5, news.Daily, sport, eco)
	confirmed(t, s, "w", 2, news.Weekly, sport)
	check(t, s.UpdatePrefs(ctx, daily[4], store.Prefs{Frequency: news.Daily, Lang: news.French, Paused: true}, t0))
	art, _, err := s.SaveArticle(ctx, news.Article{GUID: "a", URL: "https://n.test/a", Title: "A", Topics: []string{"sport"}, PublishedAt: t0, CreatedAt: t0})
	check(t, err)

	id, _, err := s.CreateRun(ctx, news.Daily, t0, "test")
	check(t, err)
	run, err := s.Run(ctx, id)
	check(t, err)
	if run.State != news.RunRunning || run.MaxArticleID != art || run.Enqueued || run.Frequency != news.Daily {
		t.Fatalf("new run %+v", run)
	}
	todo, err := s.RunsToEnqueue(ctx)
	check(t, err)
	if !slices.Equal(todo, []int64{id}) {
		t.Fatalf("RunsToEnqueue %v", todo)
	}

	batch, err := s.EligibleBatch(ctx, news.Daily, 0, 3)
	check(t, err)
	if len(batch) != 3 || batch[0].ID != daily[0] || batch[2].ID != daily[2] {
		t.Fatalf("first batch %+v", batch)
	}
	for _, e := range batch {
		slices.Sort(e.TopicIDs)
		if e.Cursor != 0 || !slices.Equal(e.TopicIDs, []int64{sport, eco}) && !slices.Equal(e.TopicIDs, []int64{eco, sport}) {
			t.Fatalf("eligible %+v", e)
		}
	}
	// First batch: two digests, one reader with nothing new.
	items := []store.DigestItem{{SubscriberID: daily[0], Articles: []int64{art}}, {SubscriberID: daily[1], Articles: []int64{art}, More: 2}}
	cursorIDs := []int64{daily[0], daily[1]}
	ok, err := s.EnqueueDigestBatch(ctx, run, 0, daily[2], items, cursorIDs, 1, t0)
	check(t, err)
	if !ok {
		t.Fatal("first batch refused")
	}
	// The same batch computed from stale progress writes nothing.
	ok, err = s.EnqueueDigestBatch(ctx, run, 0, daily[2], []store.DigestItem{{SubscriberID: daily[2], Articles: []int64{art}}}, []int64{daily[2]}, 0, t0)
	check(t, err)
	if ok {
		t.Fatal("stale batch accepted")
	}
	run, err = s.Run(ctx, id)
	check(t, err)
	if run.EnqueueAfter != daily[2] || run.Recipients != 3 || run.SkippedEmpty != 1 {
		t.Fatalf("run after one batch %+v", run)
	}
	h, err := s.History(ctx, daily[2], 5)
	check(t, err)
	if len(h) != 0 {
		t.Fatalf("stale batch wrote %+v", h)
	}
	batch, err = s.EligibleBatch(ctx, news.Daily, daily[2], 3)
	check(t, err)
	if len(batch) != 1 || batch[0].ID != daily[3] { // daily[4] is paused
		t.Fatalf("second batch %+v", batch)
	}
	// The cursor moved for the readers who got a digest.
	batch0, err := s.EligibleBatch(ctx, news.Daily, 0, 1)
	check(t, err)
	if batch0[0].Cursor != art {
		t.Fatalf("cursor %d, want %d", batch0[0].Cursor, art)
	}
	ok, err = s.EnqueueDigestBatch(ctx, run, daily[2], daily[3], nil, nil, 1, t0)
	check(t, err)
	if !ok {
		t.Fatal("second batch refused")
	}
	check(t, s.FinishEnqueue(ctx, id))
	todo, err = s.RunsToEnqueue(ctx)
	check(t, err)
	if len(todo) != 0 {
		t.Fatalf("RunsToEnqueue after finish: %v", todo)
	}
	// Not done while deliveries are pending.
	closed, err := s.CloseFinishedRuns(ctx, t0)
	check(t, err)
	if len(closed) != 0 {
		t.Fatalf("closed %v with deliveries pending", closed)
	}
	ds, err := s.ClaimDeliveries(ctx, "w1", t0, 10)
	check(t, err)
	if len(ds) != 2 || ds[0].Kind != news.MailDigest || ds[0].RunID != id || !slices.Equal(ds[0].Articles, []int64{art}) || ds[1].More != 2 {
		t.Fatalf("claimed %+v", ds)
	}
	stale(t, 0)(s.RecordDeliveries(ctx, []store.Result{ds[0].Outcome(store.Result{State: news.DeliverySent}), ds[1].Outcome(store.Result{State: news.DeliveryFailed, Error: "550"})}, t0))
	closed, err = s.CloseFinishedRuns(ctx, t0)
	check(t, err)
	if !slices.Equal(closed, []int64{id}) {
		t.Fatalf("closed %v", closed)
	}
	run, err = s.Run(ctx, id)
	check(t, err)
	if run.State != news.RunDone || run.Sent != 1 || run.Failed != 1 || run.Recipients != run.Sent+run.Failed+run.SkippedEmpty || run.FinishedAt.IsZero() {
		t.Fatalf("finished run %+v", run)
	}

	// A failed run keeps its queue and completes when it drains.
	id2, _, err := s.CreateRun(ctx, news.Weekly, t0, "test")
	check(t, err)
	check(t, s.FailRun(ctx, id2, "smtp auth refused"))
	run2, err := s.Run(ctx, id2)
	check(t, err)
	if run2.State != news.RunFailed || run2.Error != "smtp auth refused" {
		t.Fatalf("failed run %+v", run2)
	}
}

// testOutcomeCounts: a run's counters follow its deliveries through every
// way one ends (sent, failed, cancelled by an unsubscribe while pending)
// and agree with the rows at the end; a message a worker holds when its
// reader unsubscribes is recorded as it ends (it was on its way), once.
func testOutcomeCounts(t *testing.T, s *store.Store) {
	sport := topic(t, s, "sport")
	t0 := now()
	readers := confirmed(t, s, "r", 4, news.Daily, sport)
	art, _, err := s.SaveArticle(ctx, news.Article{GUID: "a", URL: "https://n.test/a", Title: "A", Topics: []string{"sport"}, PublishedAt: t0, CreatedAt: t0})
	check(t, err)
	id, _, err := s.CreateRun(ctx, news.Daily, t0, "test")
	check(t, err)
	run, err := s.Run(ctx, id)
	check(t, err)
	var items []store.DigestItem
	for _, r := range readers {
		items = append(items, store.DigestItem{SubscriberID: r, Articles: []int64{art}})
	}
	ok, err := s.EnqueueDigestBatch(ctx, run, 0, readers[3], items, readers, 0, t0)
	check(t, err)
	if !ok {
		t.Fatal("batch refused")
	}
	check(t, s.FinishEnqueue(ctx, id))

	ds, err := s.ClaimDeliveries(ctx, "w1", t0, 2) // readers 0 and 1
	check(t, err)
	if len(ds) != 2 {
		t.Fatalf("claimed %d", len(ds))
	}
	check(t, s.Unsubscribe(ctx, readers[1], "h1", "one-click", t0)) // claimed: left to its worker
	check(t, s.Unsubscribe(ctx, readers[2], "h2", "one-click", t0)) // pending: cancelled
	stale(t, 0)(s.RecordDeliveries(ctx, []store.Result{ds[0].Outcome(store.Result{State: news.DeliverySent}), ds[1].Outcome(store.Result{State: news.DeliverySent})}, t0))
	rest, err := s.ClaimDeliveries(ctx, "w1", t0, 10)
	check(t, err)
	if len(rest) != 1 || rest[0].SubscriberID != readers[3] {
		t.Fatalf("left to send %+v", rest)
	}
	stale(t, 0)(s.RecordDeliveries(ctx, []store.Result{rest[0].Outcome(store.Result{State: news.DeliveryFailed, Error: "550"})}, t0))
	run, err = s.Run(ctx, id)
	check(t, err)
	if run.Sent != 2 || run.Failed != 2 {
		t.Fatalf("run counts sent %d failed %d, want 2 and 2", run.Sent, run.Failed)
	}
	var sent, ended int64
	check(t, s.DB().QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*) FROM deliveries WHERE run_id = %d AND state = 'sent'", id)).Scan(&sent))
	check(t, s.DB().QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*) FROM deliveries WHERE run_id = %d AND state IN ('failed', 'cancelled', 'expired')", id)).Scan(&ended))
	if sent != run.Sent || ended != run.Failed {
		t.Fatalf("rows: %d sent, %d failed or cancelled; counters %d and %d", sent, ended, run.Sent, run.Failed)
	}
}

// testConcurrentPushClaims: as testConcurrentClaims, for the push queue.
func testConcurrentPushClaims(t *testing.T, s *store.Store) {
	const n = 1000
	t0 := now()
	insertBrowsers(t, s, "https://push.test/", n, t0)
	aid, err := s.CreateAlert(ctx, news.Alert{Title: "T", Body: "B", URL: "https://n.test", TTL: time.Hour, Urgency: "high", TopicHeader: "t", State: news.AlertSending, SendAt: t0, CreatedAt: t0}, nil)
	check(t, err)
	for {
		_, done, err := s.EnqueueAlertWindow(ctx, aid, 300, t0)
		check(t, err)
		if done {
			break
		}
	}
	seen := claimAll(t, 4, func(owner string) ([]int64, error) {
		ps, err := s.ClaimPush(ctx, owner, t0, 37)
		ids := make([]int64, len(ps))
		res := make([]store.Result, len(ps))
		for i, p := range ps {
			if p.Endpoint == "" || p.P256dh != "p" || p.AlertID != aid {
				return nil, fmt.Errorf("claimed push without keys: %+v", p)
			}
			ids[i] = p.SubscriptionID
			res[i] = p.Outcome(store.Result{State: news.DeliverySent, Status: 201})
		}
		if err == nil {
			_, err = s.RecordPush(ctx, res, t0)
		}
		return ids, err
	})
	if len(seen) != n {
		t.Fatalf("claimed %d distinct push messages, want %d", len(seen), n)
	}
	_, err = s.CloseFinishedAlerts(ctx, t0)
	check(t, err)
	a, err := s.Alert(ctx, aid)
	check(t, err)
	if a.State != news.AlertDone || a.Delivered != n || a.Targeted != n {
		t.Fatalf("alert %+v", a)
	}
}

// claimAll runs workers claiming until the queue is empty and checks that
// no id was handed out twice; it returns every id seen.
func claimAll(t *testing.T, workers int, claim func(owner string) ([]int64, error)) map[int64]string {
	t.Helper()
	var (
		mu   sync.Mutex
		seen = map[int64]string{}
		wg   sync.WaitGroup
	)
	for w := range workers {
		owner := fmt.Sprintf("worker-%d", w)
		wg.Go(func() {
			for empty := 0; empty < 3; {
				ids, err := claim(owner)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ids) == 0 {
					empty++
					continue
				}
				empty = 0
				mu.Lock()
				for _, id := range ids {
					if prev, dup := seen[id]; dup {
						t.Errorf("row %d claimed by %s and %s", id, prev, owner)
					}
					seen[id] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return seen
}

// testIDsNotReused: a subscriber's id is never handed out again once the
// row is gone (erased, or expired unconfirmed), even when it was the newest:
// links in old emails name subscribers by id, and an erased reader's must
// not open a newcomer's preferences.
func testIDsNotReused(t *testing.T, s *store.Store) {
	t0 := now()
	p := store.Prefs{Frequency: news.Daily, Lang: news.French}
	_, _, err := s.Subscribe(ctx, "first@x.test", p, t0)
	check(t, err)
	newest, _, err := s.Subscribe(ctx, "newest@x.test", p, t0)
	check(t, err)
	check(t, s.Erase(ctx, newest, "hash-newest", t0))
	next, _, err := s.Subscribe(ctx, "next@x.test", p, t0)
	check(t, err)
	if next <= newest {
		t.Fatalf("after erasing subscriber %d the next sign-up got id %d", newest, next)
	}
	old, _, err := s.Subscribe(ctx, "never-confirmed@x.test", p, t0.Add(-48*time.Hour))
	check(t, err)
	if n, err := s.ExpirePending(ctx, t0.Add(-time.Hour)); err != nil || n != 1 {
		t.Fatalf("ExpirePending: %d %v", n, err)
	}
	after, _, err := s.Subscribe(ctx, "after@x.test", p, t0)
	check(t, err)
	if after <= old {
		t.Fatalf("after expiring subscriber %d the next sign-up got id %d", old, after)
	}
}

// testRescueOwner: the messages of one owner known to be dead go back to
// the queue at once; a live owner's stay claimed.
func testRescueOwner(t *testing.T, s *store.Store) {
	t0 := now()
	p := store.Prefs{Frequency: news.Daily, Lang: news.French}
	for _, e := range []string{"a@x.test", "b@x.test", "c@x.test"} {
		_, _, err := s.Subscribe(ctx, e, p, t0) // queues its confirmation
		check(t, err)
	}
	dead, err := s.ClaimDeliveries(ctx, "host-101-dead", t0, 2)
	check(t, err)
	alive, err := s.ClaimDeliveries(ctx, "host-102-live", t0, 10)
	check(t, err)
	if len(dead) != 2 || len(alive) != 1 {
		t.Fatalf("claimed %d and %d", len(dead), len(alive))
	}
	owners, err := s.ClaimOwners(ctx)
	check(t, err)
	slices.Sort(owners)
	if !slices.Equal(owners, []string{"host-101-dead", "host-102-live"}) {
		t.Fatalf("owners %v", owners)
	}
	n, err := s.RescueOwner(ctx, "host-101-dead")
	check(t, err)
	if n != 2 {
		t.Fatalf("rescued %d, want 2", n)
	}
	if owners, _ := s.ClaimOwners(ctx); !slices.Equal(owners, []string{"host-102-live"}) {
		t.Fatalf("owners after the rescue %v", owners)
	}
	again, err := s.ClaimDeliveries(ctx, "host-103-new", t0, 10)
	check(t, err)
	if len(again) != 2 {
		t.Fatalf("claimed %d after the rescue, want the dead owner's 2", len(again))
	}
}

// testSubscribeConcurrent: the same new address sent by several requests
// at once (two instances, a double click) makes one reader, and no request
// fails.
func testSubscribeConcurrent(t *testing.T, s *store.Store) {
	t0 := now()
	p := store.Prefs{Frequency: news.Daily, Lang: news.French}
	var wg sync.WaitGroup
	ids := make([]int64, 8)
	for i := range ids {
		wg.Go(func() {
			id, _, err := s.Subscribe(ctx, "double@x.test", p, t0)
			if err != nil {
				t.Errorf("subscribe %d: %v", i, err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("one address, several readers: %v", ids)
		}
	}
}
