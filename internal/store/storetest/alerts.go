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

// alertTests cover alerts: creation, their audience, enqueuing, cancel
// and their counters.
var alertTests = []test{
	{"Alerts", testAlerts},
	{"AlertEnqueueConcurrent", testAlertEnqueueConcurrent},
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

func newAlert(t0 time.Time, topics ...string) news.Alert {
	return news.Alert{Title: "Séisme", Body: "B", URL: "https://n.test/a", Topics: topics, TTL: time.Hour, Urgency: "high",
		TopicHeader: "topic1", State: news.AlertSending, SendAt: t0, CreatedBy: "test", CreatedAt: t0}
}
