package reader_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/click"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/internal/web/webtest"
)

type clickEnv struct {
	*webtest.Env
	clicks *click.Service
	tokens *click.Tokens
	arts   map[string]int64
	run    int64
}

func setupClicks(tb testing.TB) *clickEnv {
	tb.Helper()
	tk, err := click.NewTokens(bytes.Repeat([]byte("c"), 32))
	if err != nil {
		tb.Fatal(err)
	}
	e := &clickEnv{tokens: tk, arts: map[string]int64{}}
	e.Env = webtest.New(tb, func(d *web.Deps) {
		e.clicks = click.New(click.Config{Store: d.Store, Tokens: tk, BaseURL: "https://crieur.example"})
		d.Clicks = e.clicks
		d.AllowedOrigins = []string{"https://journal.example"}
	})
	ctx := context.Background()
	for name, u := range map[string]string{"story": "https://journal.example/story", "js": "javascript:alert(document.domain)",
		"data": "data:text/html,<script>alert(1)</script>", "relative": "//evil.example/x"} {
		id, _, err := e.Store.SaveArticle(ctx, news.Article{URL: u, Title: name, PublishedAt: time.Now(), CreatedAt: time.Now()})
		if err != nil {
			tb.Fatal(err)
		}
		e.arts[name] = id
	}
	if e.run, _, err = e.Store.CreateRun(ctx, news.Daily, time.Now(), "test"); err != nil {
		tb.Fatal(err)
	}
	return e
}

func (e *clickEnv) get(method, path, ua string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("User-Agent", ua)
	rec := httptest.NewRecorder()
	e.Handler.ServeHTTP(rec, req)
	return rec
}

