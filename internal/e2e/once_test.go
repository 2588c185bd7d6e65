package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/push/pushtest"
	"github.com/crieur/crieur/internal/store/pgtest"
)

// onceCluster is two `crieur serve` sharing one database, a push service
// and a few browsers, to prove that an alert asked for twice at once (one
// request to each instance) goes out once.
type onceCluster struct {
	env      e2etest.Env
	procs    [2]*e2etest.Proc
	push     *pushtest.Server
	token    string
	browsers int
	session  string // Cookie header of the editor's session
}

const onceUser, oncePassword = "redaction@journal.example", "une phrase de passe assez longue"

func newOnceCluster(t *testing.T, dbURL string) *onceCluster {
	t.Helper()
	dir := t.TempDir()
	priv, pub, err := push.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	c := &onceCluster{env: e2etest.NewEnv(dir), push: pushtest.NewServer(t, pub), browsers: 3}
	c.env["CRIEUR_SECRET_KEY"] = "once-test-secret-key-0123456789-abcdef"
	c.env["CRIEUR_VAPID_PRIVATE_KEY"], c.env["CRIEUR_VAPID_PUBLIC_KEY"] = priv, pub
	c.env["CRIEUR_LOG_LEVEL"] = "info"
	if dbURL != "" {
		c.env["CRIEUR_DATABASE_URL"] = dbURL
	}
	e2etest.CLI(t, c.env, "", "migrate")
	e2etest.CLI(t, c.env, "", "topic", "add", "monde", "Monde")
	e2etest.CLI(t, c.env, oncePassword+"\n", "user", "add", "--email", onceUser, "--role", "editor")
	c.token = e2etest.Token(t, c.env, "cms", "editor")
	for i := range c.procs {
		c.procs[i] = e2etest.Start(t, c.env, dir)
	}
	for range c.browsers {
		b := pushtest.NewBrowser()
		e2etest.SubscribePush(t, c.procs[0], c.token, b.P256dh, b.Auth, []string{c.push.Endpoint(b)}, []string{"monde"})
	}
	return c
}

// sendForm posts a form with the cookie header given, keeps the session
// cookie it may set, and returns the status, Location and body.
func (c *onceCluster) sendForm(t *testing.T, u, cookie string, form url.Values) (int, string, []byte) {
	t.Helper()
	st, loc, body := c.send(t, "POST", u, map[string]string{"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
		[]byte(form.Encode()))
	return st, loc, body
}

// send makes one request and returns its status, Location and body; it
// does not follow redirects, and keeps the session cookie it may set.
func (c *onceCluster) send(t *testing.T, method, u string, hdr map[string]string, body []byte) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := e2etest.HTTPClient()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, u, err)
		return 0, "", nil
	}
	defer resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == "crieur_admin" && ck.Value != "" {
			c.session = ck.Name + "=" + ck.Value
		}
	}
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), raw
}

