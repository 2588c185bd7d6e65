package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// timingTests cover issue 17 in the store: a browser's zone, quiet hours
// and daily cap; alert priority and approval; automatic alerts.
var timingTests = []test{
	{"PushTimingKept", testPushTimingKept},
	{"DailySlots", testDailySlots},
	{"ApproveAlert", testApproveAlert},
	{"AutoAlertRules", testAutoAlertRules},
}

// testPushTimingKept: a browser's zone, quiet hours and cap are stored,
// replaced on a re-subscription, and come back with each claimed message;
// the composer's groups count only browsers with quiet hours or a cap.
func testPushTimingKept(t *testing.T, s *store.Store) {
	t0 := now()
	sport := topic(t, s, "sport")
	ps := news.PushSubscription{Endpoint: "https://push.test/q", P256dh: "p", Auth: "a", Lang: news.French,
		Timezone: "Asia/Kathmandu", QuietFrom: 22 * 60, QuietTo: 7 * 60, MaxPerDay: 3}
	_, _, err := s.SavePushSubscription(ctx, ps, []int64{sport}, t0)
	check(t, err)
	_, _, err = s.SavePushSubscription(ctx, news.PushSubscription{Endpoint: "https://push.test/plain", P256dh: "p", Auth: "a", Lang: news.French}, nil, t0)
	check(t, err)
	ps.Timezone, ps.MaxPerDay = "Africa/Dakar", 5
	_, created, err := s.SavePushSubscription(ctx, ps, []int64{sport}, t0)
	check(t, err)
	if created {
		t.Fatal("re-subscription created a new browser")
	}
	a := newAlert(t0)
	a.Priority = news.Normal
	aid, err := s.CreateAlert(ctx, a, nil)
	check(t, err)
	if got, err := s.AlertBare(ctx, aid); err != nil || got.Priority != news.Normal {
		t.Fatalf("alert priority %q (%v), want normal", got.Priority, err)
	}
	for done := false; !done; {
		_, done, err = s.EnqueueAlertWindow(ctx, aid, 100, t0)
		check(t, err)
	}
	got, err := s.ClaimPush(ctx, "w", t0, 10)
	check(t, err)
	if len(got) != 2 {
		t.Fatalf("claimed %d messages, want 2", len(got))
	}
	for _, m := range got {
		want := store.PushTiming{}
		if m.Endpoint == "https://push.test/q" {
			want = store.PushTiming{Timezone: "Africa/Dakar", QuietFrom: 22 * 60, QuietTo: 7 * 60, MaxPerDay: 5}
		}
		if m.Timing != want || m.Timing.Plain() != (m.Endpoint != "https://push.test/q") {
			t.Errorf("%s claimed with timing %+v, want %+v", m.Endpoint, m.Timing, want)
		}
	}
	// The quiet browser's message held two hours, the other one sent.
	var rs []store.Result
	for _, m := range got {
		r := store.Result{State: news.DeliverySent, Status: 201}
		if m.Endpoint == "https://push.test/q" {
			r = store.Result{State: news.DeliveryPending, NextAttempt: t0.Add(2 * time.Hour), Error: "held: quiet hours"}
		}
		rs = append(rs, m.Outcome(r))
	}
	stale(t, 0)(s.RecordPush(ctx, rs, t0))
	for _, c := range []struct {
		after time.Time
		want  int64
	}{{t0.Add(time.Minute), 1}, {t0.Add(3 * time.Hour), 0}} {
		if n, err := s.WaitingPush(ctx, aid, c.after); err != nil || n != c.want {
			t.Errorf("WaitingPush after %v: %d %v, want %d", c.after.Sub(t0), n, err, c.want)
		}
	}
	if a, _ := s.Alert(ctx, aid); a.Delivered != 1 || a.Expired != 0 {
		t.Errorf("held message counted: %+v", a)
	}
	for _, topics := range [][]string{nil, {"sport"}} {
		gs, err := s.PushTimingGroups(ctx, topics)
		check(t, err)
		if len(gs) != 1 || gs[0].Browsers != 1 || gs[0].Timezone != "Africa/Dakar" || gs[0].MaxPerDay != 5 {
			t.Errorf("timing groups for %v: %+v, want the one quiet browser", topics, gs)
		}
	}
	topic(t, s, "eco")
	if gs, err := s.PushTimingGroups(ctx, []string{"eco"}); err != nil || len(gs) != 0 {
		t.Errorf("timing groups for another topic: %+v %v", gs, err)
	}
}

