package e2e_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/push/pushtest"
)

// TestArticlePosterCannotApproveItsAlert runs `crieur serve` with
// CRIEUR_ALERT_APPROVAL=true and attacks it with one editor token alone:
// an article posted with "breaking": true raises an automatic alert made
// of the editor's own title, text and URL, and that same token approving
// it would send it to every reader without a second person. So would
// flagging breaking an article someone else (or a feed) posted. Both are
// refused (403 forbidden) and another token's approval is taken, the audit
// log naming the approver and the article's poster.
func TestArticlePosterCannotApproveItsAlert(t *testing.T) {
	e2etest.Parallel(t)
	dir := t.TempDir()
	env := e2etest.NewEnv(dir)
	env["CRIEUR_ALERT_APPROVAL"] = "true"
	e2etest.CLI(t, env, "", "topic", "add", "monde", "Monde")
	rogue := e2etest.Token(t, env, "rogue", "editor")
	chief := e2etest.Token(t, env, "chef", "editor")
	p := e2etest.Start(t, env, dir)
	approve := func(id, token string) (int, string) {
		t.Helper()
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		code := p.Do(t, "POST", "/api/v1/alerts/"+id+"/approve", token, nil, &e)
		return code, e.Error.Code
	}
	post := func(token, guid, url string, breaking bool) {
		t.Helper()
		if code := p.Do(t, "POST", "/api/v1/articles", token, map[string]any{"guid": guid, "url": url, "title": "Faux séisme",
			"topics": []string{"monde"}, "published_at": time.Now().Format(time.RFC3339), "breaking": breaking}, nil); code != 201 && code != 200 {
			t.Fatalf("POST article %s: %d", guid, code)
		}
	}

	// The rogue editor's own breaking article.
	post(rogue, "a1", "https://journal.example/faux-seisme", true)
	auto := waitAlertFor(t, p, rogue, "https://journal.example/faux-seisme")
	if code, ec := approve(auto, rogue); code != 403 || ec != "forbidden" {
		t.Fatalf("the article's poster approving its automatic alert: %d %s, want 403 forbidden", code, ec)
	}

	// The chief's ordinary article, flagged breaking by the rogue editor.
	post(chief, "a2", "https://journal.example/budget", false)
	post(rogue, "a2", "https://journal.example/budget", true)
	flagged := waitAlertFor(t, p, rogue, "https://journal.example/budget")
	if code, ec := approve(flagged, rogue); code != 403 || ec != "forbidden" {
		t.Fatalf("who flagged the article breaking approving its alert: %d %s, want 403 forbidden", code, ec)
	}
	for _, id := range []string{auto, flagged} {
		var a e2eAlert
		p.Do(t, "GET", "/api/v1/alerts/"+id, chief, nil, &a)
		if a.State != "awaiting_approval" {
			t.Fatalf("alert %s is %s after its poster's approval, want awaiting_approval", id, a.State)
		}
	}
	if code, _ := approve(auto, chief); code != 202 {
		t.Fatalf("another token approving: %d", code)
	}
	rows := e2etest.Column(t, env, "SELECT actor || ' ' || detail FROM audit_log WHERE action = 'alert.approve'")
	if len(rows) != 1 || !strings.HasPrefix(rows[0], "token:chef ") || !strings.Contains(rows[0], "token:rogue") {
		t.Fatalf("audit of the approval %q, want it to name the approver and the article's poster", rows)
	}
}

