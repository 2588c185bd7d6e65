package click

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/crieur/crieur/internal/startstop"
	"github.com/crieur/crieur/internal/store"
)

// ErrNoTarget is a valid token whose article or alert is gone.
var ErrNoTarget = errors.New("link target gone")

// ErrBadTarget is a stored URL that is not http(s): it is never redirected
// to.
var ErrBadTarget = errors.New("link target is not an http(s) URL")

// Config builds a Service.
type Config struct {
	Store  *store.Store
	Tokens *Tokens
	// BaseURL is crieur's public URL, without a trailing slash.
	BaseURL string
	// TrackReaders puts the reader in each token and keeps clicks per
	// reader (CRIEUR_TRACK_READERS=true).
	TrackReaders bool
	Log          *slog.Logger
	Now          func() time.Time
	// Counted is told how many clicks were written as readers' and as
	// scanners' (the Prometheus counters); nil: nobody.
	Counted func(human, scanner int)
	// Flush is how often clicks are written (default 1 s); a click waits
	// at least BurstWindow so that a burst is judged whole.
	Flush time.Duration
}

// maxPending bounds the clicks held in memory between writes: past it a
// flood is dropped (and logged) rather than growing without end.
const maxPending = 200_000

// maxHeldPerClient is how many fetches of one client and email may wait
// for a burst to end: far more than the links of one email a gateway
// opens; past it they are judged and written at once.
const maxHeldPerClient = 256

// Service resolves tracked links and counts their clicks. The redirect
// only verifies the token, reads the target from a cache and appends the
// click to a buffer; a background loop judges scanners and writes the
// counts in batches, so counting never slows the redirect.
type Service struct {
	cfg    Config
	tokens *Tokens
	st     *store.Store

	urls sync.Map // urlKey → target URL; articles and alerts never change URL
	nurl int64

	// links keeps the links made for readers not tracked: every reader of
	// a run gets the same ones, so each is signed once per run, not once
	// per message. Cleared when it reaches maxLinks (a day's runs hold a
	// few hundred).
	linksMu sync.Mutex
	links   map[Link]string

	mu      sync.Mutex
	pending []*event
	dropped int

	// Only the loop's goroutine uses these.
	salts     map[store.ClickScope]string
	lastForgo time.Time

	startstop.Base
}

// urlKey names a cached target: an article, or an alert's own URL.
type urlKey struct {
	alert bool
	id    int64
}

// event is one click held until it is judged and written.
type event struct {
	link    Link
	at      time.Time
	client  string // address and User-Agent; never written
	scanner bool
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Flush <= 0 {
		cfg.Flush = time.Second
	}
	return &Service{cfg: cfg, tokens: cfg.Tokens, st: cfg.Store, salts: map[store.ClickScope]string{}}
}

// TrackReaders reports whether tokens name readers.
func (s *Service) TrackReaders() bool { return s.cfg.TrackReaders }

// Link returns the tracked URL of article (0: the alert's own URL) in an
// email of kind and scope to reader; the reader is left out unless readers
// are tracked, so every reader of a run gets the same link.
func (s *Service) Link(kind Kind, scope, article, reader int64) string {
	l := Link{Kind: kind, Scope: scope, Article: article}
	if s.cfg.TrackReaders {
		l.Reader = reader
		return s.cfg.BaseURL + "/r/" + s.tokens.Sign(l)
	}
	s.linksMu.Lock()
	defer s.linksMu.Unlock()
	if u, ok := s.links[l]; ok {
		return u
	}
	if s.links == nil || len(s.links) >= maxLinks {
		s.links = make(map[Link]string)
	}
	u := s.cfg.BaseURL + "/r/" + s.tokens.Sign(l)
	s.links[l] = u
	return u
}

// maxLinks bounds the shared links kept (see Service.links).
const maxLinks = 4096

