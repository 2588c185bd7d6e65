package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// claimTests cover what a claim promises, for emails and push alike: a
// dead owner's messages come back, and outcomes under a claim taken back
// change nothing.
var claimTests = []test{
	{"RescueOwner", testRescueOwner},
	{"StaleOutcomes", testStaleOutcomes},
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

// testStaleOutcomes: worker A claims emails and push messages and stalls
// past its lease; they are taken back and B claims them. A's late outcomes
// (sent, failed, retry, release) change nothing and are reported stale: a
// release or retry from A would have put B's claim back in the queue for a
// third worker to send. B's outcomes count, and the counters stay exact.
func testStaleOutcomes(t *testing.T, s *store.Store) {
	t0 := now()
	lease := time.Minute

	// Emails: four readers of one digest run.
	readers := confirmed(t, s, "st", 4, news.Daily)
	runID, _, err := s.CreateRun(ctx, news.Daily, t0, "test")
	check(t, err)
	run, err := s.Run(ctx, runID)
	check(t, err)
	items := make([]store.DigestItem, len(readers))
	for i, r := range readers {
		items[i] = store.DigestItem{SubscriberID: r, Articles: []int64{1}}
	}
	if ok, err := s.EnqueueDigestBatch(ctx, run, 0, readers[3], items, nil, 0, t0); err != nil || !ok {
		t.Fatalf("enqueue: %v %v", ok, err)
	}
	check(t, s.FinishEnqueue(ctx, runID))
	a, err := s.ClaimDeliveries(ctx, "host-a", t0, 10)
	check(t, err)
	if len(a) != 4 {
		t.Fatalf("A claimed %d emails", len(a))
	}
	t1 := t0.Add(lease + time.Second)
	if n, err := s.RescueDeliveries(ctx, t0.Add(lease)); err != nil || n != 4 {
		t.Fatalf("rescued %d (%v), want 4", n, err)
	}
	b, err := s.ClaimDeliveries(ctx, "host-b", t1, 10)
	check(t, err)
	if len(b) != 4 {
		t.Fatalf("B claimed %d emails", len(b))
	}
	stale(t, 4)(s.RecordDeliveries(ctx, []store.Result{
		a[0].Outcome(store.Result{State: news.DeliverySent}),
		a[1].Outcome(store.Result{Release: true}),
		a[2].Outcome(store.Result{State: news.DeliveryPending, NextAttempt: t1, Error: "421"}),
		a[3].Outcome(store.Result{State: news.DeliveryFailed, Error: "550"}),
	}, t1))
	if again, err := s.ClaimDeliveries(ctx, "host-c", t1.Add(time.Hour), 10); err != nil || len(again) != 0 {
		t.Fatalf("after A's stale outcomes C claimed %d emails (%v): B's claims were put back", len(again), err)
	}
	runCounts := func(sent, failed int64) {
		t.Helper()
		r, err := s.Run(ctx, runID)
		check(t, err)
		if r.Sent != sent || r.Failed != failed {
			t.Fatalf("run sent %d failed %d, want %d and %d", r.Sent, r.Failed, sent, failed)
		}
	}
	runCounts(0, 0)
	var stateCounts [2]int
	check(t, s.DB().QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*), COUNT(CASE WHEN locked_by = 'host-b' THEN 1 END) FROM deliveries WHERE run_id = %d AND state = 'sending'", runID)).Scan(&stateCounts[0], &stateCounts[1]))
	if stateCounts != [2]int{4, 4} {
		t.Fatalf("%d emails sending, %d of them B's; want 4 and 4", stateCounts[0], stateCounts[1])
	}
	rs := make([]store.Result, len(b))
	for i, d := range b {
		rs[i] = d.Outcome(store.Result{State: news.DeliverySent})
	}
	rs[3] = b[3].Outcome(store.Result{State: news.DeliveryFailed, Error: "550"})
	stale(t, 0)(s.RecordDeliveries(ctx, rs, t1))
	runCounts(3, 1)
	closed, err := s.CloseFinishedRuns(ctx, t1)
	check(t, err)
	if len(closed) != 1 || closed[0] != runID {
		t.Fatalf("closed runs %v, want %d", closed, runID)
	}

	// Push: queued rows (retries), then a window.
	insertBrowsers(t, s, "https://push.test/stale", 3, t0)
	alertID, err := s.CreateAlert(ctx, newAlert(t0), nil)
	check(t, err)
	for {
		_, done, err := s.EnqueueAlertWindow(ctx, alertID, 100, t0)
		check(t, err)
		if done {
			break
		}
	}
	w, err := s.ClaimPush(ctx, "host-a", t0, 10)
	check(t, err)
	if len(w) != 3 {
		t.Fatalf("claimed %d push messages", len(w))
	}
	// Two become queued rows (retries); the third is handled later.
	stale(t, 0)(s.RecordPush(ctx, []store.Result{
		w[0].Outcome(store.Result{State: news.DeliveryPending, Status: 429, NextAttempt: t0, Error: "429"}),
		w[1].Outcome(store.Result{State: news.DeliveryPending, Status: 429, NextAttempt: t0, Error: "429"}),
	}, t0))
	pa, err := s.ClaimPush(ctx, "host-a", t0, 2)
	check(t, err)
	if len(pa) != 2 || pa[0].DeliveryID == 0 || pa[1].DeliveryID == 0 {
		t.Fatalf("A claimed %+v, want the two queued rows", pa)
	}
	if n, err := s.RescueDeliveries(ctx, t0.Add(lease)); err != nil || n != 3 {
		t.Fatalf("rescued %d (%v), want 2 rows and 1 window", n, err)
	}
	pb, err := s.ClaimPush(ctx, "host-b", t1, 10)
	check(t, err)
	if len(pb) != 3 {
		t.Fatalf("B claimed %d push messages, want 3", len(pb))
	}
	stale(t, 3)(s.RecordPush(ctx, []store.Result{
		pa[0].Outcome(store.Result{State: news.DeliverySent, Status: 201}),
		pa[1].Outcome(store.Result{Release: true}),
		w[2].Outcome(store.Result{State: news.DeliverySent, Status: 201}),
	}, t1))
	if again, err := s.ClaimPush(ctx, "host-c", t1.Add(time.Hour), 10); err != nil || len(again) != 0 {
		t.Fatalf("after A's stale outcomes C claimed %d push messages (%v)", len(again), err)
	}
	pushCounts := func(delivered, failed int64) {
		t.Helper()
		info, err := s.Alert(ctx, alertID)
		check(t, err)
		if info.Delivered != delivered || info.Failed != failed {
			t.Fatalf("alert delivered %d failed %d, want %d and %d", info.Delivered, info.Failed, delivered, failed)
		}
	}
	pushCounts(0, 0)
	rs = make([]store.Result, len(pb))
	for i, p := range pb {
		rs[i] = p.Outcome(store.Result{State: news.DeliverySent, Status: 201})
	}
	rs[0] = pb[0].Outcome(store.Result{State: news.DeliveryFailed, Status: 400, Error: "bad"})
	stale(t, 0)(s.RecordPush(ctx, rs, t1))
	pushCounts(2, 1)
}
