// Package alert sends breaking-news alerts: it validates what an editor
// asks for, stores the alert, and writes its push (and email) deliveries in
// windows, waking the workers after each so the first push leaves within
// milliseconds while the rest are still being queued.
//
// It must not import dispatch, push or web: it writes deliveries and wakes
// the workers through the functions it is given.
package alert

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/startstop"
	"github.com/crieur/crieur/internal/store"
)

// DefaultTTL is how long push services keep an alert for offline devices
// when the editor does not say (never webpush-go's silent 0).
const DefaultTTL = time.Hour

// MaxTTL is the longest TTL accepted (4 weeks, what push services keep).
const MaxTTL = 28 * 24 * time.Hour

// window is how many subscriptions one enqueue transaction covers.
const window = 2000

// Service creates alerts and writes their deliveries.
type Service struct {
	st       *store.Store
	log      *slog.Logger
	now      func() time.Time
	wakePush func()
	wakeMail func()

	onCancel func(id int64)
	// fitsPush, when set, refuses an alert whose push message would not
	// fit one push record (the Pusher's CheckPayload).
	fitsPush func(news.Alert) error
	// approval: every alert waits for a second person (CRIEUR_ALERT_APPROVAL).
	approval bool
	// reachable checks an automatic alert's article URL (see auto.go).
	reachable func(ctx context.Context, url string) error

	wake chan struct{}
	life startstop.Base
	mu   sync.Mutex // one RunOnce at a time
	// checkMu: one round of article checks at a time (the checker loop).
	checkMu sync.Mutex
}

// New returns a Service; Start runs its enqueuer.
func New(st *store.Store, log *slog.Logger, now func() time.Time, wakePush, wakeMail func()) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, log: log, now: now, wakePush: wakePush, wakeMail: wakeMail, wake: make(chan struct{}, 1)}
}

// CheckPushWith makes Send and Preview refuse an alert that check refuses:
// the Pusher knows what its messages carry (the icon, the JSON escaping)
// and how much a push record holds.
func (s *Service) CheckPushWith(check func(news.Alert) error) { s.fitsPush = check }

// checkURL refuses a link field too long or not an absolute http(s) URL,
// saying which (news.HTTPURL alone refuses both alike).
func checkURL(field, u string) error {
	if len(u) > news.MaxURLLen {
		return news.FieldError(news.CodeInvalid, field, "%s must be at most %d characters", field, news.MaxURLLen)
	}
	if !news.HTTPURL(u) {
		return news.FieldError(news.CodeInvalid, field, "%s must be an absolute http(s) URL", field)
	}
	return nil
}

