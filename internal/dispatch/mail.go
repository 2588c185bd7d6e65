package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/crieur/crieur/internal/bounce"
	"github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// Builder composes the bytes of one claimed email.
type Builder interface {
	// BuildAppend composes into dst's storage (its content is dropped),
	// which the worker passes back for its next message.
	BuildAppend(ctx context.Context, d store.Delivery, dst []byte) (rcpt string, raw []byte, err error)
}

// Bouncer records a permanent refusal of one address at RCPT as a hard
// bounce in its reader's history (bounce.Recorder): the reader becomes
// bounced and is suppressed, as after a bounce report.
type Bouncer interface {
	Record(ctx context.Context, r bounce.Report) (bounce.Outcome, error)
}

// Observer counts outcomes for metrics; nil-safe.
type Observer interface {
	EmailSent(kind news.MailKind)
	EmailFailed(kind news.MailKind, reason string)
}

// MailConfig tunes the email pipeline.
type MailConfig struct {
	Store     *store.Store
	Transport mail.Transport
	Builder   Builder
	Bouncer   Bouncer
	Observer  Observer
	Log       *slog.Logger
	// EnvelopeFrom is the SMTP return path.
	EnvelopeFrom string
	// ReturnPath, when set, gives each email its own return path instead
	// (VERP: b-TOKEN@CRIEUR_BOUNCE_DOMAIN), so a bounce names its delivery.
	ReturnPath func(store.Delivery) string
	// Owner names this instance in lock columns.
	Owner string
	// Connections is the number of parallel SMTP connections (default 4).
	Connections int
	// RatePerSecond caps messages per second (0: unlimited).
	RatePerSecond float64
	// MaxAttempts before a temporary failure becomes final (default 16:
	// with the default 5s base doubling to a 30 min cap, about four hours,
	// so a mail server down for the morning does not cost a digest).
	MaxAttempts int
	// RetryBase is the first retry delay (default 5s).
	RetryBase time.Duration
	// SendTimeout bounds one message (default 60s).
	SendTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// RecipientBreaker is how many recipient refusals in a row (no message
	// accepted in between) suppress their readers before the Mailer reads
	// them as the server refusing everyone and pauses (default 20).
	RecipientBreaker int
	// Lease is how long a claimed row may go unrenewed before another
	// worker takes it back; the Mailer renews its rows every third of it.
	Lease time.Duration
	// Drained, when set, is called (it must not block) when every email
	// claimed has been recorded and none more is due: the daemon closes
	// the digest runs and alerts that just sent their last message then,
	// not up to a second later.
	Drained func()
}

// Mailer sends queued emails.
type Mailer struct {
	cfg     MailConfig
	p       pipeline[store.Delivery]
	breaker breaker
	limiter *rate.Limiter
	mu      sync.Mutex
	senders []mail.Sender
	// bufs holds each worker's last message, whose storage composes its
	// next one (workers are indexed, one message at a time each).
	bufs [][]byte
}

