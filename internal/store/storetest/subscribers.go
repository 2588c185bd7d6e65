package storetest

import (
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

// subscriberTests cover readers: sign-up, preferences, suppressions,
// search, export, import and erasure.
var subscriberTests = []test{
	{"Subscribers", testSubscribers},
	{"IDsNotReused", testIDsNotReused},
	{"SubscribeConcurrent", testSubscribeConcurrent},
	{"Suppressions", testSuppressions},
	{"ExportAndSearch", testExportAndSearch},
	{"Import", testImport},
	{"SubscribeRequest", testSubscribeRequest},
	{"SubscribersByID", testSubscribersByID},
	{"ImportBatchInOrder", testImportBatchInOrder},
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
	if e, err := s.SuppressionOf(ctx, "hash-b"); err != nil || e.Reason != "one-click" || !e.CreatedAt.Equal(t0) {
		t.Fatalf("SuppressionOf = %+v, %v; want one-click at %v", e, err, t0)
	}
	if e, err := s.SuppressionOf(ctx, "hash-none"); err != nil || e.Reason != "" {
		t.Fatalf("SuppressionOf an address not on the list = %+v, %v", e, err)
	}
	if hard, err := s.HardSuppressed(ctx, "hash-b"); err != nil || hard {
		t.Fatalf("HardSuppressed after a one-click unsubscribe = %v, %v; want false", hard, err)
	}
	if lifted, err := s.Unsuppress(ctx, "hash-b"); err != nil || !lifted {
		t.Fatalf("Unsuppress = %v, %v", lifted, err)
	}
	if lifted, _ := s.Unsuppress(ctx, "hash-b"); lifted {
		t.Fatal("Unsuppress twice lifted twice")
	}
	check(t, s.Suppress(ctx, "hash-b", "bounce", t0))
	if hard, err := s.HardSuppressed(ctx, "hash-b"); err != nil || !hard {
		t.Fatalf("HardSuppressed after a bounce = %v, %v; want true", hard, err)
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