// testDailySlots: a cap of 2 allows two alerts a local day, a third only
// when forced (breaking), a new day starts again; a slot given back is
// free again; concurrent takers never exceed the cap.
func testDailySlots(t *testing.T, s *store.Store) {
	t0 := now()
	id, _, err := s.SavePushSubscription(ctx, news.PushSubscription{Endpoint: "https://push.test/cap", P256dh: "p", Auth: "a",
		Lang: news.French, MaxPerDay: 2}, nil, t0)
	check(t, err)
	take := func(day int, force bool) bool {
		t.Helper()
		ok, err := s.TakeDailySlot(ctx, id, day, force)
		check(t, err)
		return ok
	}
	if !take(20261207, false) || !take(20261207, false) {
		t.Fatal("the first two alerts of the day refused")
	}
	if take(20261207, false) {
		t.Fatal("a third normal alert allowed over a cap of 2")
	}
	if !take(20261207, true) {
		t.Fatal("a breaking alert refused by the cap")
	}
	if !take(20261208, false) {
		t.Fatal("the next day's first alert refused")
	}
	check(t, s.GiveBackDailySlot(ctx, id, 20261207)) // the day turned: nothing to give back
	if !take(20261208, false) || take(20261208, false) {
		t.Fatal("the next day's second (allowed) or third (refused) alert wrong")
	}
	check(t, s.GiveBackDailySlot(ctx, id, 20261208))
	if !take(20261208, false) {
		t.Fatal("a slot given back is not free again")
	}

	id2, _, err := s.SavePushSubscription(ctx, news.PushSubscription{Endpoint: "https://push.test/cap2", P256dh: "p", Auth: "a",
		Lang: news.French, MaxPerDay: 3}, nil, t0)
	check(t, err)
	results := make(chan bool, 12)
	for range 12 {
		go func() {
			ok, err := s.TakeDailySlot(ctx, id2, 20261207, false)
			results <- ok && err == nil
		}()
	}
	n := 0
	for range 12 {
		if <-results {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d of 12 concurrent takers got a slot, want the cap, 3", n)
	}
}

// testApproveAlert: an alert awaiting approval is not enqueued; approved,
// it goes out from the approval (a past send time becomes now) with the
// approver's name; approving twice or an unknown alert fails; a waiting
// alert can be cancelled.
func testApproveAlert(t *testing.T, s *store.Store) {
	t0 := now()
	a := newAlert(t0.Add(-time.Hour))
	a.State = news.AlertAwaitingApproval
	id, err := s.CreateAlert(ctx, a, nil)
	check(t, err)
	due, err := s.AlertsToEnqueue(ctx, t0)
	check(t, err)
	if len(due) != 0 {
		t.Fatalf("an alert awaiting approval is due: %v", due)
	}
	waiting, err := s.AwaitingAlerts(ctx, 10)
	check(t, err)
	if len(waiting) != 1 || waiting[0].ID != id {
		t.Fatalf("awaiting alerts %+v", waiting)
	}
	check(t, s.ApproveAlert(ctx, id, "user:b@news.test", t0))
	got, err := s.AlertBare(ctx, id)
	check(t, err)
	if got.State != news.AlertSending || got.ApprovedBy != "user:b@news.test" || !got.SendAt.Equal(t0) {
		t.Fatalf("approved alert %+v, want sending from %v approved by b", got, t0)
	}
	if err := s.ApproveAlert(ctx, id, "x", t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second approval: %v, want conflict", err)
	}
	if err := s.ApproveAlert(ctx, id+100, "x", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown alert: %v, want not found", err)
	}
	a.SendAt = t0.Add(time.Hour)
	later, err := s.CreateAlert(ctx, a, nil)
	check(t, err)
	check(t, s.ApproveAlert(ctx, later, "y", t0))
	if got, _ := s.AlertBare(ctx, later); got.State != news.AlertScheduled || !got.SendAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("approved embargoed alert %+v, want scheduled at its time", got)
	}
	third, err := s.CreateAlert(ctx, a, nil)
	check(t, err)
	check(t, s.CancelAlert(ctx, third, t0))
	if got, _ := s.AlertBare(ctx, third); got.State != news.AlertCancelled {
		t.Fatalf("cancelled waiting alert is %s", got.State)
	}
}

