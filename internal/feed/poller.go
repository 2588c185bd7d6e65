package feed

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/redact"
	"github.com/crieur/crieur/internal/startstop"
)

// Store is what the poller needs from the database.
type Store interface {
	// Topics lists every topic.
	Topics(ctx context.Context) ([]news.Topic, error)
	// SaveArticle inserts a, idempotent by GUID (else URL); created=false when it already existed.
	SaveArticle(ctx context.Context, a news.Article) (id int64, created bool, err error)
	// LeaseFeed takes the right to poll url until `until` for holder, so that several crieur instances sharing one database poll each feed once; ok=false when another holder has an unexpired lease or the feed is not due (st.NextPollAt > now). It creates the feed row when missing.
	LeaseFeed(ctx context.Context, url, holder string, now, until time.Time) (st State, ok bool, err error)
	// SaveFeedState records the outcome of a poll and releases the lease.
	SaveFeedState(ctx context.Context, url string, st State) error
}

// State is what is remembered about one feed between polls.
type State struct {
	ETag, LastModified string    // validators for the next conditional GET
	LastPolledAt       time.Time // when the last poll ended
	NextPollAt         time.Time // not polled again before
	LastError          string    // of the last poll; "" after a success
	Failures           int       // consecutive failed polls
	Items              int       // items in the last feed document fetched
}

// ErrNotDue is returned by PollNow when the feed is not due yet or another
// instance holds its lease.
var ErrNotDue = errors.New("feed not due or leased by another instance")

const (
	maxBackoff   = 24 * time.Hour
	parallel     = 4                // feeds polled at the same time
	leaseMargin  = time.Minute      // beyond two fetch timeouts
	releaseAfter = 10 * time.Second // to record state after a cancelled poll
	maxErrorLen  = 500
)

// Poller polls a fixed list of feeds and saves their new items as articles.
// Its lifecycle is that of every background loop in crieur: Start runs one
// goroutine, Stop ends it; RunOnce and PollNow do one pass synchronously.
type Poller struct {
	store    Store
	fetcher  *Fetcher
	urls     []string
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time
	holder   string

	// Extra, when set, lists feeds added at run time (the admin UI keeps
	// them in the database); they are polled besides the configured ones.
	Extra func(ctx context.Context) ([]string, error)

	life startstop.Base

	// skipWarned holds the feed URLs whose skipped items were logged at
	// warning level; later polls log them at debug level.
	skipWarned sync.Map
}

// NewPoller returns a poller of urls (blank and repeated ones dropped), each
// polled every interval (5 minutes when zero or less). A nil fetcher is a
// zero Fetcher, a nil log discards, a nil now is time.Now.
func NewPoller(store Store, fetcher *Fetcher, urls []string, interval time.Duration, log *slog.Logger, now func() time.Time) *Poller {
	if fetcher == nil {
		fetcher = &Fetcher{}
	}
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	var list []string
	for _, u := range urls {
		if u = strings.TrimSpace(u); u != "" && !slices.Contains(list, u) {
			list = append(list, u)
		}
	}
	return &Poller{
		store:    store,
		fetcher:  fetcher,
		urls:     list,
		interval: interval,
		log:      log,
		now:      now,
		holder:   holderID(),
	}
}

// holderID names this process in feed leases.
func holderID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "crieur"
	}
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), crand.Text()[:10])
}

