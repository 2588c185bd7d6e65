package e2e_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// prefsURL finds a preference link in a page or an email.
var prefsURL = regexp.MustCompile(`https?://[^\s"<>]+/preferences/[A-Za-z0-9_-]+`)

// cspNonce reads the script nonce of a Content-Security-Policy.
var cspNonce = regexp.MustCompile(`script-src 'nonce-([A-Za-z0-9_-]+)'`)

// nthMail waits for the n-th email (from 1) to rcpt and returns it.
func nthMail(t *testing.T, sink *mailtest.Server, rcpt string, n int) mailtest.Msg {
	t.Helper()
	var m mailtest.Msg
	e2etest.WaitFor(t, 15*time.Second, "email "+strconv.Itoa(n)+" to "+rcpt, func() bool {
		ms := byRcpt(sink.Messages())[rcpt]
		if len(ms) >= n {
			m = ms[n-1]
			return true
		}
		return false
	})
	return m
}

// askConfirmation subscribes email through the API and returns the
// confirmation link of the email that follows.
func askConfirmation(t *testing.T, p *e2etest.Proc, sink *mailtest.Server, email string) string {
	t.Helper()
	if r := subscribeJSON(t, p, map[string]any{"email": email, "topics": []string{"afrique"}, "frequency": "daily", "lang": "fr"}); r.status != 202 {
		t.Fatalf("subscribe %s: %d %s", email, r.status, r.body)
	}
	link := confirmURL.FindString(nthMail(t, sink, email, 1).Text())
	if link == "" {
		t.Fatal("no confirmation link in the confirmation email")
	}
	return link
}

// confirmByPost confirms through the link's form, as the page's script
// does, and returns the preference link the confirmed page offers.
func confirmByPost(t *testing.T, link string) string {
	t.Helper()
	r := rawDo(t, "POST", link, "", nil)
	prefs := prefsURL.FindString(string(r.body))
	if r.status != 200 || prefs == "" {
		t.Fatalf("POST confirm link: %d, preference link %q", r.status, prefs)
	}
	return prefs
}

// TestConfirmNeedsPost is what a mail security gateway does to a
// confirmation email: it fetches the link (HEAD, GET, again). The reader
// stays pending and gets no digest; the page's form, posted as its script
// posts it, confirms.
func TestConfirmNeedsPost(t *testing.T) {
	e2etest.Parallel(t)
	sink := mailtest.NewServer(t)
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL()}, "afrique")
	p := f.start()
	f.article("senegal", "Élections au Sénégal", []string{"afrique"}, time.Now().Add(-time.Hour))
	const email = "lectrice@example.org"
	link := askConfirmation(t, p, sink, email)

	for _, method := range []string{"HEAD", "GET", "GET"} {
		if r := rawDo(t, method, link, "", nil); r.status != 200 {
			t.Fatalf("%s confirm link: %d", method, r.status)
		}
	}
	if s, _ := f.subscriber(email); s.Status != "pending" {
		t.Fatalf("after GET and HEAD of the confirm link: %q, want pending", s.Status)
	}
	r := rawDo(t, "GET", link, "", nil)
	m := cspNonce.FindStringSubmatch(r.header.Get("Content-Security-Policy"))
	if m == nil {
		t.Fatalf("CSP %q allows no script by nonce", r.header.Get("Content-Security-Policy"))
	}
	body := string(r.body)
	action := `action="` + strings.TrimPrefix(link, p.URL) + `"`
	for _, want := range []string{`<script nonce="` + m[1] + `">`, `method="post"`, action, `<button type="submit">`} {
		if !strings.Contains(body, want) {
			t.Errorf("confirm page lacks %s:\n%s", want, body)
		}
	}
	if run := f.waitRun(f.runDigest("daily"), 30*time.Second); run.Recipients != 0 {
		t.Errorf("digest run after GETs: %d recipients, want 0 (the reader never confirmed)", run.Recipients)
	}

	confirmByPost(t, link)
	if s, _ := f.subscriber(email); s.Status != "confirmed" {
		t.Fatalf("after POST: %q, want confirmed", s.Status)
	}
	if run := f.waitRun(f.runDigest("daily"), 30*time.Second); run.Recipients != 1 || run.Sent != 1 {
		t.Errorf("digest run after POST: %+v, want the reader", run)
	}
	// Twice is harmless.
	confirmByPost(t, link)
}

