package storetest

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// webhookTests cover the webhook outbox and the welcome email's queueing.
var webhookTests = []test{
	{"WebhookOutbox", testWebhookOutbox},
	{"WebhookOrderPerSubscriber", testWebhookOrder},
	{"WebhookRetryAndDisable", testWebhookRetryDisable},
	{"WebhookClaimsConcurrent", testWebhookClaimsConcurrent},
	{"WebhookErasedCarriesNoAddress", testWebhookErased},
	{"WebhookRunAndAlertEvents", testWebhookRunEvents},
	{"WelcomeOnce", testWelcomeOnce},
	{"WebhookBounceEvents", testWebhookBounceEvents},
}

type eventBody struct {
	Type      string         `json:"type"`
	Timestamp string         `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

func body(t *testing.T, j store.WebhookJob) eventBody {
	t.Helper()
	var b eventBody
	if err := json.Unmarshal(j.Body, &b); err != nil {
		t.Fatalf("body %s: %v", j.Body, err)
	}
	return b
}

func claimHooks(t *testing.T, s *store.Store, at time.Time) []store.WebhookJob {
	t.Helper()
	jobs, err := s.ClaimWebhooks(ctx, "w1", at, 50)
	check(t, err)
	return jobs
}

func sent(t *testing.T, s *store.Store, j store.WebhookJob, at time.Time) {
	t.Helper()
	_, err := s.RecordWebhook(ctx, store.WebhookOutcome{Job: j, Verdict: store.WebhookSent, Status: 204}, at)
	check(t, err)
}

func testWebhookOutbox(t *testing.T, s *store.Store) {
	t0 := now()
	id, _, err := s.Subscribe(ctx, "before@x.test", store.Prefs{Frequency: news.Daily, Lang: news.French}, t0)
	check(t, err)
	_, err = s.Confirm(ctx, id, "h", t0)
	check(t, err)
	if jobs := claimHooks(t, s, t0); len(jobs) != 0 {
		t.Fatalf("no endpoint yet, jobs %+v", jobs)
	}
	ep, err := s.CreateWebhookEndpoint(ctx, "https://hooks.example/in", []news.EventType{news.EventSubscriberConfirmed}, "whsec_x", "test", t0)
	check(t, err)
	other, err := s.CreateWebhookEndpoint(ctx, "https://other.example/in", []news.EventType{news.EventDigestDone}, "whsec_y", "test", t0)
	check(t, err)
	id2, _, err := s.Subscribe(ctx, "Lectrice@x.test", store.Prefs{Frequency: news.Weekly, Lang: news.English}, t0)
	check(t, err)
	for range 2 { // a second confirm changes nothing and emits nothing
		_, err = s.Confirm(ctx, id2, "h2", t0)
		check(t, err)
	}
	jobs := claimHooks(t, s, t0)
	if len(jobs) != 1 || jobs[0].EndpointID != ep || jobs[0].URL != "https://hooks.example/in" || jobs[0].Secret != "whsec_x" || jobs[0].Type != news.EventSubscriberConfirmed {
		t.Fatalf("jobs %+v", jobs)
	}
	b := body(t, jobs[0])
	if b.Type != "subscriber.confirmed" || b.Data["email"] != "lectrice@x.test" || b.Data["status"] != "confirmed" || b.Data["lang"] != "en" {
		t.Fatalf("body %+v", b)
	}
	if _, err := time.Parse(time.RFC3339, b.Timestamp); err != nil {
		t.Fatalf("timestamp %q: %v", b.Timestamp, err)
	}
	sent(t, s, jobs[0], t0)
	log, err := s.WebhookLog(ctx, ep, 10)
	check(t, err)
	if len(log) != 1 || log[0].State != "sent" || log[0].Status != 204 || log[0].Type != news.EventSubscriberConfirmed {
		t.Fatalf("log %+v", log)
	}
	list, err := s.WebhookEndpoints(ctx)
	check(t, err)
	if len(list) != 2 || !slices.Equal(list[0].Events, []news.EventType{news.EventSubscriberConfirmed}) {
		t.Fatalf("endpoints %+v", list)
	}
	// A test event goes to the one endpoint asked.
	_, err = s.EmitTestWebhook(ctx, other, t0)
	check(t, err)
	jobs = claimHooks(t, s, t0)
	if len(jobs) != 1 || jobs[0].EndpointID != other || jobs[0].Type != news.EventTest {
		t.Fatalf("test event jobs %+v", jobs)
	}
	check(t, s.DeleteWebhookEndpoint(ctx, other))
	if err := s.DeleteWebhookEndpoint(ctx, other); err != store.ErrNotFound {
		t.Fatalf("delete twice: %v", err)
	}
	// A deleted endpoint's claimed job records nothing and fails nothing.
	if _, err := s.RecordWebhook(ctx, store.WebhookOutcome{Job: jobs[0], Verdict: store.WebhookRetry, Error: "x", RetryAt: t0}, t0); err != nil {
		t.Fatal(err)
	}
}

func testWebhookOrder(t *testing.T, s *store.Store) {
	t0 := now()
	ep, err := s.CreateWebhookEndpoint(ctx, "https://hooks.example/in",
		[]news.EventType{news.EventSubscriberConfirmed, news.EventSubscriberUnsubscribed}, "whsec_x", "test", t0)
	check(t, err)
	a, _, err := s.Subscribe(ctx, "a@x.test", store.Prefs{Frequency: news.Daily, Lang: news.French}, t0)
	check(t, err)
	b, _, err := s.Subscribe(ctx, "b@x.test", store.Prefs{Frequency: news.Daily, Lang: news.French}, t0)
	check(t, err)
	for _, id := range []int64{a, b} {
		_, err = s.Confirm(ctx, id, "h", t0)
		check(t, err)
	}
	check(t, s.Unsubscribe(ctx, a, "ha", "one-click", t0))
	// a's unsubscribe waits behind a's confirm; b's confirm does not.
	jobs := claimHooks(t, s, t0)
	if len(jobs) != 2 {
		t.Fatalf("claimed %d, want a's and b's confirms", len(jobs))
	}
	for _, j := range jobs {
		if j.Type != news.EventSubscriberConfirmed {
			t.Fatalf("claimed %s before the confirm", j.Type)
		}
	}
	// a's confirm fails: the unsubscribe still waits, through the retry.
	_, err = s.RecordWebhook(ctx, store.WebhookOutcome{Job: jobs[0], Verdict: store.WebhookRetry, Status: 500, Error: "HTTP 500", RetryAt: t0.Add(time.Second)}, t0)
	check(t, err)
	sent(t, s, jobs[1], t0)
	if got := claimHooks(t, s, t0.Add(500*time.Millisecond)); len(got) != 0 {
		t.Fatalf("claimed %+v while a's confirm waits for its retry", got)
	}
	due, err := s.NextWebhookDue(ctx)
	check(t, err)
	if !due.Equal(t0.Add(time.Second)) {
		t.Fatalf("next due %v, want %v", due, t0.Add(time.Second))
	}
	jobs = claimHooks(t, s, t0.Add(time.Second))
	if len(jobs) != 1 || jobs[0].Type != news.EventSubscriberConfirmed || jobs[0].Attempts != 2 {
		t.Fatalf("retry %+v", jobs)
	}
	sent(t, s, jobs[0], t0.Add(time.Second))
	jobs = claimHooks(t, s, t0.Add(time.Second))
	if len(jobs) != 1 || jobs[0].Type != news.EventSubscriberUnsubscribed || body(t, jobs[0]).Data["status"] != "unsubscribed" {
		t.Fatalf("then the unsubscribe: %+v", jobs)
	}
	e, err := s.WebhookEndpoint(ctx, ep)
	check(t, err)
	if !e.FailingSince.IsZero() {
		t.Fatalf("a success ends the failure streak: %+v", e)
	}
}

func testWebhookRetryDisable(t *testing.T, s *store.Store) {
	t0 := now()
	ep, err := s.CreateWebhookEndpoint(ctx, "https://down.example/in", []news.EventType{news.EventSubscriberConfirmed}, "whsec_x", "test", t0)
	check(t, err)
	id, _, err := s.Subscribe(ctx, "a@x.test", store.Prefs{Frequency: news.Daily, Lang: news.French}, t0)
	check(t, err)
	_, err = s.Confirm(ctx, id, "h", t0)
	check(t, err)
	at := t0
	for range 3 {
		jobs := claimHooks(t, s, at)
		if len(jobs) != 1 {
			t.Fatalf("at %v claimed %d", at, len(jobs))
		}
		disabled, err := s.RecordWebhook(ctx, store.WebhookOutcome{Job: jobs[0], Verdict: store.WebhookRetry, Status: 503, Error: "HTTP 503", RetryAt: at.Add(time.Hour)}, at)
		check(t, err)
		if disabled {
			t.Fatalf("disabled at %v, before a day of failures", at)
		}
		at = at.Add(time.Hour)
	}
	e, err := s.WebhookEndpoint(ctx, ep)
	check(t, err)
	if !e.FailingSince.Equal(t0) || !e.DisabledAt.IsZero() {
		t.Fatalf("endpoint %+v", e)
	}
	at = t0.Add(store.WebhookGiveUp)
	jobs := claimHooks(t, s, at)
	disabled, err := s.RecordWebhook(ctx, store.WebhookOutcome{Job: jobs[0], Verdict: store.WebhookRetry, Status: 503, Error: "HTTP 503", RetryAt: at.Add(time.Hour)}, at)
	check(t, err)
	if !disabled {
		t.Fatal("a day of failures does not disable the endpoint")
	}
	e, err = s.WebhookEndpoint(ctx, ep)
	check(t, err)
	if e.DisabledAt.IsZero() || !strings.Contains(e.DisabledReason, "HTTP 503") {
		t.Fatalf("disabled endpoint %+v", e)
	}
	if jobs := claimHooks(t, s, at.Add(48*time.Hour)); len(jobs) != 0 {
		t.Fatalf("a disabled endpoint's delivery was claimed: %+v", jobs)
	}
	// Enabled again, what waited goes out.
	check(t, s.EnableWebhookEndpoint(ctx, ep))
	jobs = claimHooks(t, s, at)
	if len(jobs) != 1 || jobs[0].Attempts != 5 {
		t.Fatalf("after enable %+v", jobs)
	}
	sent(t, s, jobs[0], at)
}

func testWebhookClaimsConcurrent(t *testing.T, s *store.Store) {
	t0 := now()
	_, err := s.CreateWebhookEndpoint(ctx, "https://hooks.example/in", []news.EventType{news.EventSubscriberConfirmed}, "whsec_x", "test", t0)
	check(t, err)
	const readers = 40
	for i := range readers {
		id, _, err := s.Subscribe(ctx, strings.Repeat("r", i+1)+"@x.test", store.Prefs{Frequency: news.Daily, Lang: news.French}, t0)
		check(t, err)
		_, err = s.Confirm(ctx, id, "h", t0)
		check(t, err)
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for {
				jobs, err := s.ClaimWebhooks(ctx, "w"+string(rune('a'+w)), t0, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				for _, j := range jobs {
					mu.Lock()
					seen[j.EventID]++
					mu.Unlock()
					if _, err := s.RecordWebhook(ctx, store.WebhookOutcome{Job: j, Verdict: store.WebhookSent, Status: 200}, t0); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if len(seen) != readers {
		t.Fatalf("%d events delivered, want %d", len(seen), readers)
	}
	for ev, n := range seen {
		if n != 1 {
			t.Fatalf("event %d claimed %d times", ev, n)
		}
	}
	// A claim taken back from a worker thought dead: its late outcome is
	// stale and changes nothing.
	id, _, err := s.Subscribe(ctx, "late@x.test", store.Prefs{Frequency: news.Daily, Lang: news.French}, t0)
	check(t, err)
	_, err = s.Confirm(ctx, id, "h", t0)
	check(t, err)
	old := claimHooks(t, s, t0)
	owners, err := s.WebhookClaimOwners(ctx)
	check(t, err)
	if !slices.Equal(owners, []string{"w1"}) {
		t.Fatalf("owners %v", owners)
	}
	n, err := s.RescueWebhookOwner(ctx, "w1")
	check(t, err)
	if n != 1 {
		t.Fatalf("rescued %d", n)
	}
	again := claimHooks(t, s, t0)
	sent(t, s, old[0], t0) // stale
	if got := claimHooks(t, s, t0); len(got) != 0 {
		t.Fatalf("claimed %+v", got)
	}
	if n, err := s.RescueWebhooks(ctx, t0.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("lease rescue %d %v: the stale outcome changed the live claim", n, err)
	}
	if got := claimHooks(t, s, t0); len(got) != 1 || got[0].Claims != again[0].Claims+1 {
		t.Fatalf("claimed %+v", got)
	}
}

func testWebhookErased(t *testing.T, s *store.Store) {
	t0 := now()
	_, err := s.CreateWebhookEndpoint(ctx, "https://hooks.example/in",
		[]news.EventType{news.EventSubscriberConfirmed, news.EventSubscriberErased}, "whsec_x", "test", t0)
	check(t, err)
	id, _, err := s.Subscribe(ctx, "secret.reader@x.test", store.Prefs{Frequency: news.Daily, Lang: news.French}, t0)
	check(t, err)
	_, err = s.Confirm(ctx, id, "h", t0)
	check(t, err)
	check(t, s.Erase(ctx, id, "h", t0))
	jobs := claimHooks(t, s, t0)
	if len(jobs) != 1 || jobs[0].Type != news.EventSubscriberConfirmed {
		t.Fatalf("jobs %+v", jobs)
	}
	sent(t, s, jobs[0], t0)
	jobs = append(jobs, claimHooks(t, s, t0)...)
	if len(jobs) != 2 || jobs[1].Type != news.EventSubscriberErased {
		t.Fatalf("jobs %+v", jobs)
	}
	for _, j := range jobs {
		if strings.Contains(string(j.Body), "secret.reader") || body(t, j).Data["id"] == "" {
			t.Fatalf("%s after erasure: %s", j.Type, j.Body)
		}
	}
	var n int
	check(t, s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_events WHERE body LIKE '%secret.reader%'`).Scan(&n))
	if n != 0 {
		t.Fatalf("%d stored events still hold the address", n)
	}
}

