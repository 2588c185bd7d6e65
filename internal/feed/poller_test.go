package feed_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/feed"
	"github.com/crieur/crieur/internal/news"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeStore is an in-memory feed.Store with the lease rules of the real one.
type fakeStore struct {
	mu       sync.Mutex
	topics   []news.Topic
	articles []news.Article
	keys     map[string]bool
	created  int // SaveArticle calls that created a row
	feeds    map[string]*feedRow
	failSave bool
}

type feedRow struct {
	st     feed.State
	holder string
	until  time.Time
	saves  int
}

func newFakeStore() *fakeStore {
	return &fakeStore{topics: slices.Clone(testTopics), keys: map[string]bool{}, feeds: map[string]*feedRow{}}
}

func (s *fakeStore) Topics(context.Context) ([]news.Topic, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.topics), nil
}

func (s *fakeStore) SaveArticle(_ context.Context, a news.Article) (int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failSave {
		return 0, false, errors.New("database is locked")
	}
	key := "url:" + a.URL
	if a.GUID != "" {
		key = "guid:" + a.GUID
	}
	if s.keys[key] {
		return 0, false, nil
	}
	s.keys[key] = true
	s.created++
	a.ID = int64(len(s.articles) + 1)
	s.articles = append(s.articles, a)
	return a.ID, true, nil
}

func (s *fakeStore) LeaseFeed(_ context.Context, url, holder string, now, until time.Time) (feed.State, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	row, ok := s.feeds[url]
	if !ok {
		row = &feedRow{}
		s.feeds[url] = row
	}
	if (row.holder != "" && row.holder != holder && row.until.After(now)) || row.st.NextPollAt.After(now) {
		return row.st, false, nil
	}
	row.holder, row.until = holder, until
	return row.st, true, nil
}

func (s *fakeStore) SaveFeedState(_ context.Context, url string, st feed.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	row := s.feeds[url]
	row.st, row.holder, row.until = st, "", time.Time{}
	row.saves++
	return nil
}

func (s *fakeStore) state(url string) feed.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.feeds[url].st
}

func (s *fakeStore) counts() (articles, created int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.articles), s.created
}

// switchServer serves the WordPress feed with an ETag, or whatever status
// and body the test sets, and records request headers.
type switchServer struct {
	*httptest.Server
	mu       sync.Mutex
	status   int
	body     []byte
	etag     string
	requests []http.Header
}

func newSwitchServer(t *testing.T) *switchServer {
	t.Helper()
	s := &switchServer{status: 200, body: readTestdata(t, "wordpress-fr.xml"), etag: `"v1"`}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Header.Clone())
		status, body, etag := s.status, s.body, s.etag
		s.mu.Unlock()
		if status == 200 && etag != "" && r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if etag != "" {
			w.Header().Set("ETag", etag)
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *switchServer) set(status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

func (s *switchServer) requestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func (s *switchServer) lastRequest() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[len(s.requests)-1]
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type setup struct {
	store  *fakeStore
	srv    *switchServer
	clock  *clock
	poller *feed.Poller
	logs   *syncBuffer
	url    string
}

const interval = 5 * time.Minute

func newSetup(t *testing.T) *setup {
	t.Helper()
	s := &setup{
		store: newFakeStore(),
		srv:   newSwitchServer(t),
		clock: &clock{t: time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)},
		logs:  &syncBuffer{},
	}
	s.url = s.srv.URL + "/feed/"
	log := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.poller = feed.NewPoller(s.store, &feed.Fetcher{Client: s.srv.Client()}, []string{s.url, " ", s.url}, interval, log, s.clock.Now)
	return s
}

func TestPollerConditionalGet(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	ctx := context.Background()

	if err := s.poller.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n, created := s.store.counts(); n != 7 || created != 7 {
		t.Fatalf("first poll: %d articles, %d created", n, created)
	}
	st := s.store.state(s.url)
	if st.ETag != `"v1"` || st.Failures != 0 || st.Items != 7 || st.LastError != "" ||
		!st.NextPollAt.Equal(s.clock.Now().Add(interval)) || !st.LastPolledAt.Equal(s.clock.Now()) {
		t.Fatalf("state after first poll: %+v", st)
	}

	// Not due yet: nothing is fetched.
	s.clock.Add(interval - time.Second)
	if err := s.poller.RunOnce(ctx); err != nil || s.srv.requestCount() != 1 {
		t.Fatalf("polled before due: %v, %d requests", err, s.srv.requestCount())
	}

	s.clock.Add(time.Second)
	if err := s.poller.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if s.srv.requestCount() != 2 || s.srv.lastRequest().Get("If-None-Match") != `"v1"` {
		t.Fatalf("second poll: %d requests, If-None-Match %q", s.srv.requestCount(), s.srv.lastRequest().Get("If-None-Match"))
	}
	if n, created := s.store.counts(); n != 7 || created != 7 {
		t.Errorf("304 created articles: %d, %d", n, created)
	}
	if st := s.store.state(s.url); st.Items != 7 || st.ETag != `"v1"` || st.Failures != 0 {
		t.Errorf("state after 304: %+v", st)
	}

	// The feed changes (new ETag, same items): saved again, nothing new.
	s.srv.mu.Lock()
	s.srv.etag = `"v2"`
	s.srv.mu.Unlock()
	s.clock.Add(interval)
	if err := s.poller.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, created := s.store.counts(); created != 7 {
		t.Errorf("duplicates created: %d", created)
	}
	if st := s.store.state(s.url); st.ETag != `"v2"` {
		t.Errorf("new ETag not kept: %+v", st)
	}
}

