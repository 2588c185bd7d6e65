package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/store"
)

// PushSender sends one push message; *push.Sender is one.
type PushSender interface {
	Send(ctx context.Context, sub push.Subscription, m push.Message) push.Result
}

// PushObserver counts push outcomes for metrics; nil-safe.
type PushObserver interface {
	PushDone(outcome string)
}

// PushConfig tunes the push pipeline.
type PushConfig struct {
	Store    *store.Store
	Sender   PushSender
	Observer PushObserver
	Log      *slog.Logger
	Owner    string
	// Concurrency is the number of requests in flight (default 1024: a
	// push service tens of milliseconds away answers 1024 in flight at
	// about 20,000 a second over a dozen HTTP/2 connections, more than
	// two cores can encrypt, so the CPU bounds the rate rather than the
	// window; at 512 and 50 ms the window alone held an alert to a
	// million browsers over 98 s).
	Concurrency int
	// MaxAttempts before a retryable failure becomes final (default 8).
	MaxAttempts int
	// RetryBase is the first retry delay when the push service gives no
	// Retry-After (default 2s: the contract wants a first retry within 10s).
	RetryBase time.Duration
	// Icon is the notification icon URL, if any.
	Icon string
	Now  func() time.Time
	// Lease: see MailConfig.Lease.
	Lease time.Duration
	// Location is the zone of browsers that gave none (CRIEUR_TIMEZONE;
	// default UTC), for quiet hours and daily caps.
	Location *time.Location
	// Drained: see MailConfig.Drained (for alerts).
	Drained func()
}

// Pusher fans alerts out to browsers.
type Pusher struct {
	cfg    PushConfig
	p      pipeline[store.PushTarget]
	alerts sync.Map // id → *alertMsg
	// firstRead serialises the first read of an alert (see message).
	firstRead sync.Mutex
}

// alertMsg is an alert's push message, built once and shared by every
// worker (the payload is never modified).
type alertMsg struct {
	msg      push.Message
	deadline time.Time // past it the message has expired (TTL)
	state    news.AlertState
	priority news.Priority
	loaded   time.Time
	// reloading: a worker is reading the alert again (see message).
	reloading atomic.Bool
}

// Payload is the JSON a service worker receives.
type Payload struct {
	Title   string `json:"title"`
	Body    string `json:"body"`
	URL     string `json:"url"`
	Icon    string `json:"icon,omitempty"`
	Image   string `json:"image,omitempty"`
	AlertID string `json:"alert_id"`
	Tag     string `json:"tag,omitempty"`
}

// NewPusher returns a Pusher; Start runs it.
func NewPusher(cfg PushConfig) *Pusher {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1024
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	p := &Pusher{cfg: cfg}
	p.p = pipeline[store.PushTarget]{
		name:    "push",
		log:     cfg.Log,
		workers: cfg.Concurrency,
		batch:   max(256, cfg.Concurrency*4),
		poll:    500 * time.Millisecond,
		claim: func(ctx context.Context, n int) ([]store.PushTarget, error) {
			return cfg.Store.ClaimPush(ctx, cfg.Owner, cfg.Now(), n)
		},
		work: p.send,
		touch: func(ctx context.Context, keys []news.ClaimKey) error {
			return cfg.Store.TouchClaims(ctx, cfg.Owner, keys, cfg.Now())
		},
		heartbeat: cfg.Lease / 3,
		onDrained: cfg.Drained,
		nextDue:   func(ctx context.Context) (time.Time, error) { return cfg.Store.NextDue(ctx, false) },
		record: func(ctx context.Context, rs []store.Result) (int, error) {
			return cfg.Store.RecordPush(ctx, rs, cfg.Now())
		},
	}
	p.p.init()
	return p
}

// Start runs the workers until Stop; starting a started Pusher does
// nothing.
func (p *Pusher) Start(ctx context.Context) error { return p.p.Start(ctx) }

// Stop stops claiming, waits until ctx is done for requests in flight,
// returns the rest to the queue and records every outcome.
func (p *Pusher) Stop(ctx context.Context) {
	if !p.p.Stop(ctx) {
		return // not running, or stopped by another Stop
	}
	// Every outcome is recorded: the windows still held go back to the
	// queue with their browsers not sent. Should this fail, the next start
	// takes them back from this dead owner.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.cfg.Store.ReleasePushWindows(ctx, p.cfg.Owner); err != nil {
		p.cfg.Log.Error("release push windows", "err", err)
	}
}

// Wake makes the workers look for work now.
func (p *Pusher) Wake() { p.p.Wake() }