// TestPushEventsCountOnlyAlertsSentThere attacks POST /api/v1/push/events
// from outside: a stranger registers a browser of their own (any endpoint
// at an allowed push service will do) and reports every alert id shown
// and clicked, including an alert still awaiting approval and one sent to
// another topic's readers. Only an alert crieur actually sent to that
// browser is counted; the answer is 204 either way.
func TestPushEventsCountOnlyAlertsSentThere(t *testing.T) {
	e2etest.Parallel(t)
	dir := t.TempDir()
	env := e2etest.NewEnv(dir)
	e2etest.CLI(t, env, "", "topic", "add", "sport", "Sport")
	e2etest.CLI(t, env, "", "topic", "add", "culture", "Culture")
	cms := e2etest.Token(t, env, "cms", "editor")
	p := e2etest.Start(t, env, dir)
	var key struct {
		PublicKey string `json:"public_key"`
	}
	p.Do(t, "GET", "/api/v1/push/key", "", nil, &key)
	ps := pushtest.NewServer(t, key.PublicKey)
	stranger := pushtest.NewBrowser()
	endpoint := ps.Endpoint(stranger)
	if code := p.Do(t, "POST", "/api/v1/push/subscriptions", "", map[string]any{"subscription": map[string]any{"endpoint": endpoint,
		"keys": map[string]string{"p256dh": stranger.P256dh, "auth": stranger.Auth}}, "topics": []string{"culture"}, "lang": "fr"}, nil); code != 201 {
		t.Fatalf("push subscription: %d", code)
	}
	send := func(topic string) string {
		t.Helper()
		var created struct{ ID string }
		if code := p.Do(t, "POST", "/api/v1/alerts", cms, map[string]any{"title": "Finale", "body": "Score final",
			"url": "https://journal.example/" + topic, "topics": []string{topic}}, &created); code != 202 {
			t.Fatalf("POST alert: %d", code)
		}
		var a e2eAlert
		e2etest.WaitFor(t, 30*time.Second, "alert "+created.ID+" done", func() bool {
			p.Do(t, "GET", "/api/v1/alerts/"+created.ID, cms, nil, &a)
			return a.State == "done"
		})
		return created.ID
	}
	other := send("sport")  // never sent to the stranger's browser
	mine := send("culture") // sent to it
	for _, id := range []string{other, mine} {
		for _, typ := range []string{"shown", "clicked"} {
			if code := p.Do(t, "POST", "/api/v1/push/events", "", map[string]any{"alert_id": id, "type": typ, "endpoint": endpoint}, nil); code != 204 {
				t.Fatalf("push event %s %s: %d", id, typ, code)
			}
		}
	}
	var a e2eAlert
	p.Do(t, "GET", "/api/v1/alerts/"+other, cms, nil, &a)
	if a.Shown != 0 || a.Clicked != 0 {
		t.Fatalf("an alert never sent to the browser counted shown %d, clicked %d from its reports", a.Shown, a.Clicked)
	}
	p.Do(t, "GET", "/api/v1/alerts/"+mine, cms, nil, &a)
	if a.Shown != 1 || a.Clicked != 1 {
		t.Fatalf("the alert sent to the browser counted shown %d, clicked %d, want 1 and 1", a.Shown, a.Clicked)
	}
}