// TestFollowRedirects: a run's link answers 302 to the stored article URL
// whatever is added to the request; HEAD too, counted as a scanner's.
func TestFollowRedirects(t *testing.T) {
	t.Parallel()
	e := setupClicks(t)
	tok := e.tokens.Sign(click.Link{Kind: click.KindRun, Scope: e.run, Article: e.arts["story"]})
	for _, p := range []string{"/r/" + tok, "/r/" + tok + "?url=https://evil.example/", "/r/" + tok + "?next=//evil.example"} {
		rec := e.get("GET", p, "Mozilla/5.0 Firefox/128.0")
		if rec.Code != http.StatusFound || rec.Header().Get("Location") != "https://journal.example/story" {
			t.Errorf("GET %s: %d to %q, want 302 to the article", p, rec.Code, rec.Header().Get("Location"))
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: Cache-Control %q", p, rec.Header().Get("Cache-Control"))
		}
	}
	if rec := e.get("HEAD", "/r/"+tok, "Mozilla/5.0 Firefox/128.0"); rec.Code != http.StatusFound {
		t.Errorf("HEAD: %d", rec.Code)
	}
	req := httptest.NewRequest("GET", "/r/"+tok, nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 Chrome/131.0")
	req.Header.Set("Sec-Purpose", "prefetch;prerender")
	rec := httptest.NewRecorder()
	e.Handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusFound {
		t.Errorf("prefetch: %d", rec.Code)
	}
	if err := e.clicks.RunOnce(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	tot, err := e.Store.ClickTotals(context.Background(), store.ClickScope{RunID: e.run})
	if err != nil {
		t.Fatal(err)
	}
	// The three GETs from one client within seconds are not a burst: one
	// link, not every link of the email.
	if tot.Human != 3 || tot.Scanner != 2 || tot.Clickers != 1 {
		t.Errorf("totals %+v, want 3 readers' clicks by 1 clicker, 2 scanners' (HEAD, prefetch)", tot)
	}
}

// TestFollowRefused: forged, altered, other-run, other-purpose tokens and
// stored targets that are not http(s) get a 400 page, never a Location.
func TestFollowRefused(t *testing.T) {
	t.Parallel()
	e := setupClicks(t)
	good := e.tokens.Sign(click.Link{Kind: click.KindRun, Scope: e.run, Article: e.arts["story"]})
	other, _ := click.NewTokens(bytes.Repeat([]byte("o"), 32))
	subTok, _ := subscribe.NewTokens(bytes.Repeat([]byte("k"), 32), nil)
	altered := []byte(good)
	altered[5] ^= 1
	cases := map[string]string{
		"forged":            strings.Repeat("A", 40),
		"altered":           string(altered),
		"another key":       other.Sign(click.Link{Kind: click.KindRun, Scope: e.run + 1, Article: e.arts["story"]}),
		"preference link":   subTok.Sign(subscribe.PurposePreferences, 1, 0, 0),
		"javascript target": e.tokens.Sign(click.Link{Kind: click.KindRun, Scope: e.run, Article: e.arts["js"]}),
		"data target":       e.tokens.Sign(click.Link{Kind: click.KindRun, Scope: e.run, Article: e.arts["data"]}),
		"scheme-relative":   e.tokens.Sign(click.Link{Kind: click.KindRun, Scope: e.run, Article: e.arts["relative"]}),
		"url in path":       "https:%2F%2Fevil.example",
	}
	for name, tok := range cases {
		rec := e.get("GET", "/r/"+tok, "Mozilla/5.0")
		if rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" || !strings.Contains(rec.Body.String(), "<html") {
			t.Errorf("%s: %d Location %q, want a 400 page", name, rec.Code, rec.Header().Get("Location"))
		}
	}
	gone := e.tokens.Sign(click.Link{Kind: click.KindRun, Scope: e.run, Article: 9999})
	if rec := e.get("GET", "/r/"+gone, "Mozilla/5.0"); rec.Code != http.StatusNotFound || rec.Header().Get("Location") != "" {
		t.Errorf("gone article: %d %q", rec.Code, rec.Header().Get("Location"))
	}
}

// TestPushEventsRoute: 204 always; counted once per browser and alert,
// for browsers the alert was sent to only; CORS for the publisher's origin; bad input is 400.
func TestPushEventsRoute(t *testing.T) {
	t.Parallel()
	e := setupClicks(t)
	ctx := context.Background()
	now := time.Now()
	for _, ep := range []string{"https://push.example/b1", "https://push.example/b2"} {
		if _, _, err := e.Store.SavePushSubscription(ctx, news.PushSubscription{Endpoint: ep, P256dh: "k", Auth: "a", Lang: news.French}, nil, now); err != nil {
			t.Fatal(err)
		}
	}
	aid, err := e.Store.CreateAlert(ctx, news.Alert{Title: "T", Body: "B", URL: "https://journal.example/a", TTL: time.Hour, Urgency: "high",
		TopicHeader: "t", State: news.AlertDone, CreatedAt: now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The alert went to b1 only.
	if _, err := e.Store.DB().ExecContext(ctx, `UPDATE alerts SET enqueue_after = (SELECT id FROM push_subscriptions WHERE endpoint = 'https://push.example/b1') WHERE id = ?`, aid); err != nil {
		t.Fatal(err)
	}
	id := func(n int64) string { return `"` + itoa(n) + `"` }
	post := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/api/v1/push/events", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "https://journal.example")
		rec := httptest.NewRecorder()
		e.Handler.ServeHTTP(rec, req)
		return rec
	}
	for _, body := range []string{
		`{"alert_id":` + id(aid) + `,"type":"shown","endpoint":"https://push.example/b1"}`,
		`{"alert_id":` + id(aid) + `,"type":"shown","endpoint":"https://push.example/b1"}`,
		`{"alert_id":` + itoa(aid) + `,"type":"clicked","endpoint":"https://push.example/b1"}`,
		`{"alert_id":` + id(aid) + `,"type":"clicked","endpoint":"https://push.example/unknown"}`,
		`{"alert_id":` + id(aid+50) + `,"type":"clicked","endpoint":"https://push.example/b1"}`,
		`{"alert_id":` + id(aid) + `,"type":"clicked","endpoint":"https://push.example/b2"}`, // not sent there
	} {
		rec := post(body)
		if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "https://journal.example" {
			t.Errorf("%s: %d, CORS %q", body, rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
		}
	}
	shown, clicked, err := e.Store.AlertEngagement(ctx, aid)
	if err != nil || shown != 1 || clicked != 1 {
		t.Errorf("shown %d clicked %d (%v), want 1 and 1", shown, clicked, err)
	}
	webtest.MustAPIError(t, post(`{"alert_id":"1","type":"opened","endpoint":"https://push.example/b1"}`), 400, "invalid_input")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// BenchmarkFollow is the redirect through the whole site handler
// (middleware, metrics, mux): token check, cached target, click held.
func BenchmarkFollow(b *testing.B) {
	e := setupClicks(b)
	tok := e.tokens.Sign(click.Link{Kind: click.KindRun, Scope: e.run, Article: e.arts["story"]})
	req := httptest.NewRequest("GET", "/r/"+tok, nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 Firefox/128.0")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rec := httptest.NewRecorder()
		e.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusFound {
			b.Fatal(rec.Code)
		}
		if i%10000 == 0 {
			// The loop writes what is held, as the daemon's does each second.
			e.clicks.RunOnce(context.Background(), true)
		}
	}
}

// FuzzPushEventJSON: whatever a page posts to /api/v1/push/events is 204
// or a 4xx, never a server error; and /r/ with any token is a 302 only for
// a token this server signed.
func FuzzPushEventJSON(f *testing.F) {
	e := setupClicks(f)
	good := e.tokens.Sign(click.Link{Kind: click.KindRun, Scope: e.run, Article: e.arts["story"]})
	f.Add(`{"alert_id":"1","type":"shown","endpoint":"https://push.example/b1"}`, good)
	f.Add(`{"alert_id":1e30,"type":"clicked","endpoint":""}`, "AAAA")
	f.Add(`{"alert_id":[],"type":null}`, "javascript:alert(1)")
	f.Fuzz(func(t *testing.T, body, tok string) {
		rec := webtest.Post(e.Handler, "/api/v1/push/events", "application/json", body)
		if rec.Code != 204 && (rec.Code < 400 || rec.Code >= 500) {
			t.Fatalf("push event %q: %d %s", body, rec.Code, rec.Body)
		}
		req := httptest.NewRequest("GET", "/r/x", nil)
		req.URL.Path, req.URL.RawPath = "/r/"+tok, ""
		rec = httptest.NewRecorder()
		e.Handler.ServeHTTP(rec, req)
		if rec.Code == http.StatusFound && (tok != good || rec.Header().Get("Location") != "https://journal.example/story") {
			t.Fatalf("/r/%q redirected to %q", tok, rec.Header().Get("Location"))
		}
		if rec.Code >= 500 {
			t.Fatalf("/r/%q: %d", tok, rec.Code)
		}
	})
}

// TestPushEventsForeignOriginAndFlood: a page on another origin than the
// publisher's gets no CORS grant for push events (its browser sends
// nothing), a body past 1 MiB is 413, and one client flooding the route
// is stopped (600 at once, then 429 with Retry-After).
func TestPushEventsForeignOriginAndFlood(t *testing.T) {
	t.Parallel()
	e := setupClicks(t)
	send := func(method, origin, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/api/v1/push/events", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		req.RemoteAddr = "198.51.100.7:40000"
		rec := httptest.NewRecorder()
		e.Handler.ServeHTTP(rec, req)
		return rec
	}
	event := `{"alert_id":"1","type":"shown","endpoint":"https://push.example/x"}`
	for _, origin := range []string{"https://evil.example", "null", "https://journal.example.evil.example"} {
		for _, method := range []string{"OPTIONS", "POST"} {
			if h := send(method, origin, event).Header().Get("Access-Control-Allow-Origin"); h != "" {
				t.Errorf("%s from %s: Access-Control-Allow-Origin %q", method, origin, h)
			}
		}
	}
	huge := `{"alert_id":"1","type":"shown","endpoint":"` + strings.Repeat("a", 2<<20) + `"}`
	if rec := send("POST", "https://journal.example", huge); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 2 MiB event: %d, want 413", rec.Code)
	}
	n, start := 0, time.Now()
	for ; n < 1000; n++ {
		if rec := send("POST", "https://journal.example", event); rec.Code != http.StatusNoContent {
			webtest.MustAPIError(t, rec, 429, "rate_limited")
			if rec.Header().Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			break
		}
	}
	// 600 at once, then 20 a second: a loop slowed by a busy machine
	// earns what the refill gave it meanwhile.
	if most := 600 + int(20*time.Since(start).Seconds()) + 1; n < 590 || n > most {
		t.Errorf("%d events from one client taken in %v, want 600 and the refill's 20 a second (at most %d)", n, time.Since(start), most)
	}
}
