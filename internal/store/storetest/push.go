package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// pushTests cover browsers' subscriptions and the push queue.
var pushTests = []test{
	{"PushSubscriptions", testPushSubscriptions},
	{"ConcurrentPushClaims", testConcurrentPushClaims},
	{"PushRefusals", testPushRefusals},
	{"ImportPush", testImportPush},
}

func testPushSubscriptions(t *testing.T, s *store.Store) {
	sport := topic(t, s, "sport")
	eco := topic(t, s, "eco")
	t0 := now()
	ps := news.PushSubscription{Endpoint: "https://push.test/1", P256dh: "k1", Auth: "a1", Lang: news.French}
	id, created, err := s.SavePushSubscription(ctx, ps, []int64{sport, eco}, t0)
	check(t, err)
	if !created {
		t.Fatal("first save not created")
	}
	ps.P256dh = "k2"
	id2, created, err := s.SavePushSubscription(ctx, ps, []int64{eco}, t0)
	check(t, err)
	if created || id2 != id {
		t.Fatalf("second save: %d %v", id2, created)
	}
	_, _, err = s.SavePushSubscription(ctx, news.PushSubscription{Endpoint: "https://push.test/2", P256dh: "k", Auth: "a", Lang: news.English}, nil, t0)
	check(t, err)
	total, by, err := s.PushCounts(ctx)
	check(t, err)
	if total != 2 || by["eco"] != 1 || by["sport"] != 0 {
		t.Fatalf("PushCounts %d %v", total, by)
	}
	check(t, s.DeletePushSubscription(ctx, "https://push.test/2"))
	check(t, s.DeletePushSubscription(ctx, "https://push.test/unknown"))
	check(t, s.DeletePushSubscriptionByID(ctx, id))
	if total, _, _ := s.PushCounts(ctx); total != 0 {
		t.Fatalf("%d subscriptions after deleting both", total)
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

// testImportPush: a batch moved in from another service is stored in one
// go; an endpoint already known (from the API or an earlier import) is
// updated, keeping its id and creation time, with its topics replaced.
func testImportPush(t *testing.T, s *store.Store) {
	sport := topic(t, s, "sport")
	eco := topic(t, s, "eco")
	t0 := now()
	known, _, err := s.SavePushSubscription(ctx, news.PushSubscription{Endpoint: "https://push.test/known", P256dh: "k0", Auth: "a0", Lang: news.French}, []int64{sport}, t0.Add(-time.Hour))
	check(t, err)
	var rows []store.PushImport
	for i := range 450 { // more than one statement's rows
		rows = append(rows, store.PushImport{Sub: news.PushSubscription{Endpoint: fmt.Sprintf("https://push.test/%d", i), P256dh: "k", Auth: "a", Lang: news.English},
			TopicIDs: []int64{eco}, CreatedAt: t0.Add(-48 * time.Hour)})
	}
	rows = append(rows, store.PushImport{Sub: news.PushSubscription{Endpoint: "https://push.test/known", P256dh: "k1", Auth: "a1", Lang: news.English}, TopicIDs: []int64{eco}})
	created, err := s.ImportPushBatch(ctx, rows, t0)
	check(t, err)
	if created != 450 {
		t.Fatalf("created %d, want 450 (the known endpoint is an update)", created)
	}
	total, by, err := s.PushCounts(ctx)
	check(t, err)
	if total != 451 || by["eco"] != 451 || by["sport"] != 0 {
		t.Fatalf("PushCounts %d %v, want 451 browsers all on eco (topics replaced)", total, by)
	}
	// The same file again changes nothing but the update times.
	created, err = s.ImportPushBatch(ctx, rows, t0.Add(time.Minute))
	check(t, err)
	if total, _, _ := s.PushCounts(ctx); created != 0 || total != 451 {
		t.Fatalf("second import: created %d, total %d", created, total)
	}
	id, created2, err := s.SavePushSubscription(ctx, news.PushSubscription{Endpoint: "https://push.test/known", P256dh: "k1", Auth: "a1", Lang: news.English}, nil, t0)
	check(t, err)
	if id != known || created2 {
		t.Fatalf("the known endpoint became id %d (created %v), want %d", id, created2, known)
	}
	if _, err := s.ImportPushBatch(ctx, nil, t0); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
}