func testWebhookRunEvents(t *testing.T, s *store.Store) {
	t0 := now()
	_, err := s.CreateWebhookEndpoint(ctx, "https://hooks.example/in",
		[]news.EventType{news.EventDigestDone, news.EventAlertSent, news.EventAlertDone}, "whsec_x", "test", t0)
	check(t, err)
	run, _, err := s.CreateRun(ctx, news.Daily, t0, "test")
	check(t, err)
	check(t, s.FinishEnqueue(ctx, run))
	for range 2 {
		_, err := s.CloseFinishedRuns(ctx, t0)
		check(t, err)
	}
	aid, err := s.CreateAlert(ctx, news.Alert{Title: "Flash", Body: "B", URL: "https://n.test/a", TTL: time.Hour, Urgency: "high",
		TopicHeader: "t", State: news.AlertSending, SendAt: t0, CreatedAt: t0}, nil)
	check(t, err)
	_, _, err = s.EnqueueAlertWindow(ctx, aid, 100, t0)
	check(t, err)
	for range 2 {
		_, err := s.CloseFinishedAlerts(ctx, t0)
		check(t, err)
	}
	jobs := claimHooks(t, s, t0)
	var types []string
	for _, j := range jobs {
		types = append(types, string(j.Type))
		b := body(t, j)
		if j.Type == news.EventDigestDone && (b.Data["frequency"] != "daily" || b.Data["state"] != "done" || b.Data["sent"] != float64(0)) {
			t.Fatalf("digest.done %s", j.Body)
		}
		if j.Type == news.EventAlertSent && b.Data["title"] != "Flash" {
			t.Fatalf("alert.sent %s", j.Body)
		}
		sent(t, s, j, t0)
	}
	jobs = claimHooks(t, s, t0) // alert.done waited behind alert.sent
	for _, j := range jobs {
		types = append(types, string(j.Type))
		if j.Type == news.EventAlertDone && body(t, j).Data["state"] != "done" {
			t.Fatalf("alert.done %s", j.Body)
		}
	}
	if !slices.Equal(types, []string{"digest.done", "alert.sent", "alert.done"}) {
		t.Fatalf("events %v, want each once: digest.done, alert.sent, alert.done", types)
	}
	for _, j := range jobs {
		sent(t, s, j, t0)
	}
	// A cancelled alert is done too, and says so.
	cid, err := s.CreateAlert(ctx, news.Alert{Title: "Oops", Body: "B", URL: "https://n.test/b", TTL: time.Hour, Urgency: "high",
		TopicHeader: "t2", State: news.AlertSending, SendAt: t0, CreatedAt: t0}, nil)
	check(t, err)
	check(t, s.CancelAlert(ctx, cid, t0))
	jobs = claimHooks(t, s, t0)
	if len(jobs) != 1 || jobs[0].Type != news.EventAlertSent {
		t.Fatalf("jobs %+v", jobs)
	}
	sent(t, s, jobs[0], t0)
	jobs = claimHooks(t, s, t0)
	if len(jobs) != 1 || jobs[0].Type != news.EventAlertDone || body(t, jobs[0]).Data["state"] != "cancelled" {
		t.Fatalf("cancelled alert's jobs %+v", jobs)
	}
}