// testAutoAlertRules: rules per topic and feed; new articles are unseen
// once (existing ones are not, see migration 0017), settled by one
// caller; the interval lets one automatic alert through per rule; an
// article flagged breaking again is looked at again.
func testAutoAlertRules(t *testing.T, s *store.Store) {
	t0 := now()
	topic(t, s, "sport")
	check(t, s.AddFeed(ctx, "https://feeds.test/rss"))
	check(t, s.SetAutoRule(ctx, store.AutoRule{Topic: "sport", Mode: "send", MinInterval: time.Hour, MaxAge: 2 * time.Hour}))
	check(t, s.SetAutoRule(ctx, store.AutoRule{Feed: "https://feeds.test/rss", Mode: "draft"}))
	check(t, s.SetAutoRule(ctx, store.AutoRule{Topic: "sport", Mode: "draft", MinInterval: 30 * time.Minute}))
	if err := s.SetAutoRule(ctx, store.AutoRule{Topic: "nope", Mode: "send"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rule for an unknown topic: %v", err)
	}
	rules, err := s.AutoRules(ctx)
	check(t, err)
	if len(rules) != 2 {
		t.Fatalf("rules %+v", rules)
	}
	var sport store.AutoRule
	for _, r := range rules {
		if r.Topic == "sport" {
			sport = r
		}
	}
	if sport.Mode != "draft" || sport.MinInterval != 30*time.Minute || sport.MaxAge != 0 {
		t.Fatalf("sport rule %+v after its update", sport)
	}
	art := func(guid string, breaking bool) int64 {
		id, _, err := s.SaveArticle(ctx, news.Article{GUID: guid, URL: "https://n.test/" + guid, Title: guid, Topics: []string{"sport"},
			PublishedAt: t0, CreatedAt: t0, Breaking: breaking, Feed: "https://feeds.test/rss"})
		check(t, err)
		return id
	}
	a1, a2 := art("a1", false), art("a2", true)
	unseen, err := s.UnseenArticles(ctx, 10)
	check(t, err)
	if len(unseen) != 2 || unseen[0].ID != a1 || unseen[1].ID != a2 || !unseen[1].Breaking || unseen[0].Breaking ||
		unseen[0].Feed != "https://feeds.test/rss" || len(unseen[0].Topics) != 1 || unseen[0].Topics[0] != "sport" {
		t.Fatalf("unseen articles %+v", unseen)
	}
	alert := newAlert(t0, "sport")
	alert.State = news.AlertAwaitingApproval
	id, raised, err := s.RaiseAutoAlert(ctx, a1, &alert, nil, []store.AutoRule{sport}, t0)
	check(t, err)
	if !raised || id == 0 {
		t.Fatal("first automatic alert not raised")
	}
	if _, raised, err := s.RaiseAutoAlert(ctx, a1, &alert, nil, []store.AutoRule{sport}, t0); err != nil || raised {
		t.Fatalf("the same article settled twice: %v %v", raised, err)
	}
	if _, raised, err := s.RaiseAutoAlert(ctx, a2, &alert, nil, []store.AutoRule{sport}, t0.Add(10*time.Minute)); err != nil || raised {
		t.Fatalf("an alert within the rule's interval: raised=%v %v", raised, err)
	}
	if unseen, err := s.UnseenArticles(ctx, 10); err != nil || len(unseen) != 0 {
		t.Fatalf("articles still unseen after settling: %+v (%v)", unseen, err)
	}
	art("a1", true) // the CMS flags it breaking now
	if unseen, _ := s.UnseenArticles(ctx, 10); len(unseen) != 1 || unseen[0].ID != a1 || !unseen[0].Breaking {
		t.Fatalf("an article flagged breaking later is not looked at again: %+v", unseen)
	}
	if _, raised, err := s.RaiseAutoAlert(ctx, a1, &alert, nil, []store.AutoRule{sport}, t0.Add(31*time.Minute)); err != nil || !raised {
		t.Fatalf("an alert after the rule's interval: raised=%v %v", raised, err)
	}
}
