package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// insertBrowsers stores n push subscriptions (prefix + i) with one
// statement: fast enough for thousands.
func insertBrowsers(t *testing.T, s *store.Store, prefix string, n int, t0 time.Time) {
	t.Helper()
	var b strings.Builder
	b.WriteString("INSERT INTO push_subscriptions (endpoint, p256dh, auth, lang, created_at, updated_at) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "('%s%d', 'p', 'a', 'fr', %d, %d)", prefix, i, t0.UnixMilli(), t0.UnixMilli())
	}
	_, err := s.DB().ExecContext(ctx, b.String())
	check(t, err)
}

// testPushRefusals: refusals of a subscription's push service are counted
// (and claimed with it, so that a delivery resets only a count that is
// not 0), a reset starts the count again, and the limit-th refusal in a
// row removes the subscription, once.
func testPushRefusals(t *testing.T, s *store.Store) {
	t0 := now()
	save := func(ep string) int64 {
		id, _, err := s.SavePushSubscription(ctx, news.PushSubscription{Endpoint: ep, P256dh: "p", Auth: "a", Lang: news.French}, nil, t0)
		check(t, err)
		return id
	}
	refuser, other := save("https://push.test/refuser"), save("https://push.test/other")
	refuse := func(id int64, want bool) {
		t.Helper()
		removed, err := s.RecordPushRefusal(ctx, id, 3)
		check(t, err)
		if removed != want {
			t.Fatalf("RecordPushRefusal(%d) removed=%v, want %v", id, removed, want)
		}
	}
	refuse(refuser, false)
	refuse(refuser, false)

	aid, err := s.CreateAlert(ctx, newAlert(t0), nil)
	check(t, err)
	for done := false; !done; {
		_, done, err = s.EnqueueAlertWindow(ctx, aid, 2000, t0)
		check(t, err)
	}
	ps, err := s.ClaimPush(ctx, "w", t0, 10)
	check(t, err)
	got := map[int64]int{}
	for _, p := range ps {
		got[p.SubscriptionID] = p.Refusals
	}
	if len(got) != 2 || got[refuser] != 2 || got[other] != 0 {
		t.Fatalf("claimed refusals %v, want %d: 2 and %d: 0", got, refuser, other)
	}

	// A delivery in between: the count starts again.
	check(t, s.ResetPushRefusals(ctx, refuser))
	check(t, s.ResetPushRefusals(ctx, other))
	refuse(refuser, false)
	refuse(refuser, false)
	refuse(refuser, true)
	refuse(refuser, false) // already gone: nothing to do
	var left []string
	rows, err := s.DB().QueryContext(ctx, "SELECT endpoint FROM push_subscriptions")
	check(t, err)
	defer rows.Close()
	for rows.Next() {
		var ep string
		check(t, rows.Scan(&ep))
		left = append(left, ep)
	}
	check(t, rows.Err())
	if len(left) != 1 || left[0] != "https://push.test/other" {
		t.Fatalf("subscriptions left %q, want only the other one", left)
	}
}