func testWelcomeOnce(t *testing.T, s *store.Store) {
	t0 := now()
	sport := topic(t, s, "sport")
	welcomes := func(id int64) int {
		t.Helper()
		h, err := s.History(ctx, id, 10)
		check(t, err)
		n := 0
		for _, e := range h {
			if e.Kind == news.MailWelcome {
				n++
			}
		}
		return n
	}
	off, _, err := s.Subscribe(ctx, "off@x.test", store.Prefs{Frequency: news.Daily, Lang: news.French}, t0)
	check(t, err)
	_, err = s.Confirm(ctx, off, "h", t0)
	check(t, err)
	if welcomes(off) != 0 {
		t.Fatal("welcome queued while off (the default)")
	}
	check(t, s.SetWelcome(ctx, true, []store.WelcomeText{
		{Lang: news.French, Subject: "Bienvenue", Body: "Bonjour."},
		{TopicID: sport, Lang: news.French, Body: "Le sport chaque matin."},
	}, t0))
	on, err := s.WelcomeEnabled(ctx)
	check(t, err)
	if !on {
		t.Fatal("welcome not on")
	}
	id, _, err := s.Subscribe(ctx, "on@x.test", store.Prefs{Frequency: news.Daily, Lang: news.French, TopicIDs: []int64{sport}}, t0)
	check(t, err)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := s.Confirm(ctx, id, "h", t0); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := welcomes(id); n != 1 {
		t.Fatalf("%d welcome emails queued for four confirms, want 1", n)
	}
	text, paras, err := s.WelcomeFor(ctx, id, news.French)
	check(t, err)
	if text.Subject != "Bienvenue" || text.Body != "Bonjour." || !slices.Equal(paras, []string{"Le sport chaque matin."}) {
		t.Fatalf("welcome %+v %v", text, paras)
	}
}