// NewMailer returns a Mailer; Start runs it.
func NewMailer(cfg MailConfig) *Mailer {
	if cfg.Connections <= 0 {
		cfg.Connections = 4
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 16
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 5 * time.Second
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 60 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RecipientBreaker <= 0 {
		cfg.RecipientBreaker = defaultRecipientBreaker
	}
	m := &Mailer{cfg: cfg, senders: make([]mail.Sender, cfg.Connections), bufs: make([][]byte, cfg.Connections)}
	if cfg.RatePerSecond > 0 {
		m.limiter = rate.NewLimiter(rate.Limit(cfg.RatePerSecond), max(1, int(cfg.RatePerSecond/10)))
	}
	m.p = pipeline[store.Delivery]{
		name:    "email",
		log:     cfg.Log,
		workers: cfg.Connections,
		batch:   max(16, cfg.Connections*8),
		claim:   m.claim,
		work:    m.send,
		nextDue: func(ctx context.Context) (time.Time, error) { return cfg.Store.NextDue(ctx, true) },
		record: func(ctx context.Context, rs []store.Result) (int, error) {
			return cfg.Store.RecordDeliveries(ctx, rs, cfg.Now())
		},
		touch: func(ctx context.Context, keys []news.ClaimKey) error {
			return cfg.Store.TouchClaims(ctx, cfg.Owner, keys, cfg.Now())
		},
		heartbeat: cfg.Lease / 3,
		onDrained: cfg.Drained,
		closeWorker: func(w int) {
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.senders[w] != nil {
				m.senders[w].Close()
				m.senders[w] = nil
			}
		},
	}
	m.p.init()
	return m
}

// claim claims up to n due emails and reads their readers in one query
// (one query per message was a tenth of a digest's CPU). A reader is read
// when the claim is, a few milliseconds before their message is built;
// an unsubscribe in between is as late as one during the send.
func (m *Mailer) claim(ctx context.Context, n int) ([]store.Delivery, error) {
	ds, err := m.cfg.Store.ClaimDeliveries(ctx, m.cfg.Owner, m.cfg.Now(), n)
	if err != nil || len(ds) == 0 {
		return ds, err
	}
	ids := make([]int64, 0, len(ds))
	for _, d := range ds {
		if d.SubscriberID != 0 && d.Kind != news.MailPreview {
			ids = append(ids, d.SubscriberID)
		}
	}
	if len(ids) == 0 {
		return ds, nil
	}
	readers, err := m.cfg.Store.SubscribersByID(ctx, ids)
	if err != nil {
		// The builder reads each reader itself then: slower, not wrong.
		if ctx.Err() == nil {
			m.cfg.Log.Warn("read the readers of a claim failed", "count", len(ids), "err", err)
		}
		return ds, nil
	}
	for i := range ds {
		if sub, ok := readers[ds[i].SubscriberID]; ok && ds[i].Kind != news.MailPreview {
			ds[i].Reader = &sub
		}
	}
	return ds, nil
}

// Start runs the workers until Stop; starting a started Mailer does
// nothing.
func (m *Mailer) Start(ctx context.Context) error { return m.p.Start(ctx) }

// Stop stops claiming, waits until ctx is done for messages on the wire,
// returns the rest to the queue and records every outcome.
func (m *Mailer) Stop(ctx context.Context) { m.p.Stop(ctx) }

// Wake makes the workers look for work now.
func (m *Mailer) Wake() { m.p.Wake() }

func (m *Mailer) sender(ctx context.Context, w int) (mail.Sender, error) {
	m.mu.Lock()
	s := m.senders[w]
	m.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := m.cfg.Transport.NewSender(ctx)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.senders[w] = s
	m.mu.Unlock()
	return s, nil
}

func (m *Mailer) dropSender(w int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.senders[w] != nil {
		m.senders[w].Close()
		m.senders[w] = nil
	}
}

// send delivers one email and decides what its outcome means (the
// pipeline ties it to d's claim).
func (m *Mailer) send(ctx context.Context, w int, d store.Delivery) store.Result {
	now := m.cfg.Now()
	rcpt, raw, err := m.cfg.Builder.BuildAppend(ctx, d, m.bufs[w])
	if raw != nil {
		// Senders keep nothing of raw once Send returns.
		defer func() { m.bufs[w] = raw[:0] }()
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrNotDeliverable) {
			// The reader erased themselves or unsubscribed meanwhile.
			return store.Result{State: news.DeliveryCancelled, Error: "recipient gone: " + err.Error()}
		}
		if ctx.Err() != nil {
			return store.Result{Release: true}
		}
		m.cfg.Log.Error("compose email failed", "delivery_id", d.ID, "kind", d.Kind, "err", err)
		return m.retryOrFail(d, now, "compose: "+err.Error())
	}
	if m.limiter != nil {
		if err := m.limiter.Wait(ctx); err != nil {
			return store.Result{Release: true}
		}
	}
	sctx, cancel := context.WithTimeout(ctx, m.cfg.SendTimeout)
	defer cancel()
	from := m.cfg.EnvelopeFrom
	if m.cfg.ReturnPath != nil {
		from = m.cfg.ReturnPath(d)
	}
	s, err := m.sender(sctx, w)
	if err == nil {
		err = s.Send(sctx, from, rcpt, raw)
	}
	if err == nil {
		m.breaker.accepted()
		m.observeSent(d.Kind)
		return store.Result{State: news.DeliverySent}
	}
	if ctx.Err() != nil {
		// Shutting down mid-send: the server did not confirm, so the
		// message goes back to the queue.
		m.dropSender(w)
		return store.Result{Release: true}
	}
	se := mail.Classify(err)
	m.observeFailed(d.Kind, se.Kind.String())
	switch se.Kind {
	case mail.Recipient:
		// Only the server's replies count: an address refused here before
		// any exchange says nothing about the server.
		if se.Code != 0 {
			if run := m.breaker.refused(); run > m.cfg.RecipientBreaker {
				return m.trip(w, d, se, run, now)
			}
		}
		m.cfg.Log.Warn("recipient refused", "delivery_id", d.ID, "kind", d.Kind, "code", se.Code, "enhanced", se.Enhanced)
		// A preview goes to an editor: its refusal says nothing of the
		// reader it may have shown.
		if d.SubscriberID != 0 && d.Kind != news.MailPreview && m.cfg.Bouncer != nil {
			diag := ""
			if se.Err != nil {
				diag = se.Err.Error()
			}
			rep := bounce.Report{Kind: bounce.Hard, DeliveryID: d.ID, SubscriberID: d.SubscriberID, Status: se.Enhanced,
				Diagnostic: diag, At: now, Source: "rcpt"}
			if _, err := m.cfg.Bouncer.Record(ctx, rep); err != nil {
				m.cfg.Log.Error("suppress bounced address failed", "subscriber_id", d.SubscriberID, "err", err)
			}
		}
		return store.Result{State: news.DeliveryFailed, Error: shortErr(se)}
	case mail.Rejected:
		// The server refused this message (its content, size, a quota),
		// not the address: the reader stays subscribed.
		m.cfg.Log.Warn("message refused", "delivery_id", d.ID, "kind", d.Kind, "code", se.Code, "enhanced", se.Enhanced, "stage", se.Stage)
		return store.Result{State: news.DeliveryFailed, Error: shortErr(se)}
	case mail.Server:
		// Every further message would fail the same way: stop sending, say
		// why, and keep the message queued for when it is fixed.
		m.cfg.Log.Error("mail server refuses us; sending paused", "code", se.Code, "stage", se.Stage, "err", se.Err)
		m.halt(w, d.RunID, "mail server refused: "+shortErr(se))
		return store.Result{Release: true}
	default:
		m.dropSender(w)
		return m.retryOrFail(d, now, shortErr(se))
	}
}

func (m *Mailer) retryOrFail(d store.Delivery, now time.Time, reason string) store.Result {
	if d.Attempts >= m.cfg.MaxAttempts {
		return store.Result{State: news.DeliveryFailed, Error: fmt.Sprintf("gave up after %d attempts: %s", d.Attempts, reason)}
	}
	next := now.Add(Backoff(d.Attempts, m.cfg.RetryBase, 30*time.Minute))
	return store.Result{State: news.DeliveryPending, NextAttempt: next, Error: reason}
}

func shortErr(se *mail.SendError) string {
	s := se.Error()
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

func (m *Mailer) observeSent(k news.MailKind) {
	if m.cfg.Observer != nil {
		m.cfg.Observer.EmailSent(k)
	}
}

func (m *Mailer) observeFailed(k news.MailKind, reason string) {
	if m.cfg.Observer != nil {
		m.cfg.Observer.EmailFailed(k, reason)
	}
}

// ErrNotDeliverable says a queued email must not go out any more (the
// reader unsubscribed or is no longer confirmed).
var ErrNotDeliverable = errors.New("recipient no longer subscribed")