func TestPollerArticles(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	s.srv.set(200, []byte(`<rss version="2.0"><channel><link>https://a.example/</link>
<item><title>Sans date</title><link>/sans-date</link><category>Économie</category><category>Inconnue</category></item>
<item><title>Sans rubrique</title><link>/sans-rubrique</link><pubDate>Mon, 09 Mar 2026 08:00:00 +0000</pubDate></item>
</channel></rss>`))
	if err := s.poller.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	if len(s.store.articles) != 2 {
		t.Fatalf("articles: %+v", s.store.articles)
	}
	// Saved oldest (last in the feed) first.
	old, undated := s.store.articles[0], s.store.articles[1]
	if old.URL != "https://a.example/sans-rubrique" || old.Topics == nil || len(old.Topics) != 0 ||
		!old.PublishedAt.Equal(time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("article without topic: %+v", old)
	}
	if !undated.PublishedAt.Equal(s.clock.Now()) || !slices.Equal(undated.Topics, []string{"economie"}) {
		t.Errorf("undated article: %+v", undated)
	}
}

func TestPollerBackoff(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	ctx := context.Background()
	if err := s.poller.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}

	s.srv.set(500, []byte("<html>oops, secret stack trace</html>"))
	for failures := 1; failures <= 3; failures++ {
		s.clock.Add(24 * time.Hour)
		err := s.poller.RunOnce(ctx)
		if err == nil || !strings.Contains(err.Error(), "500") {
			t.Fatalf("RunOnce error = %v", err)
		}
		st := s.store.state(s.url)
		wait := st.NextPollAt.Sub(s.clock.Now())
		base := interval << failures
		if st.Failures != failures || !strings.Contains(st.LastError, "500") ||
			wait < base*9/10 || wait > base*11/10 || st.ETag != `"v1"` {
			t.Fatalf("after %d failures: wait %v (want %v ±10%%), state %+v", failures, wait, base, st)
		}
	}
	if logs := s.logs.String(); !strings.Contains(logs, "feed_url=") || strings.Contains(logs, "secret stack trace") {
		t.Errorf("log should name the feed and never the body:\n%s", logs)
	}

	// Malformed feed: an error too; earlier articles stay.
	s.srv.set(200, []byte(`<rss version="2.0"><channel><item><title>cut`))
	s.srv.mu.Lock()
	s.srv.etag = `"broken"`
	s.srv.mu.Unlock()
	s.clock.Add(24 * time.Hour)
	if err := s.poller.RunOnce(ctx); err == nil {
		t.Fatal("malformed feed: no error")
	}
	if st := s.store.state(s.url); st.Failures != 4 || st.LastError == "" {
		t.Errorf("malformed: %+v", st)
	}
	if n, _ := s.store.counts(); n != 7 {
		t.Errorf("articles lost: %d", n)
	}

	// Many failures: capped at 24 h.
	s.store.mu.Lock()
	s.store.feeds[s.url].st.Failures = 40
	s.store.mu.Unlock()
	s.clock.Add(24 * time.Hour)
	_ = s.poller.RunOnce(ctx)
	if st := s.store.state(s.url); st.NextPollAt.Sub(s.clock.Now()) > 24*time.Hour || st.NextPollAt.Sub(s.clock.Now()) < 21*time.Hour {
		t.Errorf("not capped at 24 h: %v", st.NextPollAt.Sub(s.clock.Now()))
	}

	// Success resets.
	s.srv.set(200, readTestdata(t, "wordpress-fr.xml"))
	s.clock.Add(24 * time.Hour)
	if err := s.poller.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.store.state(s.url); st.Failures != 0 || st.LastError != "" || !st.NextPollAt.Equal(s.clock.Now().Add(interval)) {
		t.Errorf("after success: %+v", st)
	}
}

func TestPollerSaveFailureKeepsValidators(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	s.store.failSave = true
	if err := s.poller.RunOnce(context.Background()); err == nil {
		t.Fatal("no error when articles cannot be saved")
	}
	if st := s.store.state(s.url); st.ETag != "" || st.Failures != 1 {
		t.Fatalf("ETag recorded although items were not saved: %+v", st)
	}
	s.store.mu.Lock()
	s.store.failSave = false
	s.store.mu.Unlock()
	s.clock.Add(time.Hour)
	if err := s.poller.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.store.counts(); n != 7 {
		t.Errorf("items not saved on retry: %d", n)
	}
}

