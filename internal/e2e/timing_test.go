package e2e_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/push/pushtest"
)

// e2eAlert is GET /api/v1/alerts/{id}.
type e2eAlert struct {
	State                                string
	Targeted, Delivered, Failed, Expired int
	Shown, Clicked                       int
	Priority                             string
	ApprovedBy                           string `json:"approved_by"`
	Error                                string
}

// TestApprovalAndAutomaticAlerts runs `crieur serve` with
// CRIEUR_ALERT_APPROVAL=true: an alert posted by one token waits in
// awaiting_approval, its author's approval is refused (403 forbidden),
// another token's is taken (202) and it goes out. A topic set with the CLI
// to send automatic alerts raises one from a new article, which waits for
// approval too (anyone but the article's poster may approve), then for
// its article: the article's server answers 404 (embargoed) to crieur's
// first GET and 200 to the next, ten seconds later, and only then does the
// alert go out, as a normal one. An article posted with "breaking": true
// in a topic without a rule raises one as well.
func TestApprovalAndAutomaticAlerts(t *testing.T) {
	e2etest.Parallel(t)
	dir := t.TempDir()
	env := e2etest.NewEnv(dir)
	env["CRIEUR_ALERT_APPROVAL"] = "true"
	env["CRIEUR_FEEDS_ALLOW_PRIVATE"] = "true" // the article server is on loopback
	e2etest.CLI(t, env, "", "topic", "add", "afrique", "Afrique")
	e2etest.CLI(t, env, "", "topic", "add", "politique", "Politique")
	out := e2etest.CLI(t, env, "", "alert", "auto", "topic:afrique", "--mode", "send", "--interval", "1h", "--max-age", "2h")
	if !strings.Contains(out, "topic:afrique: send, interval 1h0m0s, max age 2h0m0s") {
		t.Fatalf("alert auto printed %q", out)
	}
	if _, stderr, code := e2etest.RunCLI(t, env, "", "alert", "auto", "topic:nope", "--mode", "send"); code != 1 || !strings.Contains(stderr, "no such topic:nope") {
		t.Fatalf("rule for an unknown topic: exit %d %q", code, stderr)
	}
	cms := e2etest.Token(t, env, "cms", "editor")
	chief := e2etest.Token(t, env, "chef", "editor")
	p := e2etest.Start(t, env, dir)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("crieur log:\n%s", e2etest.Tail(p.Logs(), 6000))
		}
	})
	var key struct {
		PublicKey string `json:"public_key"`
	}
	p.Do(t, "GET", "/api/v1/push/key", "", nil, &key)
	ps := pushtest.NewServer(t, key.PublicKey)
	b := pushtest.NewBrowser()
	if code := p.Do(t, "POST", "/api/v1/push/subscriptions", "", map[string]any{"subscription": map[string]any{"endpoint": ps.Endpoint(b),
		"keys": map[string]string{"p256dh": b.P256dh, "auth": b.Auth}}, "lang": "fr", "timezone": "Africa/Dakar"}, nil); code != 201 {
		t.Fatalf("push subscription: %d", code)
	}
	get := func(id string) e2eAlert {
		t.Helper()
		var a e2eAlert
		if code := p.Do(t, "GET", "/api/v1/alerts/"+id, cms, nil, &a); code != 200 {
			t.Fatalf("GET alert %s: %d", id, code)
		}
		return a
	}
	approve := func(id, token string) (int, string) {
		t.Helper()
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		code := p.Do(t, "POST", "/api/v1/alerts/"+id+"/approve", token, nil, &e)
		return code, e.Error.Code
	}
	waitDone := func(id string) e2eAlert {
		t.Helper()
		var a e2eAlert
		e2etest.WaitFor(t, 30*time.Second, "alert "+id+" done", func() bool { a = get(id); return a.State == "done" || a.State == "failed" })
		return a
	}

	// A person's alert waits for a second person.
	var created struct{ ID string }
	if code := p.Do(t, "POST", "/api/v1/alerts", cms, map[string]any{"title": "Coup d’État", "body": "L’armée a pris le pouvoir.",
		"url": "https://journal.example/coup"}, &created); code != 202 {
		t.Fatalf("POST alert: %d", code)
	}
	if a := get(created.ID); a.State != "awaiting_approval" || a.Priority != "breaking" {
		t.Fatalf("new alert %+v, want awaiting_approval and breaking", a)
	}
	if code, ec := approve(created.ID, cms); code != 403 || ec != "forbidden" {
		t.Fatalf("the author approving: %d %s, want 403 forbidden", code, ec)
	}
	time.Sleep(1500 * time.Millisecond) // more than the enqueuer's tick: a waiting alert must not go out
	if n := ps.Count(); n != 0 {
		t.Fatalf("%d pushes before approval", n)
	}
	if code, _ := approve(created.ID, chief); code != 202 {
		t.Fatalf("another token approving: %d", code)
	}
	if a := waitDone(created.ID); a.Delivered != 1 || a.ApprovedBy != "token:chef" {
		t.Fatalf("approved alert %+v", a)
	}
	if code, ec := approve(created.ID, chief); code != 409 || ec != "conflict" {
		t.Fatalf("approving again: %d %s", code, ec)
	}

	// An automatic alert whose article is embargoed at first.
	var gets atomic.Int32
	art := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gets.Add(1) == 1 {
			http.Error(w, "embargo", http.StatusNotFound)
			return
		}
		w.Write([]byte("<html><title>Élections</title></html>"))
	}))
	t.Cleanup(art.Close)
	url := art.URL + "/2026/12/07/elections"
	if code := p.Do(t, "POST", "/api/v1/articles", cms, map[string]any{"url": url, "title": "Élections : le second tour fixé",
		"summary": "La commission a tranché.", "topics": []string{"afrique"}, "published_at": time.Now().Add(-time.Minute).Format(time.RFC3339)}, nil); code != 201 {
		t.Fatalf("POST article: %d", code)
	}
	auto := waitAlertFor(t, p, cms, url)
	if a := get(auto); a.State != "awaiting_approval" || a.Priority != "normal" {
		t.Fatalf("automatic alert %+v, want awaiting_approval and normal", a)
	}
	if code, ec := approve(auto, cms); code != 403 || ec != "forbidden" {
		t.Fatalf("the article's poster approving its automatic alert: %d %s, want 403 forbidden", code, ec)
	}
	if code, _ := approve(auto, chief); code != 202 {
		t.Fatalf("approving an automatic alert: %d", code)
	}
	// The 404 is recorded on the alert (after the GET returns, so wait
	// for it rather than for the GET).
	e2etest.WaitFor(t, 10*time.Second, "the article's 404 recorded", func() bool { return strings.Contains(get(auto).Error, "404") })
	if a := get(auto); a.Targeted != 0 || gets.Load() != 1 || ps.Count() != 1 {
		t.Fatalf("after a 404 the alert is %+v (GETs %d, pushes %d): it must wait", a, gets.Load(), ps.Count())
	}
	if a := waitDone(auto); a.State != "done" || a.Delivered != 1 || gets.Load() != 2 {
		t.Fatalf("automatic alert %+v after %d GETs, want done and delivered after the second", a, gets.Load())
	}
	var payload struct{ URL, Title string }
	msgs := ps.Received()
	if err := json.Unmarshal(msgs[len(msgs)-1].Payload, &payload); err != nil || payload.URL != url || payload.Title != "Élections : le second tour fixé" {
		t.Fatalf("automatic alert payload %+v %v", payload, err)
	}

	// "breaking": true in a topic without a rule raises one too.
	if code := p.Do(t, "POST", "/api/v1/articles", cms, map[string]any{"url": "https://journal.example/breaking", "title": "Séisme",
		"topics": []string{"politique"}, "published_at": time.Now().Format(time.RFC3339), "breaking": true}, nil); code != 201 {
		t.Fatalf("POST breaking article: %d", code)
	}
	if a := get(waitAlertFor(t, p, cms, "https://journal.example/breaking")); a.State != "awaiting_approval" {
		t.Fatalf("breaking article's alert %+v", a)
	}
}