func (p *Pusher) message(ctx context.Context, id int64) (*alertMsg, error) {
	if v, ok := p.alerts.Load(id); ok {
		m := v.(*alertMsg)
		// Re-read now and then so a cancel made on another instance is seen
		// (a cancel made here is seen at once: see Cancelled). One worker
		// re-reads; the others go on with what was read meanwhile, rather
		// than hundreds of workers reading the same row at once.
		if time.Since(m.loaded) < 500*time.Millisecond || !m.reloading.CompareAndSwap(false, true) {
			return m, nil
		}
		defer m.reloading.Store(false) // when the read failed; a stored reread replaces m
	} else {
		// The first read: one worker reads while the others wait for it,
		// rather than every worker (1,024 by default) querying the same
		// row before the first push can leave.
		p.firstRead.Lock()
		defer p.firstRead.Unlock()
		if v, ok := p.alerts.Load(id); ok {
			return v.(*alertMsg), nil
		}
	}
	a, err := p.cfg.Store.AlertBare(ctx, id)
	if err != nil {
		return nil, err
	}
	payload, err := p.payload(a.Alert)
	if err != nil {
		return nil, err
	}
	start := a.SendAt
	if start.IsZero() || start.Before(a.CreatedAt) {
		start = a.CreatedAt
	}
	m := &alertMsg{
		msg:      push.Message{Payload: payload[:len(payload):len(payload)], TTL: a.TTL, Urgency: string(a.Urgency), Topic: a.TopicHeader},
		deadline: start.Add(a.TTL),
		state:    a.State,
		priority: a.Priority,
		loaded:   time.Now(),
	}
	p.alerts.Store(id, m)
	return m, nil
}

// CheckPayload refuses an alert whose push message would not fit one push
// record (push.MaxPayload bytes of JSON): every message of it would fail.
// The title, body and URL limits alone do not ensure it: JSON escapes
// "<", ">" and "&" to six bytes each.
func (p *Pusher) CheckPayload(a news.Alert) error {
	a.ID = math.MaxInt64 // the longest id it could get
	b, err := p.payload(a)
	if err != nil {
		return err
	}
	if n := len(b); n > push.MaxPayload {
		return news.FieldError(news.CodeInvalid, "body", "the alert is too long for a push notification (%d bytes of at most %d once encoded): shorten the body, title or links", n, push.MaxPayload)
	}
	return nil
}

// payload is the JSON a service worker receives for alert a.
func (p *Pusher) payload(a news.Alert) ([]byte, error) {
	return json.Marshal(Payload{Title: a.Title, Body: a.Body, URL: a.URL, Icon: p.cfg.Icon, Image: a.ImageURL,
		AlertID: strconv.FormatInt(a.ID, 10), Tag: a.TopicHeader})
}

// Cancelled tells the workers of this instance that alert id was
// cancelled, so that the messages they already claimed (the store cancels
// only the unclaimed ones) do not go out either.
func (p *Pusher) Cancelled(id int64) {
	if v, ok := p.alerts.Load(id); ok {
		old := v.(*alertMsg)
		p.alerts.Store(id, &alertMsg{msg: old.msg, deadline: old.deadline, state: news.AlertCancelled, priority: old.priority, loaded: old.loaded})
	}
}

