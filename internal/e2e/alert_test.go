package e2e_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/push/pushtest"
)

// pushFixture is a daemon whose VAPID key a push service stub knows.
func pushFixture(t *testing.T, extra map[string]string, topics ...string) (*flow, *pushtest.Server) {
	t.Helper()
	priv, pub, err := push.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	ps := pushtest.NewServer(t, pub)
	env := map[string]string{"CRIEUR_VAPID_PRIVATE_KEY": priv, "CRIEUR_VAPID_PUBLIC_KEY": pub}
	for k, v := range extra {
		env[k] = v
	}
	return flowSetup(t, env, topics...), ps
}

// pushSub posts one push subscription and returns the status and error
// code.
func (f *flow) pushSub(endpoint string, b *pushtest.Browser, topics []string) (int, string) {
	f.t.Helper()
	var out struct {
		Error struct{ Code string } `json:"error"`
	}
	body := map[string]any{"subscription": map[string]any{"endpoint": endpoint,
		"keys": map[string]string{"p256dh": b.P256dh, "auth": b.Auth}}, "topics": topics, "lang": "fr"}
	st := f.p.Do(f.t, "POST", "/api/v1/push/subscriptions", "", body, &out)
	return st, out.Error.Code
}

// sendAlert posts an alert and returns its id.
func (f *flow) sendAlert(body map[string]any) string {
	f.t.Helper()
	var out struct{ ID string }
	if st := f.do("POST", "/api/v1/alerts", body, &out); st != 202 || out.ID == "" {
		f.t.Fatalf("POST alert: %d %+v", st, out)
	}
	return out.ID
}

// pushPayload is what the service worker receives.
type pushPayload struct {
	Title   string `json:"title"`
	Body    string `json:"body"`
	URL     string `json:"url"`
	AlertID string `json:"alert_id"`
	Tag     string `json:"tag"`
}