// waitAlertFor waits for an alert whose URL is url and returns its id.
func waitAlertFor(t *testing.T, p *e2etest.Proc, token, url string) string {
	t.Helper()
	db := e2etest.OpenDB(t, p.Env)
	var id string
	e2etest.WaitFor(t, 10*time.Second, "an automatic alert for "+url, func() bool {
		return db.QueryRow("SELECT CAST(id AS TEXT) FROM alerts WHERE url = ? AND created_by = 'auto'", url).Scan(&id) == nil
	})
	return id
}

// TestHeldAlertSurvivesKill: a normal alert held for a browser in its
// quiet hours survives `kill -9` of `crieur serve`: the restarted daemon
// sends it when the quiet hours end (the first minute boundary at least
// 30 s away, in the browser's zone Asia/Kathmandu, UTC+05:45), not before,
// once, with the TTL left; a browser without quiet hours got it at once.
func TestHeldAlertSurvivesKill(t *testing.T) {
	e2etest.ParallelWaiting(t)
	dir := t.TempDir()
	env := e2etest.NewEnv(dir)
	token := e2etest.Token(t, env, "cms", "editor")
	p := e2etest.Start(t, env, dir)
	var key struct {
		PublicKey string `json:"public_key"`
	}
	p.Do(t, "GET", "/api/v1/push/key", "", nil, &key)
	ps := pushtest.NewServer(t, key.PublicKey)
	kathmandu, err := time.LoadLocation("Asia/Kathmandu")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	end := now.Add(30 * time.Second).Truncate(time.Minute).Add(time.Minute)
	quiet := map[string]string{"from": now.Add(-time.Hour).In(kathmandu).Format("15:04"), "to": end.In(kathmandu).Format("15:04")}
	var nightEndpoint string
	for _, b := range []struct {
		br    *pushtest.Browser
		quiet map[string]string
	}{{pushtest.NewBrowser(), quiet}, {pushtest.NewBrowser(), nil}} {
		ep := ps.Endpoint(b.br)
		if b.quiet != nil {
			nightEndpoint = ep
		}
		body := map[string]any{"subscription": map[string]any{"endpoint": ep, "keys": map[string]string{"p256dh": b.br.P256dh, "auth": b.br.Auth}},
			"lang": "fr", "timezone": "Asia/Kathmandu"}
		if b.quiet != nil {
			body["quiet_hours"] = b.quiet
		}
		if code := p.Do(t, "POST", "/api/v1/push/subscriptions", "", body, nil); code != 201 {
			t.Fatalf("push subscription: %d", code)
		}
	}
	var created struct{ ID string }
	if code := p.Do(t, "POST", "/api/v1/alerts", token, map[string]any{"title": "Budget", "body": "Adopté", "url": "https://journal.example/budget",
		"priority": "normal"}, &created); code != 202 {
		t.Fatalf("POST alert: %d", code)
	}
	sentAt := time.Now()
	e2etest.WaitFor(t, 10*time.Second, "one delivered, one held", func() bool {
		var a e2eAlert
		p.Do(t, "GET", "/api/v1/alerts/"+created.ID, token, nil, &a)
		return a.Delivered == 1 && a.State == "sending" && ps.Count() == 1
	})
	p.Kill()
	if time.Now().After(end) {
		t.Fatal("too slow: the quiet hours ended before the kill")
	}
	p = e2etest.Start(t, env, dir)
	var a e2eAlert
	e2etest.WaitFor(t, 100*time.Second, "the held alert sent", func() bool {
		p.Do(t, "GET", "/api/v1/alerts/"+created.ID, token, nil, &a)
		return a.State == "done"
	})
	if a.Delivered != 2 || a.Expired != 0 || ps.Count() != 2 {
		t.Fatalf("after the restart: %+v, %d pushes", a, ps.Count())
	}
	msgs := ps.Received()
	last := msgs[len(msgs)-1]
	if last.Endpoint != nightEndpoint || last.TTL > time.Hour-end.Sub(sentAt)+time.Second {
		t.Fatalf("held message to %s with TTL %v, want %s with the hour less %v", last.Endpoint, last.TTL, nightEndpoint, end.Sub(sentAt))
	}
	var sentRow int64
	db := e2etest.OpenDB(t, env)
	if err := db.QueryRow("SELECT sent_at FROM push_deliveries WHERE state = 'sent'").Scan(&sentRow); err != nil {
		t.Fatal(err)
	}
	if at := time.UnixMilli(sentRow); at.Before(end) {
		t.Fatalf("the held message went out at %v, before the quiet hours ended at %v", at, end)
	}
}

