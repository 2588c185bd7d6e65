package click_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/click"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/web/webtest"
)

const browser = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	st    *store.Store
	svc   *click.Service
	clock *clock
	arts  []int64
	run   int64
	count struct{ human, scanner int }
}

func setup(t *testing.T, track bool) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{st: webtest.Store(t), clock: &clock{t: time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)}}
	for i, u := range []string{"https://news.example/a", "https://news.example/b", "https://news.example/c", "javascript:alert(1)"} {
		id, _, err := e.st.SaveArticle(ctx, news.Article{URL: u, Title: "Story " + string(rune('A'+i)), PublishedAt: e.clock.Now(), CreatedAt: e.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		e.arts = append(e.arts, id)
	}
	run, _, err := e.st.CreateRun(ctx, news.Daily, e.clock.Now(), "test")
	if err != nil {
		t.Fatal(err)
	}
	e.run = run
	e.svc = click.New(click.Config{Store: e.st, Tokens: tokens(t), BaseURL: "https://crieur.example", TrackReaders: track,
		Now: e.clock.Now, Counted: func(h, s int) { e.count.human += h; e.count.scanner += s }})
	return e
}

// follow resolves the link of article i of the run for reader and records
// a click as the handler does.
func (e *env) follow(t *testing.T, i int, reader int64, method, client, ua string) string {
	t.Helper()
	link := e.svc.Link(click.KindRun, e.run, e.arts[i], reader)
	tok := link[strings.LastIndex(link, "/")+1:]
	l, target, err := e.svc.Resolve(context.Background(), tok)
	if err != nil {
		t.Fatalf("resolve article %d: %v", i, err)
	}
	e.svc.Record(l, method, client, ua)
	return target
}

func (e *env) flush(t *testing.T) {
	t.Helper()
	if err := e.svc.RunOnce(context.Background(), false); err != nil {
		t.Fatal(err)
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	e := setup(t, false)
	ctx := context.Background()
	if got := e.follow(t, 1, 0, "GET", "192.0.2.1", browser); got != "https://news.example/b" {
		t.Errorf("target %q, want the stored article URL", got)
	}
	tk := tokens(t)
	// A stored URL that is not http(s) is never a redirect.
	if _, _, err := e.svc.Resolve(ctx, tk.Sign(click.Link{Kind: click.KindRun, Scope: e.run, Article: e.arts[3]})); !errors.Is(err, click.ErrBadTarget) {
		t.Errorf("javascript: target: %v, want ErrBadTarget", err)
	}
	// Nor is one without a host, or with a user name before it, which
	// shows the reader one site and leads to another.
	for i, u := range []string{"https:news.example/a", "https://news.example@evil.example/a", "https://user:pw@news.example/a"} {
		id, _, err := e.st.SaveArticle(ctx, news.Article{URL: u, Title: "Odd " + strconv.Itoa(i), PublishedAt: e.clock.Now(), CreatedAt: e.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Resolve(ctx, tk.Sign(click.Link{Kind: click.KindRun, Scope: e.run, Article: id})); !errors.Is(err, click.ErrBadTarget) {
			t.Errorf("target %q: %v, want ErrBadTarget", u, err)
		}
	}
	if _, _, err := e.svc.Resolve(ctx, tk.Sign(click.Link{Kind: click.KindRun, Scope: e.run, Article: 999})); !errors.Is(err, click.ErrNoTarget) {
		t.Errorf("missing article: %v, want ErrNoTarget", err)
	}
	if _, _, err := e.svc.Resolve(ctx, "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, click.ErrInvalid) {
		t.Errorf("forged: %v, want ErrInvalid", err)
	}
	// An alert email's link leads to the alert's URL.
	aid, err := e.st.CreateAlert(ctx, news.Alert{Title: "T", Body: "B", URL: "https://news.example/alert", TTL: time.Hour,
		Urgency: news.Urgency("high"), TopicHeader: "x", State: news.AlertDone, CreatedAt: e.clock.Now()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, got, err := e.svc.Resolve(ctx, tk.Sign(click.Link{Kind: click.KindAlert, Scope: aid})); err != nil || got != "https://news.example/alert" {
		t.Errorf("alert link: %q, %v", got, err)
	}
}

// TestScannersCountedApart checks each part of the scanner rule: HEAD, a
// scanner's User-Agent, a burst of every link from one client; readers'
// clicks and distinct clickers are counted right beside them.
func TestScannersCountedApart(t *testing.T) {
	t.Parallel()
	e := setup(t, false)
	ctx := context.Background()
	// A gateway fetches the three links of the email within a second.
	for i := range 3 {
		e.follow(t, i, 0, "GET", "203.0.113.9", browser)
		e.clock.Add(300 * time.Millisecond)
	}
	e.follow(t, 0, 0, "HEAD", "203.0.113.10", browser)
	e.follow(t, 0, 0, "GET", "203.0.113.11", "Mozilla/5.0 (compatible; Barracuda Sentinel)")
	e.follow(t, 0, 0, "GET", "203.0.113.12", "")
	// Readers: one clicks two stories a minute apart, one clicks once,
	// one clicks the same story twice.
	e.follow(t, 0, 0, "GET", "192.0.2.1", browser)
	e.follow(t, 1, 0, "GET", "192.0.2.2", browser)
	e.follow(t, 2, 0, "GET", "192.0.2.3", browser)
	e.follow(t, 2, 0, "GET", "192.0.2.3", browser)
	e.flush(t)
	// Nothing is written while a burst may still be going on.
	if tot, err := e.st.ClickTotals(ctx, store.ClickScope{RunID: e.run}); err != nil || tot.Human+tot.Scanner != 0 {
		t.Errorf("written before the burst window ended: %+v (%v)", tot, err)
	}
	e.clock.Add(time.Minute)
	e.follow(t, 1, 0, "GET", "192.0.2.1", browser)
	e.clock.Add(click.BurstWindow + time.Second)
	e.flush(t)
	tot, err := e.st.ClickTotals(ctx, store.ClickScope{RunID: e.run})
	if err != nil {
		t.Fatal(err)
	}
	if tot.Human != 5 || tot.Scanner != 6 || tot.Clickers != 3 {
		t.Errorf("totals %+v, want 5 readers' clicks by 3 clickers, 6 scanners'", tot)
	}
	if e.count.human != 5 || e.count.scanner != 6 {
		t.Errorf("metrics told %+v", e.count)
	}
	per, err := e.st.RunArticleClicks(ctx, e.run)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64][2]int64{}
	for _, c := range per {
		got[c.ArticleID] = [2]int64{c.Human, c.Scanner}
	}
	want := map[int64][2]int64{e.arts[0]: {1, 4}, e.arts[1]: {2, 1}, e.arts[2]: {2, 1}}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("article %d: %v, want %v (readers, scanners)", id, got[id], w)
		}
	}
	// A week on, the clickers' hashes and their salt are forgotten; the
	// count stays.
	e.clock.Add(8 * 24 * time.Hour)
	e.flush(t)
	var hashes int
	if err := e.st.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM click_clickers").Scan(&hashes); err != nil {
		t.Fatal(err)
	}
	var salt string
	if err := e.st.DB().QueryRowContext(ctx, "SELECT salt FROM click_scopes").Scan(&salt); err != nil {
		t.Fatal(err)
	}
	tot, _ = e.st.ClickTotals(ctx, store.ClickScope{RunID: e.run})
	if hashes != 0 || salt != "" || tot.Clickers != 3 {
		t.Errorf("after a week: %d hashes, salt %q, %d clickers; want none, none, 3", hashes, salt, tot.Clickers)
	}
}

// TestReaderNotInTokenByDefault: without CRIEUR_TRACK_READERS two readers
// get the same link and nothing per reader is written; with it, each
// reader's clicks are kept.
func TestReaderNotInTokenByDefault(t *testing.T) {
	t.Parallel()
	for _, track := range []bool{false, true} {
		e := setup(t, track)
		ctx := context.Background()
		a, b := e.svc.Link(click.KindRun, e.run, e.arts[0], 1), e.svc.Link(click.KindRun, e.run, e.arts[0], 2)
		if (a == b) == track {
			t.Errorf("tracking %v: links of two readers %s and %s", track, a, b)
		}
		sub, _, err := e.st.Subscribe(ctx, "r@example.com", store.Prefs{Frequency: news.Daily, Lang: news.French}, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		e.follow(t, 0, sub, "GET", "192.0.2.1", browser)
		if err := e.svc.RunOnce(ctx, true); err != nil {
			t.Fatal(err)
		}
		kept, err := e.st.ReaderClicks(ctx, sub, 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{false: 0, true: 1}[track]; len(kept) != want {
			t.Errorf("tracking %v: %d clicks kept for the reader, want %d", track, len(kept), want)
		}
	}
}

// TestWriteFailureKeepsClicks: a round whose write fails keeps its clicks
// for the next one.
func TestWriteFailureKeepsClicks(t *testing.T) {
	t.Parallel()
	e := setup(t, false)
	e.flush(t) // the hourly forgetting done: the failing round fails at its write
	e.follow(t, 0, 0, "GET", "192.0.2.1", browser)
	e.follow(t, 1, 0, "GET", "192.0.2.2", browser)
	dead, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.svc.RunOnce(dead, true); err == nil {
		t.Fatal("a write with a cancelled context succeeded")
	}
	if err := e.svc.RunOnce(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	tot, err := e.st.ClickTotals(context.Background(), store.ClickScope{RunID: e.run})
	if err != nil || tot.Human != 2 || tot.Clickers != 2 {
		t.Errorf("totals %+v (%v), want both clicks after the failed round", tot, err)
	}
}