// TestAlertFanout sends alerts to push subscriptions with and without
// topics while the push service answers 410, 429, 500, 400, 403 and 413 for
// some of them.
func TestAlertFanout(t *testing.T) {
	e2etest.Parallel(t)
	f, ps := pushFixture(t, nil, "monde", "sport")
	f.start()

	type sub struct {
		name   string
		topics []string
		b      *pushtest.Browser
		ep     string
	}
	subs := map[string]*sub{}
	for _, s := range []sub{
		{name: "monde", topics: []string{"monde"}},
		{name: "sport", topics: []string{"sport"}},
		{name: "tout", topics: nil}, // no topics: every alert
		{name: "les-deux", topics: []string{"monde", "sport"}},
		{name: "gone", topics: []string{"monde"}},
		{name: "busy", topics: []string{"monde"}},
		{name: "oops", topics: []string{"monde"}},
		{name: "bad", topics: []string{"monde"}},
		{name: "forbidden", topics: []string{"monde"}},
		{name: "toolarge", topics: []string{"monde"}},
	} {
		s.b = pushtest.NewBrowser()
		s.ep = ps.Endpoint(s.b)
		if st, code := f.pushSub(s.ep, s.b, s.topics); st != 201 {
			t.Fatalf("subscribe %s: %d %s", s.name, st, code)
		}
		subs[s.name] = &s
	}
	ps.Unsubscribe(subs["gone"].ep) // answers 410
	var busyAt []time.Time
	var mu sync.Mutex
	ps.SetFault(subs["busy"].ep, func(n int, _ *http.Request) (int, http.Header, time.Duration) {
		mu.Lock()
		busyAt = append(busyAt, time.Now())
		mu.Unlock()
		if n == 1 {
			return 429, http.Header{"Retry-After": {"1"}}, 0
		}
		return 0, nil, 0
	})
	ps.SetFault(subs["oops"].ep, func(n int, _ *http.Request) (int, http.Header, time.Duration) {
		if n <= 2 {
			return 500, nil, 0
		}
		return 0, nil, 0
	})
	ps.SetFault(subs["bad"].ep, pushtest.Answer(400))
	ps.SetFault(subs["forbidden"].ep, pushtest.Answer(403))
	ps.SetFault(subs["toolarge"].ep, pushtest.Answer(413))

	// Alert 1 on "monde": every subscription but "sport".
	id1 := f.sendAlert(map[string]any{"title": "Séisme à Agadir", "body": "Un séisme de magnitude 6 a frappé la région.",
		"url": "https://gazette.example/seisme", "topics": []string{"monde"}})
	a1 := f.waitAlert(id1, 30*time.Second, "done", func(a alertJSON) bool { return a.State == "done" })
	if a1.Targeted != 9 || a1.Delivered != 5 || a1.Failed != 3 || a1.Expired != 1 {
		t.Errorf("alert 1 = %+v, want 9 targeted: 5 delivered, 3 failed, 1 expired (gone)", a1)
	}
	got := map[string][]pushtest.Received{}
	for _, r := range ps.Received() {
		got[r.Endpoint] = append(got[r.Endpoint], r)
	}
	topicHeader := ""
	for _, name := range []string{"monde", "tout", "les-deux", "busy", "oops"} {
		rs := got[subs[name].ep]
		if len(rs) != 1 {
			t.Errorf("%s received alert 1 %d times, want once", name, len(rs))
			continue
		}
		r := rs[0]
		var p pushPayload
		if err := json.Unmarshal(r.Payload, &p); err != nil {
			t.Errorf("%s: payload %q: %v", name, r.Payload, err)
		}
		if p.Title != "Séisme à Agadir" || p.Body == "" || p.URL != "https://gazette.example/seisme" || p.AlertID != id1 {
			t.Errorf("%s: payload %+v", name, p)
		}
		if r.TTL != time.Hour && name != "busy" && name != "oops" {
			t.Errorf("%s: TTL %v, want 3600 s by default", name, r.TTL)
		}
		if r.TTL > time.Hour || r.TTL < time.Hour-30*time.Second {
			t.Errorf("%s: TTL %v, want about an hour", name, r.TTL)
		}
		if r.Urgency != "high" {
			t.Errorf("%s: Urgency %q, want high by default", name, r.Urgency)
		}
		if r.Topic == "" || (topicHeader != "" && r.Topic != topicHeader) {
			t.Errorf("%s: Topic %q (others %q)", name, r.Topic, topicHeader)
		}
		topicHeader = r.Topic
	}
	if n := len(got[subs["sport"].ep]); n != 0 {
		t.Errorf("the sport-only subscription received %d monde alerts", n)
	}
	mu.Lock()
	if len(busyAt) >= 2 {
		if gap := busyAt[1].Sub(busyAt[0]); gap < 900*time.Millisecond || gap > 5*time.Second {
			t.Errorf("retry after 429 Retry-After: 1 came %v later", gap)
		}
	}
	mu.Unlock()
	if errs := ps.Errors(); len(errs) > 0 {
		t.Errorf("push service refused %d requests: %v", len(errs), errs[0])
	}

	// Alert 2 replaces alert 1: same Topic header; "gone" is not targeted
	// any more, the 400/403/413 subscriptions still are.
	for _, name := range []string{"bad", "forbidden", "toolarge"} {
		ps.SetFault(subs[name].ep, nil)
	}
	before := len(ps.Received())
	ttl := 600
	id2 := f.sendAlert(map[string]any{"title": "Séisme : le bilan", "body": "Mise à jour.", "url": "https://gazette.example/seisme",
		"topics": []string{"monde"}, "replaces": id1, "ttl_seconds": ttl, "urgency": "normal"})
	a2 := f.waitAlert(id2, 30*time.Second, "done", func(a alertJSON) bool { return a.State == "done" })
	if a2.Targeted != 8 || a2.Delivered != 8 {
		t.Errorf("alert 2 = %+v, want 8 targeted and delivered (the 410 one removed, the 4xx ones kept)", a2)
	}
	for _, r := range ps.Received()[before:] {
		if r.Topic != topicHeader {
			t.Errorf("replacing alert: Topic %q, want the first alert's %q", r.Topic, topicHeader)
		}
		if r.Urgency != "normal" || r.TTL > time.Duration(ttl)*time.Second || r.TTL < time.Duration(ttl-30)*time.Second {
			t.Errorf("alert 2: Urgency %q TTL %v", r.Urgency, r.TTL)
		}
		if r.Endpoint == subs["gone"].ep {
			t.Errorf("alert 2 went to the subscription that answered 410")
		}
	}

	// Re-posting a known endpoint replaces its topics: "sport" now follows
	// "monde" only, and no longer gets sport alerts.
	if st, _ := f.pushSub(subs["sport"].ep, subs["sport"].b, []string{"monde"}); st != 200 {
		t.Errorf("re-post a known endpoint: %d, want 200", st)
	}
	// DELETE removes "les-deux".
	if st := f.p.Do(t, "DELETE", "/api/v1/push/subscriptions", "", map[string]string{"endpoint": subs["les-deux"].ep}, nil); st != 204 {
		t.Errorf("DELETE push subscription: %d, want 204", st)
	}
	before = len(ps.Received())
	id3 := f.sendAlert(map[string]any{"title": "Finale", "body": "Score final.", "url": "https://gazette.example/finale", "topics": []string{"sport"}})
	a3 := f.waitAlert(id3, 30*time.Second, "done", func(a alertJSON) bool { return a.State == "done" })
	if a3.Targeted != 1 || a3.Delivered != 1 {
		t.Errorf("sport alert = %+v, want only the no-topic subscription", a3)
	}
	for _, r := range ps.Received()[before:] {
		if r.Endpoint != subs["tout"].ep {
			t.Errorf("sport alert reached %s", r.Endpoint)
		}
	}

	// TTL 0 asks for delivery now or never (RFC 8030 §5.2): every browser
	// gets one attempt with "TTL: 0", and one the push service turns away
	// for now is not tried again.
	ps.SetFault(subs["busy"].ep, pushtest.Answer(429))
	before = len(ps.Received())
	id4 := f.sendAlert(map[string]any{"title": "En direct", "body": "Maintenant.", "url": "https://gazette.example/direct",
		"topics": []string{"monde"}, "ttl_seconds": 0})
	a4 := f.waitAlert(id4, 30*time.Second, "done", func(a alertJSON) bool { return a.State == "done" })
	if a4.Targeted != 8 || a4.Delivered != 7 || a4.Expired != 1 || a4.Failed != 0 {
		t.Errorf("TTL 0 alert = %+v, want 8 targeted: 7 delivered, 1 expired (429, not retried)", a4)
	}
	for _, r := range ps.Received()[before:] {
		if r.TTL != 0 {
			t.Errorf("TTL 0 alert reached %s with TTL %v", r.Endpoint, r.TTL)
		}
	}

	// A body within its 1,000 characters but too big for a push record once
	// JSON-escaped ("<" takes six bytes) is refused at once, rather than
	// accepted and then failed for every browser.
	var refused struct {
		Error struct{ Code string } `json:"error"`
	}
	if st := f.do("POST", "/api/v1/alerts", map[string]any{"title": "x", "body": strings.Repeat("<", 1000),
		"url": "https://gazette.example/x"}, &refused); st != 400 || refused.Error.Code != "invalid_input" {
		t.Errorf("an alert too big for a push record: %d %q, want 400 invalid_input", st, refused.Error.Code)
	}

	// Bad keys.
	bad := pushtest.NewBrowser()
	bad.P256dh = "not-a-key"
	if st, code := f.pushSub(ps.Endpoint(bad), bad, nil); st != 400 || code != "invalid_keys" {
		t.Errorf("bad keys: %d %q, want 400 invalid_keys", st, code)
	}
}

