package e2e_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
	"github.com/crieur/crieur/internal/testenv/chromiumtest"
)

var trackedLink = regexp.MustCompile(`https?://[^\s"'<>]+/r/[A-Za-z0-9_-]+`)

// clickRun is GET /api/v1/digests/runs/{id} with its clicks.
type clickRun struct {
	State         string
	Sent          int
	Clicks        int `json:"clicks"`
	ScannerClicks int `json:"scanner_clicks"`
	Clickers      int `json:"clickers"`
}

// clickFixture is a running crieur whose digest went to two readers, and
// the publisher's site the stories live on.
type clickFixture struct {
	*flow
	sink     *mailtest.Server
	site     *httptest.Server
	run      string
	articles map[string]string // id → url
	links    map[string][]string
}

func setupClicks(t *testing.T, track bool) *clickFixture {
	t.Helper()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>Story %s</title><h1>%s</h1>", r.URL.Path, r.URL.Path)
	}))
	t.Cleanup(site.Close)
	sink := mailtest.NewServer(t)
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL(), "CRIEUR_TRACK_READERS": fmt.Sprint(track)}, "monde")
	f.importCSV("readers.csv", []string{"alice@example.org,monde,daily,fr,confirmed", "bob@example.org,monde,daily,en,confirmed"})
	f.start()
	c := &clickFixture{flow: f, sink: sink, site: site, articles: map[string]string{}, links: map[string][]string{}}
	for i, title := range []string{"Élections au Sénégal", "Sommet de l’Union africaine", "Festival de Ouagadougou"} {
		var out struct{ ID string }
		u := site.URL + "/story/" + fmt.Sprint(i+1)
		body := map[string]any{"url": u, "title": title, "summary": "Résumé.", "topics": []string{"monde"},
			"published_at": time.Now().Add(-time.Duration(i+1) * time.Minute).UTC().Format(time.RFC3339)}
		if st := f.do("POST", "/api/v1/articles", body, &out); st != 201 {
			t.Fatalf("POST article: %d", st)
		}
		c.articles[out.ID] = u
	}
	c.run = f.runDigest("daily")
	if r := f.waitRun(c.run, 30*time.Second); r.State != "done" || r.Sent != 2 {
		t.Fatalf("run %+v, want done with 2 sent", r)
	}
	for rcpt, ms := range byRcpt(sink.Messages()) {
		for _, m := range ms {
			if m.Header("List-Id") == "" {
				continue
			}
			html := m.HTML()
			for _, l := range trackedLink.FindAllString(html, -1) {
				if !slices.Contains(c.links[rcpt], l) {
					c.links[rcpt] = append(c.links[rcpt], l)
				}
			}
			for _, u := range c.articles {
				if strings.Contains(html, `href="`+u) || strings.Contains(m.Text(), u) {
					t.Errorf("%s's digest links straight to %s, want it through /r/", rcpt, u)
				}
			}
		}
	}
	for _, rcpt := range []string{"alice@example.org", "bob@example.org"} {
		if len(c.links[rcpt]) != 3 {
			t.Fatalf("%s's digest has tracked links %v, want 3", rcpt, c.links[rcpt])
		}
	}
	return c
}

// waitClicks polls the run until its clicks are as wanted: the daemon
// writes them once the scanner rule's window is over.
func (c *clickFixture) waitClicks(clicks, scanner int) clickRun {
	c.t.Helper()
	var r clickRun
	e2etest.WaitFor(c.t, 20*time.Second, fmt.Sprintf("run clicks %d and scanner clicks %d", clicks, scanner), func() bool {
		r = clickRun{}
		c.do("GET", "/api/v1/digests/runs/"+c.run, nil, &r)
		return r.Clicks == clicks && r.ScannerClicks == scanner
	})
	return r
}

func noRedirect() *http.Client {
	cl := e2etest.HTTPClient()
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return cl
}