// send sends one claimed message and says what became of it (the pipeline
// ties the outcome to t's claim).
func (p *Pusher) send(ctx context.Context, _ int, t store.PushTarget) store.Result {
	now := p.cfg.Now()
	if t.SubscriptionID == 0 || t.Endpoint == "" {
		return store.Result{State: news.DeliveryExpired, Error: "subscription removed"}
	}
	m, err := p.message(ctx, t.AlertID)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return store.Result{Release: true}
	case errors.Is(err, store.ErrNotFound):
		return store.Result{State: news.DeliveryFailed, Error: "load alert: " + err.Error()}
	default:
		// The database is away (restarting, say): the message waits and
		// is tried again, as a push service's 5xx is, rather than failing
		// for good.
		p.cfg.Log.Warn("load alert failed; message retried", "alert_id", t.AlertID, "err", err)
		if t.Attempts >= p.cfg.MaxAttempts {
			return store.Result{State: news.DeliveryFailed, Error: "load alert: " + err.Error()}
		}
		return store.Result{State: news.DeliveryPending, NextAttempt: now.Add(Backoff(t.Attempts, p.cfg.RetryBase, 10*time.Minute)),
			Error: "load alert: " + errText(err)}
	}
	if m.state == news.AlertCancelled {
		return store.Result{State: news.DeliveryCancelled, Error: "alert cancelled"}
	}
	msg := m.msg
	switch {
	case msg.TTL == 0 && t.Attempts > 1:
		// TTL 0 asks the push service for delivery now or never (RFC 8030
		// §5.2): each browser gets one attempt, whenever the fan-out
		// reaches it, and a message turned away (or rescued from a dead
		// worker) is not sent late.
		p.observe("expired")
		return store.Result{State: news.DeliveryExpired, Error: "TTL 0: no second attempt"}
	case msg.TTL > 0 && m.deadline.Before(now):
		p.observe("expired")
		return store.Result{State: news.DeliveryExpired, Error: "TTL passed before delivery"}
	}
	// A retried (or rescued) message gets what is left of the TTL, so that
	// it does not outlive the alert, in whole seconds rounded up (the header
	// counts seconds). A first attempt carries the alert's TTL as the editor
	// set it: 3600, not 3599 because the fan-out took a moment.
	if left := m.deadline.Sub(now); t.Attempts > 1 && left < msg.TTL {
		msg.TTL = min(msg.TTL, (left + time.Second - 1).Truncate(time.Second))
	}
	slot, held := p.timing(ctx, t, m, now)
	if held != nil {
		return *held
	}
	res := p.cfg.Sender.Send(ctx, push.Subscription{Endpoint: t.Endpoint, P256dh: t.P256dh, Auth: t.Auth}, msg)
	p.settle(ctx, slot, res.Outcome == push.Delivered)
	switch res.Outcome {
	case push.Delivered:
		p.observe("delivered")
		// Refusals is the count when the message was claimed: a refusal of
		// an alert sent alongside, counted since, stays counted (a removal
		// still takes three refusals), and deliveries write nothing more.
		if t.Refusals > 0 {
			if err := p.cfg.Store.ResetPushRefusals(context.WithoutCancel(ctx), t.SubscriptionID); err != nil {
				p.cfg.Log.Error("reset push refusals", "subscription_id", t.SubscriptionID, "err", err)
			}
		}
		return store.Result{State: news.DeliverySent, Status: res.Status}
	case push.Gone:
		p.observe("gone")
		if err := p.cfg.Store.DeletePushSubscriptionByID(context.WithoutCancel(ctx), t.SubscriptionID); err != nil {
			p.cfg.Log.Error("delete gone subscription", "subscription_id", t.SubscriptionID, "err", err)
		}
		return store.Result{State: news.DeliveryExpired, Status: res.Status, Error: "subscription gone"}
	case push.Retry:
		if ctx.Err() != nil {
			return store.Result{Release: true}
		}
		p.observe("retry")
		wait := max(res.RetryAfter, Backoff(t.Attempts, p.cfg.RetryBase, 10*time.Minute))
		// From the answer, not from the start of the send: a Retry-After
		// counts from the response, and a send slowed by a busy machine
		// must not bring the retry forward.
		next := p.cfg.Now().Add(wait)
		reason := errText(res.Err)
		if t.Attempts >= p.cfg.MaxAttempts {
			return store.Result{State: news.DeliveryFailed, Status: res.Status, Error: fmt.Sprintf("gave up after %d attempts: %s", t.Attempts, reason)}
		}
		if next.After(m.deadline) {
			return store.Result{State: news.DeliveryExpired, Status: res.Status, Error: "TTL passes before the next try: " + reason}
		}
		return store.Result{State: news.DeliveryPending, NextAttempt: next, Status: res.Status, Error: reason}
	default:
		p.observe("failed")
		p.cfg.Log.Warn("push refused", "alert_id", t.AlertID, "subscription_id", t.SubscriptionID, "status", res.Status, "err", errText(res.Err))
		reason := errText(res.Err)
		if res.Refused() && p.refusedTooOften(ctx, t) {
			reason += "; subscription removed after refusing " + strconv.Itoa(push.MaxRefusals) + " alerts in a row"
		}
		return store.Result{State: news.DeliveryFailed, Status: res.Status, Error: reason}
	}
}

// refusedTooOften counts a refusal of t's subscription and reports whether
// it was the last one allowed (push.MaxRefusals in a row), which removes
// the subscription: an endpoint that is no push service, or that no longer
// takes this subscription, is not posted every alert forever.
func (p *Pusher) refusedTooOften(ctx context.Context, t store.PushTarget) bool {
	removed, err := p.cfg.Store.RecordPushRefusal(context.WithoutCancel(ctx), t.SubscriptionID, push.MaxRefusals)
	if err != nil {
		p.cfg.Log.Error("count push refusal", "subscription_id", t.SubscriptionID, "err", err)
		return false
	}
	if removed {
		p.cfg.Log.Info("push subscription removed: refused too many alerts in a row", "subscription_id", t.SubscriptionID, "refusals", push.MaxRefusals)
	}
	return removed
}

func (p *Pusher) observe(outcome string) {
	if p.cfg.Observer != nil {
		p.cfg.Observer.PushDone(outcome)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}