// A reader who becomes bounced or complained through a bounce report is
// told to integrators once, in the transaction that changed them; a
// second report about an already bounced reader tells nothing more.
func testWebhookBounceEvents(t *testing.T, s *store.Store) {
	t0 := now()
	_, err := s.CreateWebhookEndpoint(ctx, "https://hooks.example/in",
		[]news.EventType{news.EventSubscriberBounced, news.EventSubscriberComplained}, "whsec_x", "test", t0)
	check(t, err)
	reader := func(email string) int64 {
		id, _, err := s.Subscribe(ctx, email, store.Prefs{Frequency: news.Daily, Lang: news.French}, t0)
		check(t, err)
		_, err = s.Confirm(ctx, id, "h-"+email, t0)
		check(t, err)
		return id
	}
	hard, spam := reader("hard@x.test"), reader("spam@x.test")
	for i := range 2 {
		_, err = s.RecordBounce(ctx, store.Bounce{SubscriberID: hard, At: t0.Add(time.Duration(i) * time.Minute), Kind: store.BounceHard,
			Status: "5.1.1", Source: "smtp"}, hashOf, softPolicy)
		check(t, err)
	}
	_, err = s.RecordBounce(ctx, store.Bounce{SubscriberID: spam, At: t0, Kind: store.BounceComplaint, Source: "imap"}, hashOf, softPolicy)
	check(t, err)
	got := map[string]string{}
	for _, j := range claimHooks(t, s, t0.Add(time.Hour)) {
		b := body(t, j)
		if _, dup := got[b.Data["email"].(string)]; dup {
			t.Fatalf("a second event for %v: %+v", b.Data["email"], b)
		}
		got[b.Data["email"].(string)] = b.Type + " " + b.Data["status"].(string)
	}
	want := map[string]string{"hard@x.test": "subscriber.bounced bounced", "spam@x.test": "subscriber.complained complained"}
	if len(got) != len(want) || got["hard@x.test"] != want["hard@x.test"] || got["spam@x.test"] != want["spam@x.test"] {
		t.Fatalf("events %v, want %v", got, want)
	}
}
