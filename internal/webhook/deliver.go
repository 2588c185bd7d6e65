package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/crieur/crieur/internal/dispatch"
	"github.com/crieur/crieur/internal/netguard"
	"github.com/crieur/crieur/internal/startstop"
	"github.com/crieur/crieur/internal/store"
)

// Config wires a Deliverer.
type Config struct {
	Store *store.Store
	// Client posts the messages; nil: one through netguard's strict
	// policy. It must not follow redirects (NewClient's does not).
	Client *http.Client
	Log    *slog.Logger
	// Owner names this process's workers (dispatch.OwnerName), Host its
	// machine: claims of dead processes of this host are taken back at
	// Start.
	Owner, Host string
	// RetryBase is the first retry's delay (default 5s); it doubles up
	// to an hour.
	RetryBase time.Duration
	// Lease is how long a claim may stay unrecorded before it is taken
	// back (default 2m; more than a request's Timeout).
	Lease time.Duration
	// Batch is how many deliveries are sent at once (default 8).
	Batch int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Timeout bounds one request.
const Timeout = 15 * time.Second

// NewClient returns the HTTP client of the deliverer: connections dialled
// through policy (no private addresses unless it allows them), no
// redirects followed (a 3xx is a failure, as Standard Webhooks advises).
func NewClient(policy netguard.Policy) *http.Client {
	c := policy.HTTPClient(Timeout)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// Deliverer posts queued events to their endpoints: a startstop service
// with one goroutine, which claims a batch, sends it concurrently and
// records each outcome under its claim.
type Deliverer struct {
	cfg  Config
	wake chan struct{}
	life startstop.Base
	// stopSends cancels the requests in flight, at the end of Stop's
	// grace.
	mu        sync.Mutex
	stopSends context.CancelFunc
}

// New returns a Deliverer; Start runs it.
func New(cfg Config) *Deliverer {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Client == nil {
		cfg.Client = NewClient(netguard.Policy{})
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 5 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	cfg.Lease = max(cfg.Lease, Timeout+5*time.Second)
	if cfg.Batch <= 0 {
		cfg.Batch = 8
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Deliverer{cfg: cfg, wake: make(chan struct{}, 1)}
}

// Wake makes the deliverer look for work now.
func (d *Deliverer) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Start takes back what dead processes of this machine left claimed, then
// delivers until Stop.
func (d *Deliverer) Start(ctx context.Context) error {
	if d.life.Running() {
		return nil
	}
	if err := d.rescueDeadOwners(ctx); err != nil {
		return err
	}
	ctx, ok := d.life.Begin(ctx)
	if !ok {
		return nil
	}
	sendCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.mu.Lock()
	d.stopSends = cancel
	d.mu.Unlock()
	d.life.Go(func() { d.loop(ctx, sendCtx) })
	return nil
}

// Stop stops claiming; the requests in flight finish until ctx is done,
// then are cancelled and their deliveries go back to the queue.
func (d *Deliverer) Stop(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		d.life.Stop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		d.mu.Lock()
		if d.stopSends != nil {
			d.stopSends()
		}
		d.mu.Unlock()
		<-done
	}
	d.mu.Lock()
	if d.stopSends != nil {
		d.stopSends()
	}
	d.mu.Unlock()
}

func (d *Deliverer) rescueDeadOwners(ctx context.Context) error {
	owners, err := d.cfg.Store.WebhookClaimOwners(ctx)
	if err != nil {
		return err
	}
	for _, o := range owners {
		if !dispatch.OwnerGone(o, d.cfg.Host, d.cfg.Owner) {
			continue
		}
		n, err := d.cfg.Store.RescueWebhookOwner(ctx, o)
		if err != nil {
			return err
		}
		if n > 0 {
			d.cfg.Log.Info("returned interrupted webhook deliveries to the queue", "count", n)
		}
	}
	return nil
}

func (d *Deliverer) loop(ctx, sendCtx context.Context) {
	lastRescue, lastClean := d.cfg.Now(), time.Time{}
	for ctx.Err() == nil {
		n, err := d.RunOnce(ctx, sendCtx)
		if err != nil && ctx.Err() == nil {
			d.cfg.Log.Error("deliver webhooks", "err", err)
		}
		now := d.cfg.Now()
		if now.Sub(lastRescue) > d.cfg.Lease/4 {
			lastRescue = now
			if n, err := d.cfg.Store.RescueWebhooks(ctx, now.Add(-d.cfg.Lease)); err != nil && ctx.Err() == nil {
				d.cfg.Log.Error("rescue webhook deliveries", "err", err)
			} else if n > 0 {
				d.cfg.Log.Info("rescued webhook deliveries from a dead worker", "count", n)
				continue
			}
		}
		if now.Sub(lastClean) > time.Hour {
			lastClean = now
			// The delivery log keeps a week.
			if err := d.cfg.Store.CleanWebhooks(ctx, now.Add(-7*24*time.Hour)); err != nil && ctx.Err() == nil {
				d.cfg.Log.Error("clean webhook deliveries", "err", err)
			}
		}
		if n > 0 {
			continue
		}
		wait := time.Second
		if due, err := d.cfg.Store.NextWebhookDue(ctx); err == nil && !due.IsZero() {
			wait = min(max(due.Sub(now), 10*time.Millisecond), wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// RunOnce claims one batch, sends it and records every outcome; it
// returns how many it claimed. sendCtx bounds the requests.
func (d *Deliverer) RunOnce(ctx, sendCtx context.Context) (int, error) {
	jobs, err := d.cfg.Store.ClaimWebhooks(ctx, d.cfg.Owner, d.cfg.Now(), d.cfg.Batch)
	if err != nil {
		return 0, err
	}
	outs := make([]store.WebhookOutcome, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { outs[i] = d.send(sendCtx, j) })
	}
	wg.Wait()
	// Outcomes are recorded even while stopping: a claim left unrecorded
	// would wait for the lease.
	rctx := context.WithoutCancel(ctx)
	for _, o := range outs {
		disabled, err := d.cfg.Store.RecordWebhook(rctx, o, d.cfg.Now())
		if err != nil {
			return len(jobs), err
		}
		if disabled {
			d.cfg.Log.Warn("webhook endpoint disabled after a day of failures", "endpoint_id", o.Job.EndpointID)
		}
	}
	return len(jobs), nil
}

// MessageID is the webhook-id of an event: the same on every attempt and
// for every endpoint, so receivers drop what they already processed.
func MessageID(eventID int64) string { return "msg_" + strconv.FormatInt(eventID, 10) }

func (d *Deliverer) send(ctx context.Context, j store.WebhookJob) store.WebhookOutcome {
	o := store.WebhookOutcome{Job: j}
	if ctx.Err() != nil {
		o.Verdict = store.WebhookReleased
		return o
	}
	now := d.cfg.Now()
	id := MessageID(j.EventID)
	sig, err := Sign(j.Secret, id, now, j.Body)
	if err != nil {
		return d.retry(o, 0, err.Error())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.URL, bytes.NewReader(j.Body))
	if err != nil {
		return d.retry(o, 0, "bad url")
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "crieur-webhooks/1")
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	start := time.Now()
	resp, err := d.cfg.Client.Do(req)
	o.Latency = time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			o.Verdict = store.WebhookReleased
			return o
		}
		return d.retry(o, 0, requestError(err))
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	o.Status = resp.StatusCode
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		o.Verdict = store.WebhookSent
		return o
	}
	msg := "HTTP " + strconv.Itoa(resp.StatusCode)
	if s := oneLine(string(snippet)); s != "" {
		msg += ": " + s
	}
	return d.retry(o, resp.StatusCode, msg)
}

func (d *Deliverer) retry(o store.WebhookOutcome, status int, msg string) store.WebhookOutcome {
	o.Verdict, o.Status, o.Error = store.WebhookRetry, status, msg
	o.RetryAt = d.cfg.Now().Add(dispatch.Backoff(o.Job.Attempts, d.cfg.RetryBase, time.Hour))
	return o
}

// requestError says why a request failed without the URL (which may hold
// a token in its query).
func requestError(err error) string {
	switch {
	case errors.Is(err, netguard.ErrNotAllowed):
		return "destination not allowed (private or reserved address)"
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %s", Timeout)
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return oneLine(inner.Error())
		}
	}
	return oneLine(err.Error())
}

// oneLine keeps the first 200 printable characters of s on one line.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