// Resolve verifies a token and returns it and the URL it leads to: the
// stored URL of its article, or of its alert. ErrInvalid: not a token of
// ours; ErrNoTarget: its article or alert is gone; ErrBadTarget: the
// stored URL is not http(s).
func (s *Service) Resolve(ctx context.Context, tok string) (Link, string, error) {
	l, err := s.tokens.Verify(tok)
	if err != nil {
		return l, "", err
	}
	key := urlKey{alert: true, id: l.Scope}
	if l.Article != 0 {
		key = urlKey{id: l.Article}
	}
	id := key.id
	if v, ok := s.urls.Load(key); ok {
		return l, v.(string), nil
	}
	var target string
	if l.Article != 0 {
		a, err := s.st.Article(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return l, "", ErrNoTarget
		}
		if err != nil {
			return l, "", err
		}
		target = a.URL
	} else {
		a, err := s.st.AlertBare(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return l, "", ErrNoTarget
		}
		if err != nil {
			return l, "", err
		}
		target = a.URL
	}
	if !httpURL(target) {
		return l, "", ErrBadTarget
	}
	s.mu.Lock()
	s.nurl++
	if s.nurl > 100_000 {
		// Old stories are rarely clicked: start the cache afresh rather
		// than let it grow with every article ever sent.
		s.urls.Clear()
		s.nurl = 1
	}
	s.mu.Unlock()
	s.urls.Store(key, target)
	return l, target, nil
}

// httpURL reports whether u is an absolute http(s) URL with a host.
func httpURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != "" && p.User == nil
}

// Record counts a click on l, made with method by client (its address)
// with userAgent: anything but GET (HEAD, or "PREFETCH" for a browser's
// prefetch) is counted as a scanner's. It holds the click in memory: the loop writes it.
func (s *Service) Record(l Link, method, client, userAgent string) {
	if len(userAgent) > 256 {
		userAgent = userAgent[:256]
	}
	e := &event{link: l, at: s.cfg.Now(), client: client + "\x00" + userAgent,
		scanner: method != "GET" || ScannerAgent(userAgent)}
	s.mu.Lock()
	if len(s.pending) >= maxPending {
		s.dropped++
		s.mu.Unlock()
		return
	}
	s.pending = append(s.pending, e)
	s.mu.Unlock()
}

// Start runs the loop that writes clicks.
func (s *Service) Start(ctx context.Context) error {
	ctx, ok := s.Begin(ctx)
	if !ok {
		return nil
	}
	s.Go(func() {
		t := time.NewTicker(s.cfg.Flush)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := s.RunOnce(ctx, false); err != nil && ctx.Err() == nil {
				s.cfg.Log.Error("write clicks", "err", err)
			}
		}
	})
	return nil
}

// Stop ends the loop and writes every click still held. A service never
// started (an instance without the HTTP side) holds none and writes
// nothing.
func (s *Service) Stop(ctx context.Context) {
	if !s.Running() {
		return
	}
	s.Base.Stop()
	if err := s.RunOnce(ctx, true); err != nil {
		s.cfg.Log.Error("write clicks", "err", err)
	}
}

// RunOnce writes the clicks whose burst is over (all of them with all):
// judged, counted per scope, article and day, with their scope's new
// distinct clickers and, when readers are tracked, per reader. Called by
// the loop; tests call it directly.
func (s *Service) RunOnce(ctx context.Context, all bool) error {
	now := s.cfg.Now()
	if now.Sub(s.lastForgo) > time.Hour {
		// The clickers of a scope are forgotten after its first week.
		if err := s.st.ForgetClickers(ctx, now.Add(-7*24*time.Hour)); err != nil {
			return err
		}
		s.lastForgo = now
		clear(s.salts)
	}
	s.mu.Lock()
	evs := s.pending
	s.pending = nil
	dropped := s.dropped
	s.dropped = 0
	s.mu.Unlock()
	if dropped > 0 {
		s.cfg.Log.Warn("clicks dropped: more held than the writer keeps up with", "count", dropped)
	}
	if len(evs) == 0 {
		return nil
	}
	// Group by scope and client; a group whose last fetch is within the
	// burst window waits for the next round, unless it has waited a
	// minute already (a client clicking every few seconds for ever) or
	// holds maxHeldPerClient fetches (a client hammering a link, whose
	// clicks would otherwise fill the buffer, and drop everyone's, for as
	// long as it keeps going).
	type gkey struct {
		kind   Kind
		scope  int64
		client string
	}
	groups := map[gkey][]*event{}
	for _, e := range evs {
		k := gkey{e.link.Kind, e.link.Scope, e.client}
		groups[k] = append(groups[k], e)
	}
	var ready, wait []*event
	for _, g := range groups {
		last, first := g[len(g)-1].at, g[0].at
		if !all && len(g) < maxHeldPerClient && now.Sub(last) < BurstWindow && now.Sub(first) < time.Minute {
			wait = append(wait, g...)
			continue
		}
		markBursts(g)
		ready = append(ready, g...)
	}
	if len(wait) > 0 {
		sort.Slice(wait, func(i, j int) bool { return wait[i].at.Before(wait[j].at) })
		s.mu.Lock()
		s.pending = append(wait, s.pending...)
		s.mu.Unlock()
	}
	if len(ready) == 0 {
		return nil
	}
	b, human, scanner, err := s.batch(ctx, ready)
	if err == nil {
		err = s.st.AddClicks(ctx, b)
	}
	if err != nil {
		// Kept for the next round (within the bound): a database that
		// failed a moment loses no clicks.
		s.mu.Lock()
		if len(s.pending)+len(ready) <= maxPending {
			s.pending = append(ready, s.pending...)
		} else {
			s.dropped += len(ready)
		}
		s.mu.Unlock()
		return err
	}
	if s.cfg.Counted != nil {
		s.cfg.Counted(human, scanner)
	}
	return nil
}

