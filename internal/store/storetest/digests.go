package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// digestTests cover digest runs: one per tick, enqueued in batches, and
// their counters.
var digestTests = []test{
	{"DigestRunUnique", testDigestRunUnique},
	{"DigestEnqueue", testDigestEnqueue},
	{"OutcomeCounts", testOutcomeCounts},
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