// TestSignOutEverywhere follows a reader's links on a real daemon: the
// unsubscribe page holds no preference link but emails it; "sign out
// everywhere" turns the old preference link into a 410 and emails a new
// one that works; the old unsubscribe link still unsubscribes.
func TestSignOutEverywhere(t *testing.T) {
	e2etest.Parallel(t)
	sink := mailtest.NewServer(t)
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL()}, "afrique")
	p := f.start()
	f.article("senegal", "Élections au Sénégal", []string{"afrique"}, time.Now().Add(-time.Hour))
	const email = "lectrice@example.org"
	oldPrefs := confirmByPost(t, askConfirmation(t, p, sink, email))
	f.waitRun(f.runDigest("daily"), 30*time.Second)
	unsub := strings.Trim(nthMail(t, sink, email, 2).Header("List-Unsubscribe"), "<>")
	if !strings.Contains(unsub, "/unsubscribe/") {
		t.Fatalf("digest List-Unsubscribe %q", unsub)
	}

	// The unsubscribe page: whoever sees the header sees this page.
	r := rawDo(t, "GET", unsub, "", nil)
	if r.status != 200 || strings.Contains(string(r.body), "/preferences/") {
		t.Fatalf("unsubscribe page: %d; it must hold no preference link:\n%s", r.status, r.body)
	}
	if !strings.Contains(string(r.body), `action="`+strings.TrimPrefix(unsub, p.URL)+`/link`) {
		t.Errorf("unsubscribe page offers no \"email me my preferences link\":\n%s", r.body)
	}
	if r := rawDo(t, "POST", unsub+"/link", "", nil); r.status != 200 || strings.Contains(string(r.body), "/preferences/") {
		t.Fatalf("POST email-me-my-link: %d\n%s", r.status, r.body)
	}
	mailed := prefsURL.FindString(nthMail(t, sink, email, 3).Text())
	if mailed == "" {
		t.Fatal("the preference-link email holds no preference link")
	}
	if r := rawDo(t, "GET", mailed, "", nil); r.status != 200 || !strings.Contains(string(r.body), email) {
		t.Fatalf("mailed preference link: %d", r.status)
	}

	// Sign out everywhere.
	if r := rawDo(t, "POST", oldPrefs+"/signout", "application/x-www-form-urlencoded", nil); r.status != 200 {
		t.Fatalf("sign out everywhere: %d\n%s", r.status, r.body)
	}
	newPrefs := prefsURL.FindString(nthMail(t, sink, email, 4).Text())
	if newPrefs == "" || newPrefs == oldPrefs {
		t.Fatalf("after sign out, emailed link %q (old %q)", newPrefs, oldPrefs)
	}
	for _, c := range []struct{ method, url string }{
		{"GET", oldPrefs}, {"GET", oldPrefs + "/data"}, {"POST", oldPrefs + "/erase"}, {"POST", oldPrefs + "/signout"}, {"GET", mailed},
	} {
		r := rawDo(t, c.method, c.url, "application/x-www-form-urlencoded", []byte("confirm=yes"))
		if r.status != 410 || strings.Contains(string(r.body), email) || !strings.Contains(string(r.body), "Ce lien ne fonctionne plus") {
			t.Errorf("%s old link %s: %d, want 410 saying the link no longer works, without the address", c.method, c.url[strings.LastIndex(c.url, "/"):], r.status)
		}
	}
	if s, st := f.subscriber(email); st != 200 || s.Status != "confirmed" {
		t.Fatalf("after old links were used: %d %+v", st, s)
	}
	if r := rawDo(t, "GET", newPrefs, "", nil); r.status != 200 || !strings.Contains(string(r.body), email) {
		t.Fatalf("new preference link: %d", r.status)
	}

	// A revoked generation still unsubscribes (RFC 8058 one-click).
	if r := rawDo(t, "GET", unsub, "", nil); r.status != 200 {
		t.Errorf("old unsubscribe page: %d, want 200", r.status)
	}
	if r := rawDo(t, "POST", unsub, "application/x-www-form-urlencoded", []byte("List-Unsubscribe=One-Click")); r.status != 200 {
		t.Errorf("old one-click unsubscribe: %d", r.status)
	}
	if s, _ := f.subscriber(email); s.Status != "unsubscribed" {
		t.Errorf("after one-click with a revoked link: %q, want unsubscribed", s.Status)
	}
}

// TestAdminRevokesLinks has an admin revoke a reader's links from the
// desk: the reader's preference link answers 410 and the action is in
// the audit log.
func TestAdminRevokesLinks(t *testing.T) {
	e2etest.Parallel(t)
	sink := mailtest.NewServer(t)
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL()}, "afrique")
	const password = "une phrase de passe assez longue"
	e2etest.CLI(t, f.env, password+"\n", "user", "add", "--email", "chef@gazette.example", "--role", "admin")
	p := f.start()
	const email = "lectrice@example.org"
	prefs := confirmByPost(t, askConfirmation(t, p, sink, email))
	if r := rawDo(t, "GET", prefs, "", nil); r.status != 200 {
		t.Fatalf("preference link: %d", r.status)
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: time.Minute}
	page := func(method, path string, form url.Values) string {
		t.Helper()
		var resp *http.Response
		var err error
		if method == "GET" {
			resp, err = c.Get(p.URL + path)
		} else {
			resp, err = c.PostForm(p.URL+path, form)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
		}
		return string(b)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	login := page("GET", "/admin/login", nil)
	page("POST", "/admin/login", url.Values{"email": {"chef@gazette.example"}, "password": {password}, "csrf": {csrf.FindStringSubmatch(login)[1]}})
	id := strconv.Itoa(e2etest.Count(t, f.env, "SELECT id FROM subscribers WHERE email = '"+email+"'"))
	reader := page("GET", "/admin/readers/"+id, nil)
	if !strings.Contains(reader, `action="/admin/readers/`+id+`/revoke"`) {
		t.Fatalf("the reader's page has no revoke form:\n%s", reader)
	}
	page("POST", "/admin/readers/"+id+"/revoke", url.Values{"csrf": {csrf.FindStringSubmatch(reader)[1]}})

	if r := rawDo(t, "GET", prefs, "", nil); r.status != 410 {
		t.Errorf("preference link after the admin's revocation: %d, want 410", r.status)
	}
	if n := e2etest.Count(t, f.env, "SELECT COUNT(*) FROM audit_log WHERE action = 'subscriber.revoke_links' AND target = '"+id+"' AND actor LIKE '%chef@gazette.example%'"); n != 1 {
		t.Errorf("audit log holds %d revocations of reader %s by the admin, want 1", n, id)
	}
}