// Start polls the due feeds at once and then every tick in one goroutine,
// until ctx is done or Stop is called. Calling Start on a started poller
// does nothing.
func (p *Poller) Start(ctx context.Context) error {
	ctx, ok := p.life.Begin(ctx)
	if !ok {
		return nil
	}
	p.life.Go(func() {
		t := time.NewTicker(p.tick())
		defer t.Stop()
		for {
			// Errors are logged per feed in poll; none stops the loop.
			_ = p.RunOnce(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return nil
}

// Stop cancels the polls in flight and returns when the goroutine started
// by Start has ended. Leases of cancelled polls are released. It is safe to
// call Stop without Start, or twice.
func (p *Poller) Stop(context.Context) { p.life.Stop() }

// tick is how often the loop looks for due feeds: a quarter of the interval,
// between a second and a minute, so a feed is polled at most that late.
func (p *Poller) tick() time.Duration {
	return min(max(p.interval/4, time.Second), time.Minute)
}

// RunOnce polls every feed that is due, a few at a time, and returns when
// all are done. Each feed's failure is logged and recorded in its State;
// RunOnce returns them joined (nil when every due feed succeeded).
func (p *Poller) RunOnce(ctx context.Context) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, parallel)
	)
	urls := p.urls
	if p.Extra != nil {
		extra, err := p.Extra(ctx)
		if err != nil {
			p.log.Error("list feeds", "err", err)
		}
		urls = slices.Clone(urls)
		for _, u := range extra {
			if !slices.Contains(urls, u) {
				urls = append(urls, u)
			}
		}
	}
	for _, u := range urls {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := p.poll(ctx, u); err != nil && !errors.Is(err, ErrNotDue) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// PollNow polls url at once, if it is due and no other instance holds it
// (ErrNotDue otherwise); url need not be one of the poller's feeds. It
// returns the poll's error, which is also recorded in the feed's State.
func (p *Poller) PollNow(ctx context.Context, url string) error {
	return p.poll(ctx, strings.TrimSpace(url))
}

// poll leases one feed, fetches it, saves its items and records the outcome.
func (p *Poller) poll(ctx context.Context, feedURL string) error {
	logURL := redact.URL(feedURL)
	start := p.now()
	lease := 2*p.fetcher.timeout() + leaseMargin
	st, ok, err := p.store.LeaseFeed(ctx, feedURL, p.holder, start, start.Add(lease))
	if err != nil {
		p.log.ErrorContext(ctx, "lease feed", "feed_url", logURL, "error", err)
		return fmt.Errorf("lease feed %s: %w", logURL, err)
	}
	if !ok {
		return ErrNotDue
	}

	res, err := p.fetcher.Fetch(ctx, feedURL, st)
	created := 0
	if err == nil && !res.NotModified {
		created, err = p.save(ctx, feedURL, res.Items)
	}
	if ctx.Err() != nil {
		// Shutting down: not the feed's fault. Leave its state as it was
		// and release the lease so that another instance may take it now.
		st.NextPollAt = p.now()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseAfter)
		defer cancel()
		if serr := p.store.SaveFeedState(rctx, feedURL, st); serr != nil {
			p.log.Error("release feed lease", "feed_url", logURL, "error", serr)
		}
		return fmt.Errorf("poll %s: %w", logURL, ctx.Err())
	}

	end := p.now()
	st.LastPolledAt = end
	if err != nil {
		// ETag and Last-Modified stay as they were, so that items not saved
		// are fetched again rather than hidden behind a 304.
		st.Failures++
		st.LastError = truncate(err.Error(), maxErrorLen)
		st.NextPollAt = end.Add(p.backoff(st.Failures))
		p.log.WarnContext(ctx, "feed poll failed", "feed_url", logURL, "error", err,
			"failures", st.Failures, "next_poll_at", st.NextPollAt)
	} else {
		st.Failures = 0
		st.LastError = ""
		st.NextPollAt = end.Add(p.interval)
		st.ETag, st.LastModified = res.ETag, res.LastModified
		if !res.NotModified {
			st.Items = len(res.Items)
		}
		if res.Skipped > 0 {
			level := slog.LevelDebug
			if _, seen := p.skipWarned.LoadOrStore(feedURL, true); !seen {
				level = slog.LevelWarn
			}
			p.log.Log(ctx, level, "feed too long, oldest items skipped", "feed_url", logURL,
				"items", len(res.Items), "skipped", res.Skipped)
		}
		if res.Refused > 0 {
			p.log.WarnContext(ctx, "feed items refused: entity left unexpanded in their text", "feed_url", logURL,
				"refused", res.Refused)
		}
		p.log.DebugContext(ctx, "feed polled", "feed_url", logURL,
			"not_modified", res.NotModified, "items", len(res.Items), "new_articles", created)
	}
	if serr := p.store.SaveFeedState(ctx, feedURL, st); serr != nil {
		p.log.ErrorContext(ctx, "save feed state", "feed_url", logURL, "error", serr)
		return errors.Join(wrapPoll(logURL, err), fmt.Errorf("save feed state %s: %w", logURL, serr))
	}
	return wrapPoll(logURL, err)
}

func wrapPoll(logURL string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("poll %s: %w", logURL, err)
}

// save stores items as articles, oldest first so that article ids follow
// the feed's order, and counts the new ones. It stops at the first error.
func (p *Poller) save(ctx context.Context, feedURL string, items []Item) (created int, err error) {
	if len(items) == 0 {
		return 0, nil
	}
	topics, err := p.store.Topics(ctx)
	if err != nil {
		return 0, fmt.Errorf("list topics: %w", err)
	}
	index := NewTopicIndex(topics)
	now := p.now()
	for i := len(items) - 1; i >= 0; i-- {
		it := items[i]
		published := it.Published
		if published.IsZero() {
			published = now
		}
		_, isNew, err := p.store.SaveArticle(ctx, news.Article{
			GUID:        it.GUID,
			URL:         it.URL,
			Title:       it.Title,
			Summary:     it.Summary,
			ImageURL:    it.ImageURL,
			Author:      it.Author,
			Topics:      index.Map(it.Categories),
			PublishedAt: published,
			CreatedAt:   now,
			Feed:        feedURL, // for the feed's automatic-alert rule
		})
		if err != nil {
			return created, fmt.Errorf("save article %s: %w", redact.URL(it.URL), err)
		}
		if isNew {
			created++
		}
	}
	return created, nil
}

// backoff is the wait after the given number of consecutive failures:
// interval × 2^failures, ±10 %, at most 24 hours.
func (p *Poller) backoff(failures int) time.Duration {
	d := p.interval
	for i := 0; i < failures && d < maxBackoff; i++ {
		d *= 2
	}
	d = time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
	return min(d, maxBackoff)
}