// TestAlertCancel cancels an alert while a slow push service is taking it:
// what had not gone out stays unsent.
func TestAlertCancel(t *testing.T) {
	e2etest.Parallel(t)
	f, ps := pushFixture(t, map[string]string{"CRIEUR_PUSH_CONCURRENCY": "2"})
	ps.SetGlobalFault(func(int, *http.Request) (int, http.Header, time.Duration) { return 0, nil, 200 * time.Millisecond })
	f.start()
	const n = 40
	b := pushtest.NewBrowser()
	eps := make([]string, n)
	for i := range eps {
		eps[i] = ps.Endpoint(b)
	}
	e2etest.SubscribePush(t, f.p, f.token, b.P256dh, b.Auth, eps, nil)
	id := f.sendAlert(map[string]any{"title": "Alerte", "body": "b", "url": "https://gazette.example/x"})
	if _, err := ps.Wait(2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := f.do("POST", "/api/v1/alerts/"+id+"/cancel", nil, nil); st/100 != 2 {
		t.Fatalf("cancel: %d", st)
	}
	atCancel := ps.Count()
	a := f.waitAlert(id, 10*time.Second, "cancelled and settled", func(a alertJSON) bool {
		return a.State == "cancelled"
	})
	// Let whatever was on the wire land, then check nothing else follows.
	time.Sleep(time.Second)
	after := ps.Count()
	t.Logf("cancel: %d delivered before, %d after (of %d); alert %+v", atCancel, after, n, a)
	if after-atCancel > 2 {
		t.Errorf("%d pushes went out after the cancel, want at most the 2 in flight", after-atCancel)
	}
	if after >= n {
		t.Errorf("all %d pushes went out despite the cancel", n)
	}
	if st := f.do("POST", "/api/v1/alerts/"+id+"/cancel", nil, nil); st != 409 {
		t.Errorf("second cancel: %d, want 409", st)
	}
}

// confirmURL finds the confirmation link in a confirmation email's text.
var confirmURL = regexp.MustCompile(`https?://\S+/confirm/[A-Za-z0-9_-]+`)

// subscribeConfirmed subscribes email through the public API, takes the
// confirmation email from the sink and confirms through its link's form.
func (f *flow) subscribeConfirmed(sink *mailtest.Server, email string, topics []string, lang string, alerts bool) {
	f.t.Helper()
	before := len(byRcpt(sink.Messages())[email])
	body := map[string]any{"email": email, "topics": topics, "frequency": "daily", "lang": lang, "alerts": alerts}
	if st := f.p.Do(f.t, "POST", "/api/v1/subscriptions", "", body, nil); st != 202 {
		f.t.Fatalf("subscribe %s: %d", email, st)
	}
	var msg mailtest.Msg
	e2etest.WaitFor(f.t, 10*time.Second, "confirmation email to "+email, func() bool {
		ms := byRcpt(sink.Messages())[email]
		if len(ms) > before {
			msg = ms[len(ms)-1]
			return true
		}
		return false
	})
	link := confirmURL.FindString(msg.Text())
	if link == "" {
		f.t.Fatalf("no confirm link in:\n%s", msg.Text())
	}
	// The link's page confirms through a POST (its script sends it).
	resp, err := e2etest.HTTPClient().Post(link, "", nil)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		f.t.Fatalf("POST confirm link: %d", resp.StatusCode)
	}
}

