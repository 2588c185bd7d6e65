package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/netguard"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/storetest"
	"github.com/crieur/crieur/internal/webhook"
	"github.com/crieur/crieur/internal/webhook/webhooktest"
)

type fixture struct {
	st  *store.Store
	svc *webhook.Service
	rcv *webhooktest.Receiver
	d   *webhook.Deliverer
}

func setup(t *testing.T) *fixture {
	t.Helper()
	st := storetest.SQLite(t)
	policy := netguard.Policy{AllowPrivate: true}
	f := &fixture{st: st, rcv: webhooktest.New(t)}
	f.d = webhook.New(webhook.Config{Store: st, Client: webhook.NewClient(policy), Owner: "test", RetryBase: 20 * time.Millisecond})
	f.svc = webhook.NewService(st, policy, f.d.Wake)
	return f
}

// confirm signs up and confirms a reader; it returns their id.
func (f *fixture) confirm(t *testing.T, email string) int64 {
	t.Helper()
	id, _, err := f.st.Subscribe(t.Context(), email, store.Prefs{Frequency: news.Daily, Lang: news.French}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Confirm(t.Context(), id, "h", time.Now()); err != nil {
		t.Fatal(err)
	}
	return id
}

func (f *fixture) runAll(t *testing.T) {
	t.Helper()
	for {
		n, err := f.d.RunOnce(t.Context(), t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// The Standard Webhooks reference implementation (npm standardwebhooks)
// verifies what the deliverer sends, and refuses a tampered body, a
// wrong secret and a replayed old timestamp.
func TestReferenceImplementationVerifies(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, secret, err := f.svc.Register(t.Context(), "test", f.rcv.URL(), []string{"subscriber.confirmed", "subscriber.unsubscribed"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	id := f.confirm(t, "lectrice@x.test")
	if err := f.st.Unsubscribe(t.Context(), id, "h", "one-click", time.Now()); err != nil {
		t.Fatal(err)
	}
	f.runAll(t)
	reqs, dups := f.rcv.Accepted()
	if len(reqs) != 2 || dups != 0 {
		t.Fatalf("%d messages, %d duplicates", len(reqs), dups)
	}
	tampered := reqs[1]
	tampered.Body = []byte(strings.Replace(string(tampered.Body), "unsubscribed", "confirmed!!!", 1))
	// A replay: signed as crieur would have signed it in 2020, so that
	// only its age can make a receiver refuse it.
	old := reqs[0]
	old.Header = old.Header.Clone()
	oldAt := time.Unix(1600000000, 0)
	oldSig, err := webhook.Sign(secret, old.Header.Get("webhook-id"), oldAt, old.Body)
	if err != nil {
		t.Fatal(err)
	}
	old.Header.Set("webhook-timestamp", "1600000000")
	old.Header.Set("webhook-signature", oldSig)
	res := webhooktest.Verify(t, secret, append(reqs, tampered, old))
	for i, want := range []string{"subscriber.confirmed", "subscriber.unsubscribed"} {
		if res[i].Error != "" || res[i].Payload["type"] != want {
			t.Fatalf("message %d: %+v, want %s verified", i, res[i], want)
		}
		data, _ := res[i].Payload["data"].(map[string]any)
		if data["email"] != "lectrice@x.test" {
			t.Fatalf("message %d data %v", i, data)
		}
	}
	if res[2].Error == "" || res[3].Error == "" {
		t.Fatalf("tampered or replayed message verified: %+v %+v", res[2], res[3])
	}
	if other := webhooktest.Verify(t, "whsec_"+strings.Repeat("A", 44), reqs[:1]); other[0].Error == "" {
		t.Fatal("verified with another secret")
	}
	// Our own Verify (the README's receiver) agrees.
	for _, q := range reqs {
		if err := webhook.Verify(secret, q.Header.Get("webhook-id"), q.Header.Get("webhook-timestamp"), q.Header.Get("webhook-signature"), q.Body, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := webhook.Verify(secret, tampered.Header.Get("webhook-id"), tampered.Header.Get("webhook-timestamp"), tampered.Header.Get("webhook-signature"), tampered.Body, time.Now()); !errors.Is(err, webhook.ErrBadSignature) {
		t.Fatalf("tampered: %v", err)
	}
	verifyOld := func(now time.Time) error {
		return webhook.Verify(secret, old.Header.Get("webhook-id"), old.Header.Get("webhook-timestamp"), old.Header.Get("webhook-signature"), old.Body, now)
	}
	if err := verifyOld(oldAt.Add(time.Minute)); err != nil {
		t.Fatalf("the replayed message, checked when it was sent: %v", err)
	}
	if err := verifyOld(time.Now()); !errors.Is(err, webhook.ErrBadSignature) {
		t.Fatalf("replayed: %v", err)
	}
}

// An endpoint answering 500 for a while gets the event again (with the
// same webhook-id) until it answers 2xx; the log shows the attempts.
func TestRetriesUntilTheEndpointRecovers(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ep, _, err := f.svc.Register(t.Context(), "test", f.rcv.URL(), []string{"subscriber.confirmed"})
	if err != nil {
		t.Fatal(err)
	}
	f.rcv.FailNext(3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := f.d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer f.d.Stop(ctx)
	f.confirm(t, "a@x.test")
	f.d.Wake()
	start := time.Now()
	got := f.rcv.WaitAccepted(t, 1, 10*time.Second)
	t.Logf("delivered after 3 failures in %s", time.Since(start))
	all := f.rcv.Requests()
	if len(all) != 4 || all[0].Header.Get("webhook-id") != got[0].Header.Get("webhook-id") {
		t.Fatalf("%d requests, want 3 failures then one success with one webhook-id", len(all))
	}
	var log []store.WebhookLogEntry
	for deadline := time.Now().Add(5 * time.Second); ; {
		if log, err = f.svc.Log(t.Context(), ep, 10); err != nil {
			t.Fatal(err)
		}
		if len(log) != 1 || log[0].State != "sending" || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // the outcome is recorded after the answer
	}
	if len(log) != 1 || log[0].State != "sent" || log[0].Attempts != 4 || log[0].Status != 204 {
		t.Fatalf("log %+v", log)
	}
	e, err := f.svc.Get(t.Context(), ep)
	if err != nil {
		t.Fatal(err)
	}
	if !e.FailingSince.IsZero() {
		t.Fatalf("endpoint still failing: %+v", e)
	}
}

// TestRetryWaitsItsBackoff: on the deliverer's clock, a failed message
// is not tried again before its back-off (RetryBase, then twice that,
// each ±20%), and is once it has passed.
func TestRetryWaitsItsBackoff(t *testing.T) {
	t.Parallel()
	f := &fixture{st: storetest.SQLite(t), rcv: webhooktest.New(t)}
	var mu sync.Mutex
	now := time.Now().Add(time.Second) // after the event is written
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	policy := netguard.Policy{AllowPrivate: true}
	f.d = webhook.New(webhook.Config{Store: f.st, Client: webhook.NewClient(policy), Owner: "test", RetryBase: time.Minute, Now: clock})
	f.svc = webhook.NewService(f.st, policy, f.d.Wake)
	if _, _, err := f.svc.Register(t.Context(), "test", f.rcv.URL(), []string{"subscriber.confirmed"}); err != nil {
		t.Fatal(err)
	}
	f.rcv.FailNext(2)
	f.confirm(t, "a@x.test")
	start := now
	for _, step := range []struct {
		at   time.Duration
		sent int
	}{
		{0, 1},                 // fails; the next try is due 48 to 72 s later
		{40 * time.Second, 0},  // too soon
		{80 * time.Second, 1},  // fails again; due 96 to 144 s later
		{170 * time.Second, 0}, // too soon: the wait doubled
		{230 * time.Second, 1}, // accepted
	} {
		mu.Lock()
		now = start.Add(step.at)
		mu.Unlock()
		n, err := f.d.RunOnce(t.Context(), t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n != step.sent {
			t.Fatalf("at +%s: %d messages sent, want %d", step.at, n, step.sent)
		}
	}
	if got, _ := f.rcv.Accepted(); len(got) != 1 || len(f.rcv.Requests()) != 3 {
		t.Fatalf("%d accepted of %d requests, want the third", len(got), len(f.rcv.Requests()))
	}
}

// Without CRIEUR_WEBHOOKS_ALLOW_PRIVATE, a loopback URL is refused at
// registration and, registered anyway (a name that resolved elsewhere
// then), never dialled.
func TestPrivateAddressesRefused(t *testing.T) {
	t.Parallel()
	f := setup(t)
	strict := webhook.NewService(f.st, netguard.Policy{}, nil)
	for _, u := range []string{f.rcv.URL(), "https://127.0.0.1/x", "https://[::1]/x", "https://10.0.0.8/x", "https://169.254.169.254/latest"} {
		_, _, err := strict.Register(t.Context(), "test", u, []string{"alert.sent"})
		e, ok := news.AsError(err)
		if !ok || (e.Code != news.CodeEndpointNotAllowed && e.Code != news.CodeInvalid) {
			t.Fatalf("%s: %v", u, err)
		}
	}
	// Registered through the lenient service, delivered by a strict deliverer.
	ep, _, err := f.svc.Register(t.Context(), "test", strings.Replace(f.rcv.URL(), "http://", "https://", 1), []string{"subscriber.confirmed"})
	if err != nil {
		t.Fatal(err)
	}
	d := webhook.New(webhook.Config{Store: f.st, Owner: "strict"})
	f.confirm(t, "a@x.test")
	if _, err := d.RunOnce(t.Context(), t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.rcv.Requests()); n != 0 {
		t.Fatalf("the receiver on loopback got %d requests", n)
	}
	log, err := f.svc.Log(t.Context(), ep, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 1 || log[0].State != "pending" || !strings.Contains(log[0].LastError, "not allowed") {
		t.Fatalf("log %+v", log)
	}
}

// TestVerify: the receiver's check of the README accepts what Sign made
// within the tolerance, and refuses a changed body, another secret, and a
// well-signed message replayed later. It needs no reference
// implementation, so it runs everywhere.
func TestVerify(t *testing.T) {
	t.Parallel()
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	other, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1765000000, 0)
	body := []byte(`{"type":"subscriber.confirmed"}`)
	sig, err := webhook.Sign(secret, "msg_1", at, body)
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	for _, c := range []struct {
		what   string
		secret string
		body   []byte
		now    time.Time
		ok     bool
	}{
		{"as sent", secret, body, at, true},
		{"within the tolerance", secret, body, at.Add(webhook.Tolerance - time.Second), true},
		{"changed body", secret, []byte(`{"type":"subscriber.erased"}`), at, false},
		{"another secret", other, body, at, false},
		{"replayed later", secret, body, at.Add(webhook.Tolerance + time.Second), false},
		{"from the future", secret, body, at.Add(-webhook.Tolerance - time.Second), false},
	} {
		err := webhook.Verify(c.secret, "msg_1", ts, "v1,other "+sig, c.body, c.now)
		if c.ok && err != nil || !c.ok && !errors.Is(err, webhook.ErrBadSignature) {
			t.Errorf("%s: %v", c.what, err)
		}
	}
}

// What an admin registers is checked: URL shape, known events.
func TestCheckEndpoint(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		url     string
		events  []string
		private bool
		ok      bool
	}{
		{"https://crm.example/hooks", []string{"subscriber.confirmed"}, false, true},
		{"https://crm.example/hooks", []string{"alert.done", "alert.done"}, false, true},
		{"http://crm.example/hooks", []string{"alert.done"}, false, false},
		{"http://127.0.0.1:9/hooks", []string{"alert.done"}, true, true},
		{"https://user:pw@crm.example/", []string{"alert.done"}, false, false},
		{"https://crm.example/#x", []string{"alert.done"}, false, false},
		{"ftp://crm.example/", []string{"alert.done"}, true, false},
		{"/hooks", []string{"alert.done"}, true, false},
		{"https://crm.example/", nil, false, false},
		{"https://crm.example/", []string{"webhook.test"}, false, false},
		{"https://crm.example/", []string{"subscriber.*"}, false, false},
	} {
		_, evs, err := webhook.CheckEndpoint(c.url, c.events, c.private)
		if (err == nil) != c.ok {
			t.Errorf("%s %v private=%v: %v", c.url, c.events, c.private, err)
		}
		if err == nil && len(evs) != 1 {
			t.Errorf("%s %v: events %v, want each once", c.url, c.events, evs)
		}
	}
}

func FuzzCheckEndpoint(f *testing.F) {
	f.Add("https://crm.example/hooks?x=1", "subscriber.confirmed,alert.done", false)
	f.Add("http://[::1]:80/", "digest.done", true)
	f.Add("https://a b/", ",", false)
	f.Fuzz(func(t *testing.T, raw, events string, private bool) {
		u, evs, err := webhook.CheckEndpoint(raw, strings.Split(events, ","), private)
		if err != nil {
			if _, ok := news.AsError(err); !ok {
				t.Fatalf("error %v is not a news.Error", err)
			}
			return
		}
		if !strings.HasPrefix(u, "https://") && !(private && strings.HasPrefix(u, "http://")) {
			t.Fatalf("accepted %q", u)
		}
		for _, e := range evs {
			if !e.Valid() {
				t.Fatalf("accepted event %q", e)
			}
		}
		if _, err := json.Marshal(evs); err != nil {
			t.Fatal(err)
		}
	})
}