func fetch(t *testing.T, method, u, ua string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", ua)
	resp, err := noRedirect().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestClickThroughChromium: a digest's story links go through /r/, the
// same for every reader of the run (nothing in them names the reader);
// headless Chromium follows one to the story on the publisher's site; the
// run and the article count one reader's click, a HEAD and a scanner's
// fetch are counted apart, forged and altered tokens are a 400 page.
func TestClickThroughChromium(t *testing.T) {
	e2etest.Parallel(t)
	chromium := chromiumtest.Path(t)
	c := setupClicks(t, false)
	alice, bob := c.links["alice@example.org"], c.links["bob@example.org"]
	slices.Sort(alice)
	slices.Sort(bob)
	if !slices.Equal(alice, bob) {
		t.Errorf("two readers of one run got different links: %v and %v", alice, bob)
	}

	link := c.links["alice@example.org"][0]
	ctx, cancel := chromiumtest.Open(t, chromium, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatalf("chromium following %s: %v", link, err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	var article string
	for id, u := range c.articles {
		if u == location {
			article = id
		}
	}
	if article == "" || !strings.HasPrefix(title, "Story /story/") {
		t.Fatalf("chromium landed on %q (%q), want one of the run's stories %v", location, title, c.articles)
	}
	r := c.waitClicks(1, 0)
	if r.Clickers != 1 {
		t.Errorf("run %+v, want 1 clicker", r)
	}
	var a struct {
		ID     string
		URL    string
		Title  string
		Topics []string
		Clicks struct{ Email, Push int }
	}
	if st := c.do("GET", "/api/v1/articles/"+article, nil, &a); st != 200 || a.URL != location || a.Clicks.Email != 1 || a.Clicks.Push != 0 ||
		!slices.Equal(a.Topics, []string{"monde"}) {
		t.Errorf("GET article: %d %+v", st, a)
	}

	// A mail gateway's HEAD and a scanner's GET: counted apart.
	if resp := fetch(t, "HEAD", link, "Mozilla/5.0"); resp.StatusCode != 302 || resp.Header.Get("Location") != location {
		t.Errorf("HEAD: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	fetch(t, "GET", link, "Mozilla/5.0 (compatible; proofpoint URL defense)")
	c.waitClicks(1, 2)

	// Forged and altered tokens: a 400 page and no redirect.
	u, _ := url.Parse(link)
	tok := strings.TrimPrefix(u.Path, "/r/")
	altered := []byte(tok)
	altered[len(altered)/2] ^= 'A' ^ 'B'
	if altered[len(altered)/2] == tok[len(tok)/2] {
		altered[len(altered)/2] = 'z'
	}
	for _, bad := range []string{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", string(altered), tok + "x", "javascript:alert(1)"} {
		resp := fetch(t, "GET", c.p.URL+"/r/"+url.PathEscape(bad), "Mozilla/5.0")
		if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
			t.Errorf("/r/%s: %d Location %q, want 400 and no redirect", bad, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

// TestClicksPerReader: with CRIEUR_TRACK_READERS=true each reader's links
// are their own, their clicks are in their data and gone when they are
// erased.
func TestClicksPerReader(t *testing.T) {
	e2etest.Parallel(t)
	c := setupClicks(t, true)
	alice, bob := c.links["alice@example.org"], c.links["bob@example.org"]
	for _, l := range alice {
		if slices.Contains(bob, l) {
			t.Errorf("with readers tracked, alice and bob share the link %s", l)
		}
	}
	if resp := fetch(t, "GET", alice[0], "Mozilla/5.0 Firefox/128.0"); resp.StatusCode != 302 {
		t.Fatalf("alice's link: %d", resp.StatusCode)
	}
	c.waitClicks(1, 0)
	var data struct {
		Clicks []struct {
			Run     string // ids are strings in JSON
			Article string
		}
	}
	if st := c.do("GET", "/api/v1/subscribers/alice@example.org", nil, &data); st != 200 || len(data.Clicks) != 1 ||
		data.Clicks[0].Run != c.run || c.articles[data.Clicks[0].Article] == "" {
		t.Errorf("alice's data: %d %+v, want her one click on run %s", st, data, c.run)
	}
	if n := e2etest.Count(t, c.env, "SELECT COUNT(*) FROM reader_clicks"); n != 1 {
		t.Errorf("%d reader clicks stored, want 1", n)
	}
	if st := c.do("DELETE", "/api/v1/subscribers/alice@example.org", nil, nil); st != 204 {
		t.Fatalf("erase alice: %d", st)
	}
	if n := e2etest.Count(t, c.env, "SELECT COUNT(*) FROM reader_clicks"); n != 0 {
		t.Errorf("%d reader clicks left after erasing alice", n)
	}
	// The run's count stays: it names nobody.
	c.waitClicks(1, 0)
}
