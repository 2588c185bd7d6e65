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

// deliveryTests cover the email queue: claiming, recording, retries, and
// workers that never share a row.
var deliveryTests = []test{
	{"DeliveryQueue", testDeliveryQueue},
	{"ConcurrentClaims", testConcurrentClaims},
}

func testDeliveryQueue(t *testing.T, s *store.Store) {
	t0 := now()
	ids := confirmed(t, s, "q", 3, news.Daily)
	run, _, err := s.CreateRun(ctx, news.Daily, t0, "test")
	check(t, err)
	ri, err := s.Run(ctx, run)
	check(t, err)
	items := []store.DigestItem{{SubscriberID: ids[0], Articles: []int64{3, 2}}, {SubscriberID: ids[1]}, {SubscriberID: ids[2]}}
	_, err = s.EnqueueDigestBatch(ctx, ri, 0, ids[2], items, nil, 0, t0)
	check(t, err)
	// A confirmation (priority 0) goes before the digests.
	cid, _, err := s.Subscribe(ctx, "c@x.test", store.Prefs{Frequency: news.Daily, Lang: news.French}, t0)
	check(t, err)
	check(t, s.EnqueuePreview(ctx, "editor@x.test", []int64{5}, 1, "lang=en", t0.Add(time.Hour))) // not due yet

	pending, err := s.PendingEmails(ctx)
	check(t, err)
	if pending != 5 {
		t.Fatalf("PendingEmails %d, want 5", pending)
	}
	next, err := s.NextDue(ctx, true)
	check(t, err)
	if !next.Equal(t0) {
		t.Fatalf("NextDue %v, want %v", next, t0)
	}
	// RETURNING gives no order: check the priority with a claim of one.
	first, err := s.ClaimDeliveries(ctx, "w1", t0, 1)
	check(t, err)
	if len(first) != 1 || first[0].Kind != news.MailConfirm || first[0].SubscriberID != cid || first[0].Attempts != 1 {
		t.Fatalf("first claimed %+v, want the confirmation", first)
	}
	rest, err := s.ClaimDeliveries(ctx, "w1", t0, 10)
	check(t, err)
	slices.SortFunc(rest, func(a, b store.Delivery) int { return int(a.ID - b.ID) })
	ds := append(first, rest...)
	if len(ds) != 4 || !slices.Equal(ds[1].Articles, []int64{3, 2}) {
		t.Fatalf("claimed %+v", ds)
	}
	if again, err := s.ClaimDeliveries(ctx, "w2", t0, 10); err != nil || len(again) != 0 {
		t.Fatalf("claimed again: %+v %v", again, err)
	}
	retryAt := t0.Add(time.Minute)
	stale(t, 0)(s.RecordDeliveries(ctx, []store.Result{
		ds[0].Outcome(store.Result{State: news.DeliverySent}),
		ds[1].Outcome(store.Result{State: news.DeliveryPending, NextAttempt: retryAt, Error: "421 try later"}),
		ds[2].Outcome(store.Result{State: news.DeliveryFailed, Error: "550 no such user"}),
		ds[3].Outcome(store.Result{Release: true}),
	}, t0))
	// Recording twice changes nothing (the row is no longer sending).
	stale(t, 1)(s.RecordDeliveries(ctx, []store.Result{ds[2].Outcome(store.Result{State: news.DeliverySent})}, t0))
	h, err := s.History(ctx, ds[2].SubscriberID, 5)
	check(t, err)
	if h[0].State != news.DeliveryFailed || h[0].LastError != "550 no such user" {
		t.Fatalf("failed delivery %+v", h[0])
	}
	// The released one is due at once with its attempt given back.
	ds2, err := s.ClaimDeliveries(ctx, "w1", t0, 10)
	check(t, err)
	if len(ds2) != 1 || ds2[0].ID != ds[3].ID || ds2[0].Attempts != 1 {
		t.Fatalf("after release claimed %+v", ds2)
	}
	// The retry comes back when due, with its attempt counted.
	ds3, err := s.ClaimDeliveries(ctx, "w1", retryAt, 1)
	check(t, err)
	if len(ds3) != 1 || ds3[0].ID != ds[1].ID || ds3[0].Attempts != 2 {
		t.Fatalf("retry claimed %+v", ds3)
	}
	// A crashed owner's rows are rescued after the lease.
	n, err := s.RescueDeliveries(ctx, t0)
	check(t, err)
	if n != 0 {
		t.Fatalf("rescued %d fresh rows", n)
	}
	n, err = s.RescueDeliveries(ctx, retryAt.Add(time.Second))
	check(t, err)
	if n != 2 {
		t.Fatalf("rescued %d, want 2", n)
	}
	ds4, err := s.ClaimDeliveries(ctx, "w2", t0.Add(2*time.Hour), 10)
	check(t, err)
	if len(ds4) != 3 {
		t.Fatalf("after rescue claimed %+v", ds4)
	}
	var preview *store.Delivery
	for i := range ds4 {
		if ds4[i].Kind == news.MailPreview {
			preview = &ds4[i]
		}
	}
	if preview == nil || preview.Rcpt != "editor@x.test" || !slices.Equal(preview.Articles, []int64{5}) || preview.More != 1 || preview.SubscriberID != 0 {
		t.Fatalf("preview %+v", preview)
	}
	res := make([]store.Result, len(ds4))
	for i, d := range ds4 {
		res[i] = d.Outcome(store.Result{State: news.DeliverySent})
	}
	stale(t, 0)(s.RecordDeliveries(ctx, res, t0))
	if next, err := s.NextDue(ctx, true); err != nil || !next.IsZero() {
		t.Fatalf("NextDue of an empty queue: %v %v", next, err)
	}
	if pending, err := s.PendingEmails(ctx); err != nil || pending != 0 {
		t.Fatalf("PendingEmails %d %v", pending, err)
	}
}

// testConcurrentClaims: four workers claim from 2,000 rows; each row is
// handed out exactly once.
func testConcurrentClaims(t *testing.T, s *store.Store) {
	const n = 2000
	t0 := now()
	ids := many(t, s, "c", n, 0)
	run, _, err := s.CreateRun(ctx, news.Daily, t0, "test")
	check(t, err)
	ri, err := s.Run(ctx, run)
	check(t, err)
	items := make([]store.DigestItem, n)
	for i, id := range ids {
		items[i] = store.DigestItem{SubscriberID: id, Articles: []int64{1}}
	}
	ok, err := s.EnqueueDigestBatch(ctx, ri, 0, ids[n-1], items, nil, 0, t0)
	check(t, err)
	if !ok {
		t.Fatal("batch refused")
	}
	seen := claimAll(t, 4, func(owner string) ([]int64, error) {
		ds, err := s.ClaimDeliveries(ctx, owner, t0, 50)
		if err != nil {
			return nil, err
		}
		out := make([]int64, len(ds))
		res := make([]store.Result, len(ds))
		for i, d := range ds {
			out[i] = d.ID
			res[i] = d.Outcome(store.Result{State: news.DeliverySent})
		}
		_, err = s.RecordDeliveries(ctx, res, t0)
		return out, err
	})
	if len(seen) != n {
		t.Fatalf("claimed %d distinct rows, want %d", len(seen), n)
	}
	check(t, s.FinishEnqueue(ctx, run))
	_, err = s.CloseFinishedRuns(ctx, t0)
	check(t, err)
	ri, err = s.Run(ctx, run)
	check(t, err)
	if ri.State != news.RunDone || ri.Sent != n {
		t.Fatalf("run %+v", ri)
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
