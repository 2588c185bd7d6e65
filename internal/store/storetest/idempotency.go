package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// idempotencyTests cover idempotency keys: one alert per key, whichever
// instance gets the request.
var idempotencyTests = []test{
	{"AlertOnce", testAlertOnce},
}

// testAlertOnce: an idempotency key makes one alert, however many
// requests carry it at once; a repeat gets the first alert, another
// scope or key makes its own, another request with the key is refused,
// and after 24 hours the key (forgotten, or cleaned by the janitor) makes
// a new alert.
func testAlertOnce(t *testing.T, s *store.Store) {
	t0 := now()
	k := news.IdempotencyKey{Scope: "token:1", Key: "k-1", Hash: "h1"}
	const callers = 16
	ids := make([]int64, callers)
	created := make([]bool, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			var err error
			ids[i], created[i], err = s.CreateAlertOnce(ctx, newAlert(t0), nil, k, t0)
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	first, n := ids[0], 0
	for i := range callers {
		if ids[i] != first {
			t.Fatalf("one key, several alerts: %v", ids)
		}
		if created[i] {
			n++
		}
	}
	if n != 1 || countAlerts(t, s) != 1 {
		t.Fatalf("%d callers created, %d alerts stored; want 1, 1", n, countAlerts(t, s))
	}

	id, ok, err := s.CreateAlertOnce(ctx, newAlert(t0), nil, k, t0.Add(news.IdempotencyTTL-time.Minute))
	if err != nil || ok || id != first {
		t.Fatalf("repeat within 24 h: %d %v %v; want %d, not created", id, ok, err, first)
	}
	if got, err := s.IdempotentAlert(ctx, k, t0); err != nil || got != first {
		t.Fatalf("IdempotentAlert: %d %v", got, err)
	}
	other := k
	other.Hash = "h2"
	if _, _, err := s.CreateAlertOnce(ctx, newAlert(t0), nil, other, t0); !errors.Is(err, store.ErrIdempotencyConflict) {
		t.Fatalf("same key, other request: %v; want ErrIdempotencyConflict", err)
	}
	for _, k2 := range []news.IdempotencyKey{{Scope: "token:2", Key: "k-1", Hash: "h1"}, {Scope: "token:1", Key: "k-2", Hash: "h1"}} {
		if id, ok, err := s.CreateAlertOnce(ctx, newAlert(t0), nil, k2, t0); err != nil || !ok || id == first {
			t.Fatalf("key %+v: %d %v %v; want a new alert", k2, id, ok, err)
		}
	}

	// After 24 hours a reuse makes a new alert, even before the janitor.
	later := t0.Add(news.IdempotencyTTL + time.Second)
	if _, err := s.IdempotentAlert(ctx, k, later); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired key still found: %v", err)
	}
	again, ok, err := s.CreateAlertOnce(ctx, newAlert(later), nil, k, later)
	if err != nil || !ok || again == first {
		t.Fatalf("reuse after 24 h: %d %v %v; want a new alert", again, ok, err)
	}
	// The janitor removes the keys older than 24 hours.
	n64, err := s.DeleteExpiredIdempotencyKeys(ctx, later)
	check(t, err)
	if n64 != 2 {
		t.Fatalf("janitor removed %d keys; want the 2 made at t0 and not reused", n64)
	}
	if got, err := s.IdempotentAlert(ctx, k, later); err != nil || got != again {
		t.Fatalf("the reused key: %d %v; want %d", got, err, again)
	}
}

func countAlerts(t *testing.T, s *store.Store) int {
	t.Helper()
	var n int
	check(t, s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM alerts").Scan(&n))
	return n
}