// batch turns judged clicks into what the store adds.
func (s *Service) batch(ctx context.Context, evs []*event) (store.ClickBatch, int, int, error) {
	type ckey struct {
		sc      store.ClickScope
		article int64
		day     int64
	}
	counts := map[ckey]*store.ClickCount{}
	clickers := map[store.ClickScope]map[string]bool{}
	var b store.ClickBatch
	human, scanner := 0, 0
	for _, e := range evs {
		sc := scopeOf(e.link)
		day := e.at.UTC().Truncate(24 * time.Hour)
		k := ckey{sc, e.link.Article, day.Unix()}
		c := counts[k]
		if c == nil {
			c = &store.ClickCount{ClickScope: sc, ArticleID: e.link.Article, Day: day}
			counts[k] = c
		}
		if e.scanner {
			c.Scanner++
			scanner++
		} else {
			c.Human++
			human++
			salt, err := s.salt(ctx, sc, e.at)
			if err != nil {
				return b, 0, 0, err
			}
			if salt != "" {
				if clickers[sc] == nil {
					clickers[sc] = map[string]bool{}
				}
				clickers[sc][clickerHash(salt, e)] = true
			}
		}
		if e.link.Reader != 0 && s.cfg.TrackReaders {
			b.Readers = append(b.Readers, store.ReaderClick{ClickScope: sc, SubscriberID: e.link.Reader,
				ArticleID: e.link.Article, Scanner: e.scanner, At: e.at})
		}
	}
	for _, c := range counts {
		b.Counts = append(b.Counts, *c)
	}
	b.Clickers = map[store.ClickScope][]string{}
	for sc, hs := range clickers {
		for h := range hs {
			b.Clickers[sc] = append(b.Clickers[sc], h)
		}
	}
	return b, human, scanner, nil
}

func scopeOf(l Link) store.ClickScope {
	if l.Kind == KindAlert {
		return store.ClickScope{AlertID: l.Scope}
	}
	return store.ClickScope{RunID: l.Scope}
}

func (s *Service) salt(ctx context.Context, sc store.ClickScope, at time.Time) (string, error) {
	if v, ok := s.salts[sc]; ok {
		return v, nil
	}
	v, err := s.st.ClickSalt(ctx, sc, at)
	if err != nil {
		return "", err
	}
	if len(s.salts) > 10_000 {
		clear(s.salts)
	}
	s.salts[sc] = v
	return v, nil
}

// clickerHash is a clicker's keyed hash in its scope: the reader when the
// token names one, else the client's address and User-Agent. The salt is
// the scope's own and is forgotten with its hashes, after which no hash
// can be matched to anyone.
func clickerHash(salt string, e *event) string {
	m := hmac.New(sha256.New, []byte(salt))
	if e.link.Reader != 0 {
		m.Write([]byte("r" + strconv.FormatInt(e.link.Reader, 10)))
	} else {
		m.Write([]byte("c" + e.client))
	}
	return hex.EncodeToString(m.Sum(nil)[:16])
}