func TestPollerLease(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	other := feed.NewPoller(s.store, &feed.Fetcher{Client: s.srv.Client()}, []string{s.url}, interval, nil, s.clock.Now)

	// Another instance holds the lease.
	s.store.mu.Lock()
	s.store.feeds[s.url] = &feedRow{holder: "someone-else", until: s.clock.Now().Add(time.Minute)}
	s.store.mu.Unlock()
	if err := s.poller.PollNow(context.Background(), s.url); !errors.Is(err, feed.ErrNotDue) {
		t.Fatalf("PollNow under another lease: %v", err)
	}
	if s.srv.requestCount() != 0 {
		t.Fatal("fetched a leased feed")
	}

	// The lease expires; two instances run at once, the feed is fetched once.
	s.clock.Add(time.Minute)
	var wg sync.WaitGroup
	for _, p := range []*feed.Poller{s.poller, other} {
		wg.Go(func() { _ = p.RunOnce(context.Background()) })
	}
	wg.Wait()
	if n := s.srv.requestCount(); n != 1 {
		t.Errorf("%d fetches by two instances, want 1", n)
	}
	if err := other.PollNow(context.Background(), s.url); !errors.Is(err, feed.ErrNotDue) {
		t.Errorf("PollNow before due: %v", err)
	}
}

func TestPollerStartStop(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	s.poller.Stop(context.Background()) // before Start: no-op

	s.poller.Start(context.Background())
	s.poller.Start(context.Background()) // second Start: no-op
	deadline := time.Now().Add(5 * time.Second)
	for s.srv.requestCount() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	s.poller.Stop(context.Background())
	s.poller.Stop(context.Background())
	if s.srv.requestCount() != 1 {
		t.Fatalf("%d requests", s.srv.requestCount())
	}
	// After Stop nothing runs any more.
	n := s.srv.requestCount()
	s.clock.Add(time.Hour)
	time.Sleep(20 * time.Millisecond)
	if s.srv.requestCount() != n {
		t.Error("polled after Stop")
	}
}

func TestPollerStopCancelsInFlight(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	c := &clock{t: time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)}
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done() // hang until the client gives up
	}))
	t.Cleanup(srv.Close)
	p := feed.NewPoller(store, &feed.Fetcher{Client: srv.Client()}, []string{srv.URL}, interval, nil, c.Now)
	p.Start(context.Background())
	<-arrived
	p.Stop(context.Background())

	store.mu.Lock()
	defer store.mu.Unlock()
	row := store.feeds[srv.URL]
	if row.holder != "" || row.saves != 1 || row.st.Failures != 0 || row.st.NextPollAt.After(c.Now()) {
		t.Errorf("lease not released cleanly on Stop: %+v", row)
	}
}

func TestPollerContextCancelStops(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	ctx, cancel := context.WithCancel(context.Background())
	s.poller.Start(ctx)
	cancel()
	done := make(chan struct{})
	go func() { s.poller.Stop(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return after the context was cancelled")
	}
}

// TestPollerLongFeed checks that a feed with more items than Parse reads
// gives its newest ones, and that the skipped rest is logged once.
func TestPollerLongFeed(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	s.srv.set(200, []byte(longFeed(20_000, func(i int) string { return t0.Add(-time.Duration(i) * time.Minute).Format(time.RFC1123Z) }, "")))
	ctx := context.Background()
	if err := s.poller.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n, created := s.store.counts(); n != 5_000 || created != 5_000 {
		t.Fatalf("%d articles, %d created, want 5000", n, created)
	}
	s.store.mu.Lock()
	newest := s.store.articles[len(s.store.articles)-1] // saved oldest first
	s.store.mu.Unlock()
	if newest.URL != "https://a.example/0" {
		t.Errorf("newest article %s, want https://a.example/0", newest.URL)
	}
	if st := s.store.state(s.url); st.Failures != 0 || st.Items != 5_000 {
		t.Errorf("state %+v", st)
	}

	// Polled again (the feed changed): logged again, at debug level only.
	s.srv.mu.Lock()
	s.srv.etag = `"v2"`
	s.srv.mu.Unlock()
	s.clock.Add(interval)
	if err := s.poller.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	logs := s.logs.String()
	if n := strings.Count(logs, "level=WARN msg=\"feed too long, oldest items skipped\""); n != 1 ||
		!strings.Contains(logs, "items=5000 skipped=15000") {
		t.Errorf("want one warning naming the skipped items, got %d:\n%s", n, logs)
	}
	if n := strings.Count(logs, "level=DEBUG msg=\"feed too long, oldest items skipped\""); n != 1 {
		t.Errorf("want the second poll logged at debug level, got %d", n)
	}
}