// TestSlowArticleServerHoldsNoAlertBack: automatic alerts wait for their
// article to answer a GET (10 s at most each). An editor token posting
// breaking articles (or a feed whose site is slow at the worst moment)
// whose server never answers must not hold back a person's alert posted
// just after: it goes out within seconds, not after every check.
func TestSlowArticleServerHoldsNoAlertBack(t *testing.T) {
	e2etest.Parallel(t)
	dir := t.TempDir()
	env := e2etest.NewEnv(dir)
	env["CRIEUR_FEEDS_ALLOW_PRIVATE"] = "true" // the slow server is on loopback
	e2etest.CLI(t, env, "", "topic", "add", "monde", "Monde")
	cms := e2etest.Token(t, env, "cms", "editor")
	p := e2etest.Start(t, env, dir)
	var key struct {
		PublicKey string `json:"public_key"`
	}
	p.Do(t, "GET", "/api/v1/push/key", "", nil, &key)
	ps := pushtest.NewServer(t, key.PublicKey)
	b := pushtest.NewBrowser()
	if code := p.Do(t, "POST", "/api/v1/push/subscriptions", "", map[string]any{"subscription": map[string]any{"endpoint": ps.Endpoint(b),
		"keys": map[string]string{"p256dh": b.P256dh, "auth": b.Auth}}, "lang": "fr"}, nil); code != 201 {
		t.Fatalf("push subscription: %d", code)
	}
	// A server that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	for i := range 4 {
		url := fmt.Sprintf("http://%s/lent/%d", ln.Addr(), i)
		if code := p.Do(t, "POST", "/api/v1/articles", cms, map[string]any{"url": url, "title": "Lent", "topics": []string{"monde"},
			"published_at": time.Now().Format(time.RFC3339), "breaking": true}, nil); code != 201 {
			t.Fatalf("POST article: %d", code)
		}
	}
	waitAlertFor(t, p, cms, fmt.Sprintf("http://%s/lent/3", ln.Addr()))
	time.Sleep(1500 * time.Millisecond) // the checks are under way
	var created struct{ ID string }
	start := time.Now()
	if code := p.Do(t, "POST", "/api/v1/alerts", cms, map[string]any{"title": "Séisme", "body": "Magnitude 7",
		"url": "https://journal.example/seisme"}, &created); code != 202 {
		t.Fatalf("POST alert: %d", code)
	}
	e2etest.WaitFor(t, 60*time.Second, "the person's alert delivered", func() bool {
		var a e2eAlert
		p.Do(t, "GET", "/api/v1/alerts/"+created.ID, cms, nil, &a)
		return a.Delivered == 1
	})
	if d := time.Since(start); d > 6*time.Second {
		t.Fatalf("a person's alert went out %v after it was posted, held back by the checks of slow articles", d.Round(time.Second))
	}
}

// TestArticleCheckRefusesInternalAddresses: an automatic alert's article
// is fetched once before it goes out. Articles posted by an editor token
// at loopback (by address, by name), IPv4-mapped IPv6 and the metadata
// address reach nothing: a server listening there gets no request, and
// each alert says why it waits.
func TestArticleCheckRefusesInternalAddresses(t *testing.T) {
	e2etest.Parallel(t)
	dir := t.TempDir()
	env := e2etest.NewEnv(dir)
	e2etest.CLI(t, env, "", "topic", "add", "monde", "Monde")
	cms := e2etest.Token(t, env, "cms", "editor")
	p := e2etest.Start(t, env, dir)
	var hits atomic.Int32
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(inside.Close)
	port := inside.Listener.Addr().(*net.TCPAddr).Port
	urls := []string{
		inside.URL + "/a",
		fmt.Sprintf("http://localhost:%d/b", port),
		fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/c", port),
		fmt.Sprintf("http://0.0.0.0:%d/d", port),
		"http://169.254.169.254/latest/meta-data/",
	}
	for _, u := range urls {
		if code := p.Do(t, "POST", "/api/v1/articles", cms, map[string]any{"url": u, "title": "Interne", "topics": []string{"monde"},
			"published_at": time.Now().Format(time.RFC3339), "breaking": true}, nil); code != 201 {
			t.Fatalf("POST article %s: %d", u, code)
		}
	}
	db := e2etest.OpenDB(t, p.Env)
	for _, u := range urls {
		id := waitAlertFor(t, p, cms, u)
		e2etest.WaitFor(t, 20*time.Second, "alert "+id+" refused its article", func() bool {
			var e string
			return db.QueryRow("SELECT error FROM alerts WHERE id = ?", id).Scan(&e) == nil && strings.Contains(e, "netguard")
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the server on loopback got %d requests from the article check", n)
	}
	var targeted int
	if err := db.QueryRow("SELECT COALESCE(SUM(targeted), 0) FROM alerts").Scan(&targeted); err != nil || targeted != 0 {
		t.Fatalf("alerts for internal articles targeted %d browsers (%v)", targeted, err)
	}
}