// TestAlertEmail: an alert with email: true also mails the confirmed
// readers of its topics who asked for alerts, through the mail queue.
func TestAlertEmail(t *testing.T) {
	e2etest.Parallel(t)
	sink := mailtest.NewServer(t)
	f, ps := pushFixture(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL()}, "monde", "sport")
	f.start()
	f.subscribeConfirmed(sink, "veut@example.org", []string{"monde"}, "fr", true)
	f.subscribeConfirmed(sink, "neveut@example.org", []string{"monde"}, "fr", false)
	f.subscribeConfirmed(sink, "sport@example.org", []string{"sport"}, "en", true)
	b := pushtest.NewBrowser()
	if st, _ := f.pushSub(ps.Endpoint(b), b, []string{"monde"}); st != 201 {
		t.Fatalf("push subscribe: %d", st)
	}
	before := sink.Count()
	id := f.sendAlert(map[string]any{"title": "Coup d’État déjoué", "body": "Les détails.", "url": "https://gazette.example/coup",
		"topics": []string{"monde"}, "email": true})
	f.waitAlert(id, 20*time.Second, "done", func(a alertJSON) bool { return a.State == "done" })
	if _, err := ps.Wait(1, 5*time.Second); err != nil {
		t.Error(err)
	}
	msgs := sink.Wait(before+1, 10*time.Second)[before:]
	if len(msgs) != 1 || msgs[0].To[0] != "veut@example.org" {
		var to []string
		for _, m := range msgs {
			to = append(to, m.To...)
		}
		t.Fatalf("alert emails went to %v, want only veut@example.org", to)
	}
	m := msgs[0]
	if !strings.Contains(m.Header("Subject")+m.Text(), "Coup d’État déjoué") || m.Header("List-Unsubscribe") == "" {
		t.Errorf("alert email: Subject %q, List-Unsubscribe %q\n%s", m.Header("Subject"), m.Header("List-Unsubscribe"), m.Text())
	}
}

// TestPushEndpointPolicy: without CRIEUR_PUSH_ALLOW_PRIVATE an endpoint on
// a loopback address is refused, even over https.
func TestPushEndpointPolicy(t *testing.T) {
	e2etest.Parallel(t)
	f, _ := pushFixture(t, map[string]string{"CRIEUR_PUSH_ALLOW_PRIVATE": "false"})
	f.start()
	b := pushtest.NewBrowser()
	for _, ep := range []string{"https://127.0.0.1:8443/push/1", "http://127.0.0.1:8080/push/2", "https://[::1]/push/3", "https://10.0.0.1/push/4"} {
		if st, code := f.pushSub(ep, b, nil); st != 400 || code != "endpoint_not_allowed" {
			t.Errorf("%s: %d %q, want 400 endpoint_not_allowed", ep, st, code)
		}
	}
}