// validate checks an alert request and fills defaults.
func (s *Service) validate(ctx context.Context, r news.AlertRequest) (news.Alert, []int64, error) {
	a := news.Alert{Title: strings.TrimSpace(r.Title), Body: strings.TrimSpace(r.Body), URL: strings.TrimSpace(r.URL),
		ImageURL: strings.TrimSpace(r.ImageURL), Topics: r.Topics, Urgency: r.Urgency, Email: r.Email, Replaces: r.Replaces,
		CreatedBy: r.CreatedBy, SendAt: r.SendAt, Priority: r.Priority, CheckURL: r.CheckURL, ArticleID: r.ArticleID}
	if a.Priority == "" {
		a.Priority = news.Breaking
	}
	if !a.Priority.Valid() {
		return a, nil, news.FieldError(news.CodeInvalid, "priority", "priority must be breaking or normal")
	}
	if a.Title == "" || len([]rune(a.Title)) > 200 || strings.ContainsAny(a.Title, "\r\n\x00") {
		return a, nil, news.FieldError(news.CodeInvalid, "title", "title must be 1 to 200 characters on one line")
	}
	if len([]rune(a.Body)) > 1000 || strings.ContainsRune(a.Body, 0) {
		return a, nil, news.FieldError(news.CodeInvalid, "body", "body must be at most 1000 characters")
	}
	if err := checkURL("url", a.URL); err != nil {
		return a, nil, err
	}
	if a.ImageURL != "" {
		if err := checkURL("image_url", a.ImageURL); err != nil {
			return a, nil, err
		}
	}
	a.TTL = DefaultTTL
	if r.TTLSeconds != nil {
		if *r.TTLSeconds < 0 || time.Duration(*r.TTLSeconds)*time.Second > MaxTTL {
			return a, nil, news.FieldError(news.CodeInvalid, "ttl_seconds", "ttl_seconds must be between 0 and %d", int(MaxTTL/time.Second))
		}
		a.TTL = time.Duration(*r.TTLSeconds) * time.Second
	}
	if a.Urgency == "" {
		a.Urgency = "high"
	}
	if !a.Urgency.Valid() {
		return a, nil, news.FieldError(news.CodeInvalid, "urgency", "urgency must be very-low, low, normal or high")
	}
	ids, unknown, err := s.st.TopicIDs(ctx, a.Topics)
	if err != nil {
		return a, nil, err
	}
	if len(unknown) > 0 {
		return a, nil, news.FieldError(news.CodeUnknownTopic, "topics", "unknown topic %q", unknown[0])
	}
	if a.Replaces != 0 {
		t, err := s.st.AlertTopicHeader(ctx, a.Replaces)
		if errors.Is(err, store.ErrNotFound) {
			return a, nil, news.FieldError(news.CodeInvalid, "replaces", "no alert %d to replace", a.Replaces)
		}
		if err != nil {
			return a, nil, err
		}
		a.TopicHeader = t
	} else {
		// 16 random bytes: 22 base64url characters, a valid RFC 8030 Topic.
		b := make([]byte, 16)
		rand.Read(b)
		a.TopicHeader = base64.RawURLEncoding.EncodeToString(b)
	}
	if s.fitsPush != nil {
		if err := s.fitsPush(a); err != nil {
			return a, nil, err
		}
	}
	return a, ids, nil
}

// Preview validates a request without sending it, for the composer.
func (s *Service) Preview(ctx context.Context, r news.AlertRequest) (news.Alert, error) {
	a, _, err := s.validate(ctx, r)
	return a, err
}

// Send stores an alert and starts its fan-out (at SendAt when set). With
// r.Once set, a repeat of an earlier request returns that request's alert
// and sends nothing (see store.CreateAlertOnce).
func (s *Service) Send(ctx context.Context, r news.AlertRequest) (int64, error) {
	now := s.now()
	if r.Once.Key != "" {
		if id, err := s.repeated(ctx, r.Once, now); !errors.Is(err, store.ErrNotFound) {
			return id, err
		}
	}
	a, ids, err := s.validate(ctx, r)
	if err != nil {
		return 0, err
	}
	a.CreatedAt = now
	a.State = news.AlertSending
	if a.SendAt.After(now) {
		a.State = news.AlertScheduled
	} else {
		a.SendAt = now
	}
	if r.Draft || s.approval {
		a.State = news.AlertAwaitingApproval
	}
	id, created := int64(0), true
	if r.Once.Key != "" {
		id, created, err = s.st.CreateAlertOnce(ctx, a, ids, r.Once, now)
		err = onceError(err)
	} else {
		id, err = s.st.CreateAlert(ctx, a, ids)
	}
	if err != nil {
		return 0, err
	}
	if !created {
		s.log.Info("alert repeated, not sent again", "alert_id", id)
		return id, nil
	}
	// The alert is created and goes out whatever becomes of its audit row:
	// failing the request now would have the caller send it again.
	action := "alert.send"
	if a.State == news.AlertAwaitingApproval {
		action = "alert.submit" // sent once approved: see Approve
	}
	if err := s.st.Audit(ctx, a.CreatedBy, action, strconv.FormatInt(id, 10), a.Title); err != nil {
		s.log.Error("audit write failed", "action", action, "alert_id", id, "err", err)
	}
	s.log.Info("alert created", "alert_id", id, "topics", strings.Join(a.Topics, ","), "email", a.Email, "by", a.CreatedBy, "state", a.State)
	s.Wake()
	return id, nil
}

// Get returns an alert with its live counts.
func (s *Service) Get(ctx context.Context, id int64) (store.AlertInfo, error) {
	return s.st.Alert(ctx, id)
}

