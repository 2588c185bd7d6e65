package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

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

func newAlert(t0 time.Time, topics ...string) news.Alert {
	return news.Alert{Title: "Séisme", Body: "B", URL: "https://n.test/a", Topics: topics, TTL: time.Hour, Urgency: "high",
		TopicHeader: "topic1", State: news.AlertSending, SendAt: t0, CreatedBy: "test", CreatedAt: t0}
}

func testAlerts(t *testing.T, s *store.Store) {
	sport := topic(t, s, "sport")
	eco := topic(t, s, "eco")
	t0 := now()
	// Browsers: sport, eco, none (everything), sport+eco.
	for i, topics := range [][]int64{{sport}, {eco}, nil, {sport, eco}} {
		_, _, err := s.SavePushSubscription(ctx, news.PushSubscription{Endpoint: fmt.Sprintf("https://push.test/%d", i), P256dh: fmt.Sprint("p", i), Auth: "a", Lang: news.French}, topics, t0)
		check(t, err)
	}
	// Readers: sport with alerts, eco with alerts, none with alerts, sport without alerts, sport pending.
	sp := confirmed(t, s, "sp", 1, news.Daily, sport)
	confirmed(t, s, "ec", 1, news.Daily, eco)
	all := confirmed(t, s, "all", 1, news.Weekly)
	noAlerts := confirmed(t, s, "na", 1, news.Daily, sport)
	check(t, s.UpdatePrefs(ctx, noAlerts[0], store.Prefs{Frequency: news.Daily, Lang: news.French, TopicIDs: []int64{sport}}, t0))
	_, _, err := s.Subscribe(ctx, "pending@x.test", store.Prefs{Frequency: news.Daily, Lang: news.French, Alerts: true, TopicIDs: []int64{sport}}, t0)
	check(t, err)

	browsers, emails, err := s.Audience(ctx, []string{"sport"})
	check(t, err)
	if browsers != 3 || emails != 2 {
		t.Fatalf("audience of sport: %d browsers, %d emails; want 3, 2", browsers, emails)
	}
	browsers, emails, err = s.Audience(ctx, nil)
	check(t, err)
	if browsers != 4 || emails != 3 {
		t.Fatalf("audience of all: %d browsers, %d emails; want 4, 3", browsers, emails)
	}

	a := newAlert(t0, "sport")
	a.Email = true
	id, err := s.CreateAlert(ctx, a, []int64{sport})
	check(t, err)
	todo, err := s.AlertsToEnqueue(ctx, t0)
	check(t, err)
	if !slices.Equal(todo, []int64{id}) {
		t.Fatalf("AlertsToEnqueue %v", todo)
	}
	// Windows of two: push subscriptions, then readers.
	var added int64
	for range 20 {
		n, done, err := s.EnqueueAlertWindow(ctx, id, 2, t0)
		check(t, err)
		added += n
		if done {
			break
		}
	}
	if added != 5 {
		t.Fatalf("enqueued %d messages, want 3 push + 2 email", added)
	}
	if n, done, err := s.EnqueueAlertWindow(ctx, id, 2, t0); n != 0 || !done || err != nil {
		t.Fatalf("enqueue after done: %d %v %v", n, done, err)
	}
	info, err := s.Alert(ctx, id)
	check(t, err)
	if info.Targeted != 3 || info.Emails != 2 || !info.Enqueued || info.State != news.AlertSending || !slices.Equal(info.Topics, []string{"sport"}) || !info.Email || info.TTL != time.Hour {
		t.Fatalf("alert %+v", info)
	}
	ps, err := s.ClaimPush(ctx, "w1", t0, 10)
	check(t, err)
	if len(ps) != 3 {
		t.Fatalf("claimed %d push", len(ps))
	}
	var eps []string
	for _, p := range ps {
		if p.AlertID != id || p.SubscriptionID == 0 || p.Auth != "a" || p.Attempts != 1 {
			t.Fatalf("push target %+v", p)
		}
		eps = append(eps, p.Endpoint)
	}
	slices.Sort(eps)
	if !slices.Equal(eps, []string{"https://push.test/0", "https://push.test/2", "https://push.test/3"}) {
		t.Fatalf("targeted %v", eps)
	}
	if next, err := s.NextDue(ctx, false); err != nil || !next.IsZero() {
		t.Fatalf("NextDue(push) while all claimed: %v %v", next, err)
	}
	if closed, _ := s.CloseFinishedAlerts(ctx, t0); len(closed) != 0 {
		t.Fatalf("closed %v with push messages claimed", closed)
	}
	// A browser deleted between claim and send comes back without keys.
	check(t, s.DeletePushSubscription(ctx, "https://push.test/3"))
	stale(t, 0)(s.RecordPush(ctx, []store.Result{
		ps[0].Outcome(store.Result{State: news.DeliverySent, Status: 201}),
		ps[1].Outcome(store.Result{State: news.DeliveryPending, Status: 429, NextAttempt: t0.Add(time.Second), Error: "429"}),
		ps[2].Outcome(store.Result{State: news.DeliveryExpired, Status: 410, Error: "gone"}),
	}, t0))
	if next, err := s.NextDue(ctx, false); err != nil || !next.Equal(t0.Add(time.Second)) {
		t.Fatalf("NextDue(push) %v %v", next, err)
	}
	if closed, _ := s.CloseFinishedAlerts(ctx, t0); len(closed) != 0 {
		t.Fatalf("closed %v with a push retry pending", closed)
	}
	retry, err := s.ClaimPush(ctx, "w2", t0.Add(time.Second), 10)
	check(t, err)
	if len(retry) != 1 || retry[0].Attempts != 2 {
		t.Fatalf("retry %+v", retry)
	}
	n, err := s.RescueDeliveries(ctx, t0.Add(time.Hour))
	check(t, err)
	if n != 1 {
		t.Fatalf("rescued %d push messages, want 1", n)
	}
	retry, err = s.ClaimPush(ctx, "w2", t0.Add(time.Second), 10)
	check(t, err)
	stale(t, 0)(s.RecordPush(ctx, []store.Result{retry[0].Outcome(store.Result{State: news.DeliverySent, Status: 201})}, t0))
	// Not done while its emails are pending.
	if closed, _ := s.CloseFinishedAlerts(ctx, t0); len(closed) != 0 {
		t.Fatalf("closed %v with emails pending", closed)
	}
	ds, err := s.ClaimDeliveries(ctx, "w1", t0, 10)
	check(t, err)
	// The pending reader's confirmation is in the queue too.
	ds = slices.DeleteFunc(ds, func(d store.Delivery) bool {
		if d.Kind == news.MailConfirm {
			stale(t, 0)(s.RecordDeliveries(ctx, []store.Result{d.Outcome(store.Result{State: news.DeliverySent})}, t0))
			return true
		}
		return false
	})
	if len(ds) != 2 || ds[0].Kind != news.MailAlert || ds[0].AlertID != id {
		t.Fatalf("alert emails %+v", ds)
	}
	got := []int64{ds[0].SubscriberID, ds[1].SubscriberID}
	slices.Sort(got)
	if want := []int64{sp[0], all[0]}; !slices.Equal(got, want) {
		t.Fatalf("alert emails to %v, want %v", got, want)
	}
	stale(t, 0)(s.RecordDeliveries(ctx, []store.Result{ds[0].Outcome(store.Result{State: news.DeliverySent}), ds[1].Outcome(store.Result{State: news.DeliveryFailed})}, t0))
	closed, err := s.CloseFinishedAlerts(ctx, t0)
	check(t, err)
	if !slices.Equal(closed, []int64{id}) {
		t.Fatalf("closed %v", closed)
	}
	info, err = s.Alert(ctx, id)
	check(t, err)
	if info.State != news.AlertDone || info.Delivered != 2 || info.Expired != 1 || info.EmailSent != 1 || info.EmailFailed != 1 {
		t.Fatalf("finished alert %+v", info)
	}
	hdr, err := s.AlertTopicHeader(ctx, id)
	check(t, err)
	if hdr != "topic1" {
		t.Fatalf("topic header %q", hdr)
	}
	if _, err := s.AlertTopicHeader(ctx, 999999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown alert topic: %v", err)
	}

	// An embargoed alert waits; cancelling stops what has not gone out.
	later := newAlert(t0)
	later.State, later.SendAt, later.Replaces = news.AlertScheduled, t0.Add(time.Hour), id
	lid, err := s.CreateAlert(ctx, later, nil)
	check(t, err)
	if todo, _ := s.AlertsToEnqueue(ctx, t0); len(todo) != 0 {
		t.Fatalf("embargoed alert due early: %v", todo)
	}
	todo, err = s.AlertsToEnqueue(ctx, t0.Add(time.Hour))
	check(t, err)
	if !slices.Equal(todo, []int64{lid}) {
		t.Fatalf("AlertsToEnqueue after embargo %v", todo)
	}
	for {
		_, done, err := s.EnqueueAlertWindow(ctx, lid, 100, t0)
		check(t, err)
		if done {
			break
		}
	}
	check(t, s.CancelAlert(ctx, lid, t0))
	if err := s.CancelAlert(ctx, lid, t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("cancelling twice: %v", err)
	}
	if err := s.CancelAlert(ctx, 999999, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cancelling unknown: %v", err)
	}
	if ps, _ := s.ClaimPush(ctx, "w1", t0.Add(2*time.Hour), 10); len(ps) != 0 {
		t.Fatalf("claimed %d messages of a cancelled alert", len(ps))
	}
	info, err = s.Alert(ctx, lid)
	check(t, err)
	if info.State != news.AlertCancelled || info.Targeted != 3 || info.Expired != 3 || info.Replaces != id {
		t.Fatalf("cancelled alert %+v", info)
	}
	list, err := s.Alerts(ctx, 10)
	check(t, err)
	if len(list) != 2 || list[0].ID != lid {
		t.Fatalf("alerts %+v", list)
	}
}

