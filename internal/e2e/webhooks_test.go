package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
	"github.com/crieur/crieur/internal/webhook/webhooktest"
)

// hookEvent is a received message's body.
type hookEvent struct {
	Type      string         `json:"type"`
	Timestamp string         `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

func decodeHook(t *testing.T, q webhooktest.Request) hookEvent {
	t.Helper()
	var e hookEvent
	if err := json.Unmarshal(q.Body, &e); err != nil {
		t.Fatalf("body %q: %v", q.Body, err)
	}
	return e
}

// TestWebhooksEndToEnd: an admin registers an endpoint through the API (an
// editor cannot); readers confirm, one is erased, a digest and an alert
// end; the endpoint fails for a while and `crieur serve` is killed with
// SIGKILL twice (once with nothing in flight, once in the middle of a
// request). Every event reaches the endpoint exactly once counted by its
// webhook-id (the same id on every attempt), the Standard Webhooks
// reference implementation verifies every message, one reader's events
// arrive in order, and the erased reader's events carry no address.
func TestWebhooksEndToEnd(t *testing.T) {
	e2etest.Parallel(t)
	rcv := webhooktest.New(t)
	sink := mailtest.NewServer(t)
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL(), "CRIEUR_WEBHOOKS_ALLOW_PRIVATE": "true"}, "monde")
	f.start()
	defer f.logOnFailure(func() string { return fmt.Sprintf("%d requests at the receiver", len(rcv.Requests())) })

	editor := e2etest.Token(t, f.env, "cms", "editor")
	reg := map[string]any{"url": rcv.URL(), "events": []string{"subscriber.confirmed", "subscriber.unsubscribed", "subscriber.erased",
		"alert.sent", "alert.done", "digest.done"}}
	var apiErr struct {
		Error struct{ Code string } `json:"error"`
	}
	if st := f.p.Do(t, "POST", "/api/v1/webhooks", editor, reg, &apiErr); st != 403 || apiErr.Error.Code != "forbidden" {
		t.Fatalf("POST /api/v1/webhooks with an editor token: %d %+v, want 403 forbidden", st, apiErr)
	}
	if st := f.do("POST", "/api/v1/webhooks", map[string]any{"url": rcv.URL(), "events": []string{"everything"}}, nil); st != 400 {
		t.Fatalf("unknown event: %d, want 400", st)
	}
	var created struct{ ID, Secret string }
	if st := f.do("POST", "/api/v1/webhooks", reg, &created); st != 201 || created.ID == "" || !strings.HasPrefix(created.Secret, "whsec_") {
		t.Fatalf("POST /api/v1/webhooks: %d %+v", st, created)
	}
	resp, err := e2etest.HTTPClient().Do(authGet(t, f.p.URL+"/api/v1/webhooks", f.token))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(raw), `"id":"`+created.ID+`"`) || strings.Contains(string(raw), "whsec_") {
		t.Fatalf("GET /api/v1/webhooks: %d %s (listed, without its secret)", resp.StatusCode, raw)
	}

	// The endpoint is down: the first confirmations are queued and retried.
	rcv.SetFailing(true)
	readers := []string{"ana@example.org", "bruno@example.org", "chloe@example.org"}
	for _, r := range readers[:2] {
		f.subscribeConfirmed(sink, r, []string{"monde"}, "fr", false)
	}
	e2etest.WaitFor(t, 10*time.Second, "failed attempts", func() bool { return len(rcv.Requests()) >= 2 })
	f.p.Kill() // nothing in flight: the events are in the outbox
	f.start()
	f.subscribeConfirmed(sink, readers[2], []string{"monde"}, "fr", false)

	// The endpoint answers again, slowly; the daemon dies mid-request.
	before := len(rcv.Requests())
	rcv.SetDelay(3 * time.Second)
	rcv.SetFailing(false)
	e2etest.WaitFor(t, 20*time.Second, "a request in flight", func() bool { return len(rcv.Requests()) > before })
	f.p.Kill()
	rcv.SetDelay(0)
	f.start()

	if st := f.do("DELETE", "/api/v1/subscribers/"+readers[1], nil, nil); st != 204 {
		t.Fatalf("erase %s: %d", readers[1], st)
	}
	f.article("wh-1", "Dépêche", []string{"monde"}, time.Now().Add(-time.Minute))
	runID := f.runDigest("daily")
	f.waitRun(runID, 30*time.Second)
	alertID := f.sendAlert(map[string]any{"title": "Flash", "body": "B", "url": "https://gazette.example/flash", "topics": []string{"monde"}})
	f.waitAlert(alertID, 30*time.Second, "done", func(a alertJSON) bool { return a.State == "done" })

	// 3 confirmed, 1 erased, digest.done, alert.sent, alert.done.
	const want = 7
	got := rcv.WaitAccepted(t, want, 60*time.Second)
	time.Sleep(time.Second) // an eighth event, were there one, would show now
	got, dups := rcv.Accepted()
	if len(got) != want {
		t.Fatalf("%d distinct events, want %d", len(got), want)
	}
	counts := map[string]int{}
	order := map[string][]string{} // subscriber id → event types, as received
	for _, q := range got {
		e := decodeHook(t, q)
		key := e.Type
		if email, _ := e.Data["email"].(string); email != "" {
			key += " " + email
		}
		counts[key]++
		if strings.HasPrefix(e.Type, "subscriber.") {
			id, _ := e.Data["id"].(string)
			order[id] = append(order[id], e.Type)
		}
		if e.Type == "subscriber.erased" && strings.Contains(string(q.Body), "@") {
			t.Errorf("the erased reader's event carries an address: %s", q.Body)
		}
		if e.Type == "digest.done" && (e.Data["id"] != runID || e.Data["state"] != "done") {
			t.Errorf("digest.done %s", q.Body)
		}
		if strings.HasPrefix(e.Type, "alert.") && e.Data["id"] != alertID {
			t.Errorf("%s %s", e.Type, q.Body)
		}
	}
	for _, k := range []string{"subscriber.confirmed ana@example.org", "subscriber.confirmed chloe@example.org", "subscriber.erased",
		"digest.done", "alert.sent", "alert.done"} {
		if counts[k] != 1 {
			t.Errorf("%s received %d times, want once (all: %v)", k, counts[k], counts)
		}
	}
	// Bruno's confirmation went out before his erasure, which scrubbed it
	// if it was still queued: either way, once, and before.
	if counts["subscriber.confirmed bruno@example.org"]+counts["subscriber.confirmed"] != 1 {
		t.Errorf("bruno's confirmation: %v", counts)
	}
	for id, types := range order {
		if slices.Contains(types, "subscriber.erased") && !slices.Equal(types, []string{"subscriber.confirmed", "subscriber.erased"}) {
			t.Errorf("subscriber %s: events in the order %v", id, types)
		}
	}
	t.Logf("%d events, %d requests, %d duplicate deliveries (at least once, deduplicated by webhook-id)", want, len(rcv.Requests()), dups)

	// The reference implementation verifies every message, failed
	// attempts and duplicates included.
	all := rcv.Requests()
	for i, v := range webhooktest.Verify(t, created.Secret, all) {
		if v.Error != "" {
			t.Errorf("request %d (%s) refused by standardwebhooks: %s", i, all[i].Header.Get("webhook-id"), v.Error)
		}
	}

	// The desk shows the delivery log, and sends a test event.
	adm := login(t, f.p, "chef@gazette.example", "admin")
	_, list := adm.get("/admin/webhooks")
	if !strings.Contains(list, rcv.URL()) {
		t.Fatalf("the desk does not list the endpoint:\n%.3000s", list)
	}
	_, page := adm.get("/admin/webhooks/" + created.ID)
	for _, s := range []string{"subscriber.erased", "HTTP 500", "204", "id=\"webhook-log\""} {
		if !strings.Contains(page, s) {
			t.Errorf("the endpoint's log lacks %q", s)
		}
	}
	n := len(rcv.Requests())
	if resp, _ := adm.post(page, "/admin/webhooks/"+created.ID+"/test", url.Values{}); resp.StatusCode != 200 {
		t.Fatalf("send a test event: %d", resp.StatusCode)
	}
	e2etest.WaitFor(t, 10*time.Second, "the test event", func() bool { return len(rcv.Requests()) > n })
	if e := decodeHook(t, rcv.Requests()[n]); e.Type != "webhook.test" {
		t.Fatalf("test event %+v", e)
	}
	if st := f.do("DELETE", "/api/v1/webhooks/"+created.ID, nil, nil); st != 204 {
		t.Fatalf("DELETE: %d", st)
	}
	if st := f.do("DELETE", "/api/v1/webhooks/"+created.ID, nil, nil); st != 404 {
		t.Fatalf("DELETE again: %d, want 404", st)
	}
}

// Without CRIEUR_WEBHOOKS_ALLOW_PRIVATE, an endpoint on loopback or a
// private network is refused (the feeds' and push services' guard).
func TestWebhookPrivateAddressRefused(t *testing.T) {
	e2etest.Parallel(t)
	f := flowSetup(t, nil)
	f.start()
	for _, u := range []string{"http://127.0.0.1:9/hooks", "https://127.0.0.1/hooks", "https://192.168.1.20/hooks", "https://[::1]/hooks"} {
		var out struct {
			Error struct{ Code string } `json:"error"`
		}
		st := f.do("POST", "/api/v1/webhooks", map[string]any{"url": u, "events": []string{"alert.done"}}, &out)
		if st != 400 || (out.Error.Code != "endpoint_not_allowed" && out.Error.Code != "invalid_input") {
			t.Errorf("%s: %d %+v, want 400", u, st, out)
		}
	}
}

// authGet is a GET with a bearer token, for reading a raw answer.
func authGet(t *testing.T, u, token string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

// TestWebhooksAcrossInstances: two instances on one PostgreSQL database
// deliver the events of readers confirmed through either of them: each
// event once, each reader's in order, none twice although both claim.
func TestWebhooksAcrossInstances(t *testing.T) {
	e2etest.Parallel(t)
	c := newCluster(t, 2)
	c.env["CRIEUR_WEBHOOKS_ALLOW_PRIVATE"] = "true"
	for i, p := range c.procs {
		p.Kill()
		c.procs[i] = e2etest.Start(t, c.env, c.dir)
	}
	rcv := webhooktest.New(t)
	rcv.SetDelay(20 * time.Millisecond) // both instances get to claim
	var created struct{ ID, Secret string }
	reg := map[string]any{"url": rcv.URL(), "events": []string{"subscriber.confirmed", "subscriber.erased"}}
	if st := c.procs[1].Do(t, "POST", "/api/v1/webhooks", c.token, reg, &created); st != 201 {
		t.Fatalf("register: %d", st)
	}
	const readers = 12
	for i := range readers {
		email := fmt.Sprintf("multi%02d@example.org", i)
		confirmTwice(t, c.smtp, c.procs, email, "fr", []string{"monde"})
		if i%3 == 0 {
			if st := c.procs[i%2].Do(t, "DELETE", "/api/v1/subscribers/"+email, c.token, nil, nil); st != 204 {
				t.Fatalf("erase: %d", st)
			}
		}
	}
	want := readers + (readers+2)/3
	got := rcv.WaitAccepted(t, want, 60*time.Second)
	time.Sleep(time.Second) // a duplicate, were there one, would show now
	got, dups := rcv.Accepted()
	if len(got) != want || dups != 0 || len(rcv.Requests()) != want {
		t.Fatalf("%d distinct events, %d duplicates, %d requests; want %d, 0, %d", len(got), dups, len(rcv.Requests()), want, want)
	}
	seen := map[string][]string{}
	for _, q := range got {
		e := decodeHook(t, q)
		id, _ := e.Data["id"].(string)
		seen[id] = append(seen[id], e.Type)
	}
	for id, types := range seen {
		if types[0] != "subscriber.confirmed" || len(types) > 2 {
			t.Errorf("subscriber %s: %v", id, types)
		}
	}
	for i, v := range webhooktest.Verify(t, created.Secret, got) {
		if v.Error != "" {
			t.Errorf("message %d: %s", i, v.Error)
		}
	}
}