// Cancel stops what has not gone out. The caller audits it: it knows who
// asked.
func (s *Service) Cancel(ctx context.Context, id int64) error {
	err := s.st.CancelAlert(ctx, id, s.now())
	if errors.Is(err, store.ErrConflict) {
		return news.Errorf(news.CodeConflict, "This alert is already finished.")
	}
	if err == nil {
		if s.onCancel != nil {
			s.onCancel(id)
		}
	}
	return err
}

// OnCancel sets what to call after an alert was cancelled, so that workers
// drop the messages they already claimed. Call it before Start.
func (s *Service) OnCancel(f func(id int64)) { s.onCancel = f }

// Wake makes the enqueuer look for alerts now.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Start runs the enqueuer until Stop; starting a started Service does
// nothing.
func (s *Service) Start(ctx context.Context) error {
	ctx, ok := s.life.Begin(ctx)
	if !ok {
		return nil
	}
	// The articles of automatic alerts are checked by a loop of their
	// own: a GET may take 10 s, and an article server that never answers
	// (or a flood of breaking articles on one) must not hold back a
	// person's alert.
	s.life.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if err := s.runChecked(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("automatic alert check failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	s.life.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if err := s.runOnce(ctx, false); err != nil && ctx.Err() == nil {
				s.log.Error("alert enqueue failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			case <-t.C:
			}
		}
	})
	return nil
}

// Stop stops the enqueuer and waits for it; progress is in the database,
// so a restart resumes where it was.
func (s *Service) Stop(context.Context) { s.life.Stop() }

// RunOnce writes the deliveries of every due alert, checking the
// articles of automatic alerts first, and closes finished ones.
func (s *Service) RunOnce(ctx context.Context) error { return s.runOnce(ctx, true) }

// runOnce is RunOnce; without withChecked it leaves the alerts whose
// article must be checked to runChecked (the daemon's loops).
func (s *Service) runOnce(ctx context.Context, withChecked bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.raiseAuto(ctx); err != nil {
		s.log.Error("automatic alerts", "err", err)
	}
	ids, err := s.st.AlertsToEnqueue(ctx, s.now())
	if err != nil {
		return err
	}
	// Alerts whose article must be fetched first come last, so that a
	// slow article server does not hold back the others.
	ids, checked, err := s.splitChecked(ctx, ids)
	if err != nil {
		return err
	}
	if withChecked {
		ids = append(ids, checked...)
	}
	if err := s.enqueueAll(ctx, ids); err != nil {
		return err
	}
	_, err = s.st.CloseFinishedAlerts(ctx, s.now())
	return err
}

// enqueueAll writes the deliveries of alerts ids, once their article
// answered for those that must be checked.
func (s *Service) enqueueAll(ctx context.Context, ids []int64) error {
	for _, id := range ids {
		// One instance writes an alert's deliveries; the others send them.
		release, ok, err := s.st.LockEnqueue(ctx, store.LockAlert, id)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		var ready bool
		if ready, err = s.articleReady(ctx, id); ready && err == nil {
			err = s.enqueue(ctx, id)
		}
		release()
		if err != nil {
			return err
		}
	}
	return nil
}

// runChecked checks the articles of the due automatic alerts and writes
// the deliveries of those that answered.
func (s *Service) runChecked(ctx context.Context) error {
	if s.reachable == nil {
		return nil
	}
	s.checkMu.Lock()
	defer s.checkMu.Unlock()
	ids, err := s.st.AlertsToEnqueue(ctx, s.now())
	if err != nil {
		return err
	}
	_, checked, err := s.splitChecked(ctx, ids)
	if err != nil {
		return err
	}
	return s.enqueueAll(ctx, checked)
}

// enqueue writes an alert's remaining windows, waking the workers after
// each.
func (s *Service) enqueue(ctx context.Context, id int64) error {
	for ctx.Err() == nil {
		added, done, err := s.st.EnqueueAlertWindow(ctx, id, window, s.now())
		if err != nil {
			return err
		}
		if added > 0 {
			s.wakePush()
			if s.wakeMail != nil {
				s.wakeMail()
			}
		}
		if done {
			return nil
		}
	}
	return ctx.Err()
}