// testAlertEnqueueConcurrent: several instances enqueuing the same alert
// write each push message and each email exactly once.
func testAlertEnqueueConcurrent(t *testing.T, s *store.Store) {
	t0 := now()
	const browsers, readers = 120, 90
	for i := range browsers {
		_, _, err := s.SavePushSubscription(ctx, news.PushSubscription{Endpoint: fmt.Sprintf("https://push.test/%d", i), P256dh: "p", Auth: "a", Lang: news.French}, nil, t0)
		check(t, err)
	}
	confirmed(t, s, "r", readers, news.Daily)
	a := newAlert(t0)
	a.Email = true
	id, err := s.CreateAlert(ctx, a, nil)
	check(t, err)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				_, done, err := s.EnqueueAlertWindow(ctx, id, 7, t0)
				if err != nil {
					t.Error(err)
					return
				}
				if done {
					return
				}
			}
		})
	}
	wg.Wait()
	info, err := s.Alert(ctx, id)
	check(t, err)
	if info.Targeted != browsers || info.Emails != readers {
		t.Fatalf("targeted %d, emails %d; want %d, %d", info.Targeted, info.Emails, browsers, readers)
	}
	ps, err := s.ClaimPush(ctx, "w", t0, 1000)
	check(t, err)
	ds, err := s.ClaimDeliveries(ctx, "w", t0, 1000)
	check(t, err)
	if len(ps) != browsers || len(ds) != readers {
		t.Fatalf("queued %d push and %d emails; want %d, %d", len(ps), len(ds), browsers, readers)
	}
	subs := map[int64]bool{}
	for _, d := range ds {
		if subs[d.SubscriberID] {
			t.Fatalf("reader %d got the alert email twice", d.SubscriberID)
		}
		subs[d.SubscriberID] = true
	}
	browser := map[int64]bool{}
	for _, p := range ps {
		if browser[p.SubscriptionID] || p.Endpoint == "" {
			t.Fatalf("browser %+v queued twice or without keys", p)
		}
		browser[p.SubscriptionID] = true
	}
}

