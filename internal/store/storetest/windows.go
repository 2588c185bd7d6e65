package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// windowTests cover push windows: an alert's browsers claimed a window at
// a time (migration 0008).
var windowTests = []test{
	{"PushWindows", testPushWindows},
}

// testPushWindows follows an alert's browsers through their windows: a
// window taken back from a dead worker sends only what was not recorded,
// the dead worker's late record changes nothing, a release at shutdown
// gives the claim back uncounted, and cancelling counts what was left, so
// that delivered + failed + expired = targeted throughout.
func testPushWindows(t *testing.T, s *store.Store) {
	const n = 600 // windows of 256, 256 and 88
	t0 := now()
	insertBrowsers(t, s, "https://push.test/w", n, t0)
	id, err := s.CreateAlert(ctx, newAlert(t0), nil)
	check(t, err)
	for {
		_, done, err := s.EnqueueAlertWindow(ctx, id, 2000, t0)
		check(t, err)
		if done {
			break
		}
	}
	counts := func(want [3]int64) {
		t.Helper()
		a, err := s.Alert(ctx, id)
		check(t, err)
		if got := [3]int64{a.Delivered, a.Failed, a.Expired}; got != want || a.Targeted != n {
			t.Fatalf("delivered, failed, expired %v of %d; want %v of %d", got, a.Targeted, want, n)
		}
	}
	outcomes := func(ps []store.PushTarget, state news.DeliveryState, status int) []store.Result {
		rs := make([]store.Result, len(ps))
		for i, p := range ps {
			rs[i] = p.Outcome(store.Result{State: state, Status: status})
		}
		return rs
	}

	// A claim takes a whole window, even when asked for fewer.
	w1, err := s.ClaimPush(ctx, "w1", t0, 100)
	check(t, err)
	if len(w1) != store.PushWindowSize || w1[0].WindowID == 0 || w1[0].DeliveryID != 0 || w1[0].Claim != 1 || w1[0].Attempts != 1 || w1[0].Endpoint == "" {
		t.Fatalf("first claim: %d messages, first %+v", len(w1), w1[0])
	}
	stale(t, 0)(s.RecordPush(ctx, outcomes(w1[:128], news.DeliverySent, 201), t0))
	counts([3]int64{128, 0, 0})

	// w1 is found dead: its window goes back with the 128 not recorded.
	if _, err := s.RescueOwner(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	w2, err := s.ClaimPush(ctx, "w2", t0, 100)
	check(t, err)
	if len(w2) != 128 || w2[0].WindowID != w1[0].WindowID || w2[0].Claim != 2 || w2[0].Attempts != 2 {
		t.Fatalf("claim after rescue: %d messages, first %+v", len(w2), w2[0])
	}
	if w2[0].SubscriptionID != w1[128].SubscriptionID {
		t.Fatalf("claim after rescue starts at browser %d, want %d", w2[0].SubscriptionID, w1[128].SubscriptionID)
	}
	// w1 was only slow: its late record of the same browsers is stale.
	stale(t, 10)(s.RecordPush(ctx, outcomes(w1[128:138], news.DeliverySent, 201), t0))
	counts([3]int64{128, 0, 0})
	rs := outcomes(w2, news.DeliverySent, 201)
	rs[0] = w2[0].Outcome(store.Result{State: news.DeliveryFailed, Status: 413, Error: "too large"})
	rs[1] = w2[1].Outcome(store.Result{State: news.DeliveryPending, Status: 429, NextAttempt: t0.Add(time.Second), Error: "slow down"})
	stale(t, 0)(s.RecordPush(ctx, rs, t0))
	counts([3]int64{254, 1, 0})
	var status int
	check(t, s.DB().QueryRowContext(ctx, fmt.Sprintf("SELECT status FROM push_deliveries WHERE alert_id = %d AND state = 'failed'", id)).Scan(&status))
	if status != 413 {
		t.Fatalf("failed message kept with status %d, want 413", status)
	}

	// The retry is a queued row, due in a second, taken before windows.
	w3, err := s.ClaimPush(ctx, "w3", t0.Add(time.Second), 1)
	check(t, err)
	if len(w3) != 1 || w3[0].DeliveryID == 0 || w3[0].SubscriptionID != w2[1].SubscriptionID || w3[0].Attempts != 3 {
		t.Fatalf("retry claim %+v", w3)
	}
	stale(t, 0)(s.RecordPush(ctx, outcomes(w3, news.DeliverySent, 201), t0))
	counts([3]int64{255, 1, 0})

	// A release at shutdown gives the window back uncounted as an attempt.
	w4, err := s.ClaimPush(ctx, "w4", t0, 256)
	check(t, err)
	if len(w4) != store.PushWindowSize || w4[0].Attempts != 1 {
		t.Fatalf("second window: %d messages, first %+v", len(w4), w4[0])
	}
	check(t, s.TouchClaims(ctx, "w4", []news.ClaimKey{w4[0].ClaimKey()}, t0.Add(time.Hour)))
	if n, err := s.RescueDeliveries(ctx, t0.Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("rescued %d (%v) after the window's lease was renewed", n, err)
	}
	stale(t, 0)(s.RecordPush(ctx, outcomes(w4[:6], news.DeliverySent, 201), t0))
	check(t, s.ReleasePushWindows(ctx, "w4"))
	w5, err := s.ClaimPush(ctx, "w5", t0, 100)
	check(t, err)
	if len(w5) != store.PushWindowSize-6 || w5[0].WindowID != w4[0].WindowID || w5[0].Attempts != 1 || w5[0].Claim != 2 {
		t.Fatalf("claim after release: %d messages, first %+v", len(w5), w5[0])
	}

	// Cancelling counts the window still queued; the claimed one is
	// recorded by its worker.
	check(t, s.CancelAlert(ctx, id, t0))
	counts([3]int64{261, 1, 88})
	stale(t, 0)(s.RecordPush(ctx, outcomes(w5, news.DeliveryCancelled, 0), t0))
	counts([3]int64{261, 1, 338})
	if ps, err := s.ClaimPush(ctx, "w6", t0.Add(time.Hour), 256); err != nil || len(ps) != 0 {
		t.Fatalf("claimed %d (%v) after the end", len(ps), err)
	}
}