// postAlert posts an alert with an Idempotency-Key and returns the status
// and the id or error code.
func (c *onceCluster) postAlert(t *testing.T, p *e2etest.Proc, token, key string, alert map[string]any) (int, string) {
	t.Helper()
	body, _ := json.Marshal(alert)
	st, _, raw := c.send(t, "POST", p.URL+"/api/v1/alerts",
		map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json", "Idempotency-Key": key}, body)
	var out struct {
		ID    string
		Error struct{ Code string }
	}
	_ = json.Unmarshal(raw, &out)
	return st, out.ID + out.Error.Code
}

// atOnce runs f against each of procs at the same moment.
func atOnce[T any](f func(p *e2etest.Proc) T, procs ...*e2etest.Proc) []T {
	out := make([]T, len(procs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, p := range procs {
		wg.Go(func() {
			<-start
			out[i] = f(p)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// checkOnce waits for the alerts' pushes and checks that each browser got
// each alert exactly once.
func (c *onceCluster) checkOnce(t *testing.T, alerts int) {
	if n := e2etest.Count(t, c.env, "SELECT COUNT(*) FROM alerts"); n != alerts {
		t.Errorf("%d alerts stored, want %d", n, alerts)
	}
	want := alerts * c.browsers
	e2etest.WaitFor(t, 30*time.Second, "every browser to get every alert", func() bool { return c.push.Count() >= want })
	if n := e2etest.Settle(c.push.Count); n != want {
		t.Errorf("push service got %d messages, want %d (%d alerts to %d browsers)", n, want, alerts, c.browsers)
	}
	seen := map[string]int{}
	for _, r := range c.push.Received() {
		var p pushPayload
		if err := json.Unmarshal(r.Payload, &p); err != nil {
			t.Fatal(err)
		}
		seen[r.Endpoint+" "+p.AlertID]++
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s: got the alert %d times", k, n)
		}
	}
}

// TestAlertIdempotentTwoInstances: ten rounds of the composer's
// confirmation posted three times at once (twice to one instance, once to
// the other), then ten rounds of the same with one API Idempotency-Key:
// one alert per round, and each browser gets it once. The same key with another body is
// refused, another token's key is its own, and a key reused after 24 hours
// makes a new alert. On PostgreSQL and on one SQLite file.
func TestAlertIdempotentTwoInstances(t *testing.T) {
	e2etest.Parallel(t)
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			url := ""
			if db == "postgres" {
				url = pgtest.URL(t)
			}
			c := newOnceCluster(t, url)
			alerts := c.deskRounds(t, 10)
			alerts += c.apiRounds(t, 10)
			c.checkOnce(t, alerts)
		})
	}
}

// apiRounds posts rounds alerts, each three times at once with one key, checks
// the key's edges and returns how many alerts were made.
func (c *onceCluster) apiRounds(t *testing.T, rounds int) int {
	alert := func(round int) map[string]any {
		return map[string]any{"title": fmt.Sprint("Alerte ", round), "body": "Séisme", "url": "https://n.test/alerte", "topics": []string{"monde"}}
	}
	ids := map[string]bool{}
	for round := range rounds {
		key := fmt.Sprint("cms-article-", round)
		got := atOnce(func(p *e2etest.Proc) string {
			st, id := c.postAlert(t, p, c.token, key, alert(round))
			return fmt.Sprint(st, " ", id)
		}, c.procs[0], c.procs[1], c.procs[0])
		if got[0] != got[1] || got[0] != got[2] || !strings.HasPrefix(got[0], "202 ") {
			t.Errorf("round %d: instances 1, 2, 1 answered %q; want 202 and the same id", round, got)
		}
		for _, g := range got {
			ids[strings.TrimPrefix(g, "202 ")] = true
		}
	}
	if len(ids) != rounds {
		t.Errorf("%d rounds made %d alerts: %v", rounds, len(ids), ids)
	}
	// A later repeat answers the first alert.
	if st, id := c.postAlert(t, c.procs[1], c.token, "cms-article-0", alert(0)); st != 202 || !ids[id] {
		t.Errorf("repeat: %d %s; want 202 and the first alert", st, id)
	}
	// The same key for another alert is refused.
	if st, code := c.postAlert(t, c.procs[0], c.token, "cms-article-0", alert(99)); st != 409 || code != "idempotency_conflict" {
		t.Errorf("same key, other body: %d %s; want 409 idempotency_conflict", st, code)
	}
	// A key that is not 1 to 255 visible characters is refused.
	if st, code := c.postAlert(t, c.procs[0], c.token, "two words", alert(0)); st != 400 || code != "invalid_input" {
		t.Errorf("key with a space: %d %s; want 400 invalid_input", st, code)
	}
	// Another token's key is its own.
	other := e2etest.Token(t, c.env, "cms-2", "editor")
	if st, id := c.postAlert(t, c.procs[0], other, "cms-article-0", alert(0)); st != 202 || ids[id] {
		t.Errorf("other token, same key: %d %s; want 202 and a new alert", st, id)
	}
	// After 24 hours the key makes a new alert.
	db := e2etest.OpenDB(t, c.env)
	defer db.Close()
	if _, err := db.Exec("UPDATE alert_idempotency SET created_at = created_at - 90000000 WHERE idem_key = 'cms-article-1'"); err != nil {
		t.Fatal(err)
	}
	if st, id := c.postAlert(t, c.procs[1], c.token, "cms-article-1", alert(1)); st != 202 || ids[id] {
		t.Errorf("key reused after 24 h: %d %s; want 202 and a new alert", st, id)
	}
	return rounds + 2
}

var (
	csrfField  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	nonceField = regexp.MustCompile(`name="nonce" value="([^"]+)"`)
)

// deskRounds logs in to the composer, and rounds times confirms an alert
// and posts the confirmation to both instances at once; it returns how
// many alerts were made.
func (c *onceCluster) deskRounds(t *testing.T, rounds int) int {
	p0 := c.procs[0]
	_, _, page := c.send(t, "GET", p0.URL+"/admin/login", nil, nil)
	m := csrfField.FindSubmatch(page)
	if m == nil {
		t.Fatalf("login page without CSRF token")
	}
	form := url.Values{"email": {onceUser}, "password": {oncePassword}, "csrf": {string(m[1])}}
	st, _, _ := c.sendForm(t, p0.URL+"/admin/login", "crieur_admin_login="+string(m[1]), form)
	if st != http.StatusSeeOther || c.session == "" {
		t.Fatalf("login: %d", st)
	}
	_, _, page = c.send(t, "GET", p0.URL+"/admin/alerts/new", map[string]string{"Cookie": c.session}, nil)
	if m = csrfField.FindSubmatch(page); m == nil {
		t.Fatalf("composer without CSRF token")
	}
	csrf := string(m[1])
	ids := map[string]bool{}
	for round := range rounds {
		form := url.Values{"csrf": {csrf}, "title": {fmt.Sprint("Alerte du bureau ", round)}, "body": {"Séisme"},
			"url": {"https://n.test/bureau"}, "topics": {"monde"}, "urgency": {"high"}, "ttl": {"3600"}}
		st, _, confirm := c.sendForm(t, c.procs[round%2].URL+"/admin/alerts/confirm", c.session, form)
		n := nonceField.FindSubmatch(confirm)
		if st != 200 || n == nil {
			t.Fatalf("round %d: confirm: %d", round, st)
		}
		form.Set("confirmed", "1")
		form.Set("nonce", string(n[1]))
		got := atOnce(func(p *e2etest.Proc) string {
			st, loc, _ := c.sendForm(t, p.URL+"/admin/alerts", c.session, form)
			return fmt.Sprint(st, " ", loc)
		}, c.procs[0], c.procs[1], c.procs[0])
		if got[0] != got[1] || got[0] != got[2] || !strings.HasPrefix(got[0], "303 /admin/alerts/") {
			t.Errorf("round %d: instances 1, 2, 1 answered %q; want 303 to the same alert", round, got)
		}
		for _, g := range got {
			ids[g] = true
		}
	}
	if len(ids) != rounds {
		t.Errorf("%d rounds made %d alerts: %v", rounds, len(ids), ids)
	}
	return rounds
}