func testFeeds(t *testing.T, s *store.Store) {
	t0 := now()
	const u = "https://n.test/rss"
	// Eight instances ask at once: one polls.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for i := range 8 {
		wg.Go(func() {
			_, ok, err := s.LeaseFeed(ctx, u, fmt.Sprint("inst", i), t0, t0.Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d instances leased the feed", wins)
	}
	// A lease expires.
	if _, ok, err := s.LeaseFeed(ctx, u, "late", t0.Add(2*time.Minute), t0.Add(3*time.Minute)); err != nil || !ok {
		t.Fatalf("lease after expiry: %v %v", ok, err)
	}
	st := store.FeedState{ETag: `"e1"`, LastModified: "Mon", LastPolledAt: t0, NextPollAt: t0.Add(5 * time.Minute), LastError: "", Failures: 0, Items: 12}
	check(t, s.SaveFeedState(ctx, u, st))
	got, err := s.Feed(ctx, u)
	check(t, err)
	if got.ETag != `"e1"` || got.Items != 12 || !got.NextPollAt.Equal(st.NextPollAt) || !got.LastPolledAt.Equal(t0) {
		t.Fatalf("feed %+v", got)
	}
	if _, ok, _ := s.LeaseFeed(ctx, u, "x", t0.Add(time.Minute), t0.Add(2*time.Minute)); ok {
		t.Fatal("leased a feed that is not due")
	}
	check(t, s.PollFeedSoon(ctx, u))
	if fs, ok, err := s.LeaseFeed(ctx, u, "x", t0, t0.Add(time.Minute)); err != nil || !ok || fs.ETag != `"e1"` {
		t.Fatalf("lease after PollFeedSoon: %v %v %+v", ok, err, fs)
	}
	// A new topic: the next poll fetches the feed whole, to map known
	// articles to it (a 304 would hide them).
	check(t, s.SaveFeedState(ctx, u, st))
	_, err = s.CreateTopic(ctx, "nouveau", "Nouveau")
	check(t, err)
	if got, err := s.Feed(ctx, u); err != nil || got.ETag != "" || got.LastModified != "" || got.Items != 12 {
		t.Fatalf("feed after a topic was added: %+v %v; want no validators", got, err)
	}
	check(t, s.AddFeed(ctx, "https://n.test/atom"))
	check(t, s.AddFeed(ctx, "https://n.test/atom"))
	list, err := s.Feeds(ctx)
	check(t, err)
	if len(list) != 2 || list[0].URL != "https://n.test/atom" {
		t.Fatalf("feeds %+v", list)
	}
	check(t, s.RemoveFeed(ctx, u))
	if _, err := s.Feed(ctx, u); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("removed feed: %v", err)
	}
}

func testUsers(t *testing.T, s *store.Store) {
	t0 := now()
	id, err := s.CreateUser(ctx, "ed@x.test", news.RoleEditor, "hash")
	check(t, err)
	if _, err := s.CreateUser(ctx, "Ed@X.test", news.RoleAdmin, "h"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate user in another case: %v", err)
	}
	// A login is found whatever the case it was created or typed in.
	mixed, err := s.CreateUser(ctx, "Chef@X.test", news.RoleAdmin, "h2")
	check(t, err)
	if u, err := s.UserByEmail(ctx, "chef@x.test"); err != nil || u.ID != mixed || u.Email != "chef@x.test" {
		t.Fatalf("login created as Chef@X.test, looked up as chef@x.test: %+v %v", u, err)
	}
	u, err := s.UserByEmail(ctx, "ED@x.test")
	check(t, err)
	if u.ID != id || u.Role != news.RoleEditor || u.PasswordHash != "hash" || u.CreatedAt.IsZero() {
		t.Fatalf("user %+v", u)
	}
	check(t, s.SetUserRole(ctx, id, news.RoleAdmin))
	check(t, s.CreateSession(ctx, "s1", id, "csrf", t0.Add(time.Hour)))
	check(t, s.CreateSession(ctx, "old", id, "csrf", t0.Add(-time.Hour)))
	ss, err := s.SessionByHash(ctx, "s1", t0)
	check(t, err)
	if ss.UserID != id || ss.Role != news.RoleAdmin || ss.Email != "ed@x.test" || ss.CSRF != "csrf" {
		t.Fatalf("session %+v", ss)
	}
	if _, err := s.SessionByHash(ctx, "old", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired session: %v", err)
	}
	check(t, s.DeleteExpiredSessions(ctx, t0))
	check(t, s.SetUserPassword(ctx, id, "hash2"))
	if _, err := s.SessionByHash(ctx, "s1", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session after password change: %v", err)
	}
	check(t, s.CreateSession(ctx, "s2", id, "csrf", t0.Add(time.Hour)))
	check(t, s.DeleteSession(ctx, "s2"))
	if _, err := s.SessionByHash(ctx, "s2", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted session: %v", err)
	}
	check(t, s.CreateSession(ctx, "s3", id, "csrf", t0.Add(time.Hour)))
	check(t, s.DisableUser(ctx, id))
	if _, err := s.SessionByHash(ctx, "s3", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session of a disabled user: %v", err)
	}
	u, err = s.UserByID(ctx, id)
	check(t, err)
	if u.DisabledAt.IsZero() || u.PasswordHash != "hash2" {
		t.Fatalf("user %+v", u)
	}
	if _, err := s.UserByID(ctx, 999999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	list, err := s.Users(ctx)
	check(t, err)
	if len(list) != 2 {
		t.Fatalf("users %+v", list)
	}
}

func testAudit(t *testing.T, s *store.Store) {
	check(t, s.Audit(ctx, "token:cms", "alert.send", "alert/1", "{}"))
	check(t, s.Audit(ctx, "user:ed", "topic.add", "sport", ""))
	log, err := s.AuditLog(ctx, 10)
	check(t, err)
	if len(log) != 2 || log[0].Action != "topic.add" || log[1].Actor != "token:cms" || log[1].At.IsZero() {
		t.Fatalf("audit %+v", log)
	}
}