// TestCLINormalAlertDoesNotWaitForQuietHours: `crieur alert send
// --priority normal` returns once only held messages are left, saying so,
// rather than waiting for readers' mornings.
func TestCLINormalAlertDoesNotWaitForQuietHours(t *testing.T) {
	e2etest.Parallel(t)
	dir := t.TempDir()
	env := e2etest.NewEnv(dir)
	p := e2etest.Start(t, env, dir)
	var key struct {
		PublicKey string `json:"public_key"`
	}
	p.Do(t, "GET", "/api/v1/push/key", "", nil, &key)
	ps := pushtest.NewServer(t, key.PublicKey)
	now := time.Now().UTC()
	for i, quiet := range []bool{true, false} {
		b := pushtest.NewBrowser()
		body := map[string]any{"subscription": map[string]any{"endpoint": ps.Endpoint(b), "keys": map[string]string{"p256dh": b.P256dh, "auth": b.Auth}},
			"lang": "fr", "timezone": "UTC"}
		if quiet {
			// Ending within the alert's hour: held, not expired.
			body["quiet_hours"] = map[string]string{"from": now.Add(-time.Hour).Format("15:04"), "to": now.Add(30 * time.Minute).Format("15:04")}
		}
		if code := p.Do(t, "POST", "/api/v1/push/subscriptions", "", body, nil); code != 201 {
			t.Fatalf("push subscription %d: %d", i, code)
		}
	}
	start := time.Now()
	stdout, stderr, code := e2etest.RunCLI(t, env, "", "alert", "send", "--title", "Budget", "--body", "Adopté", "--url", "https://journal.example/b", "--priority", "normal")
	if code != 0 || strings.TrimSpace(stdout) == "" || !strings.Contains(stderr, "delivered 1") || !strings.Contains(stderr, "1 wait in the queue (quiet hours)") {
		t.Fatalf("alert send: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("alert send took %v", d)
	}
}
