// Package subscribe is the reader lifecycle: double opt-in, signed link
// tokens, the preference center, one-click unsubscribe, data export and
// erasure, CSV import and export.
//
// It must not import dispatch or web: it queues the emails it needs
// (confirmations, links) in the store for the dispatcher to send, and the
// web and the dispatcher's email builder call it.
package subscribe

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// ConfirmTTL is how long a confirmation link works and how long an
// unconfirmed address is kept.
const ConfirmTTL = 7 * 24 * time.Hour

// Config wires a Service.
type Config struct {
	Store   *store.Store
	Tokens  *Tokens
	HashKey []byte // keys the suppression-list hash of addresses
	BaseURL string
	Log     *slog.Logger
	Now     func() time.Time
	// Wake tells the mail workers that something was queued.
	Wake func()
	// PerAddress and PerClient limit subscription requests; nil: defaults.
	PerAddress, PerClient *Limiter
	// PerAddressLinks limits "email me my link" requests per address; nil:
	// the default. It is apart from PerAddress so that a stranger's
	// subscription requests for an address cannot spend it and keep its
	// reader from getting their link.
	PerAddressLinks *Limiter
	// Location is CRIEUR_TIMEZONE, the zone of readers who chose none
	// (UTC when nil).
	Location *time.Location
}

// Service runs the reader lifecycle. Its methods return *news.Error for
// what the reader did wrong.
type Service struct {
	st         *store.Store
	tokens     *Tokens
	hashKey    []byte
	base       string
	log        *slog.Logger
	now        func() time.Time
	wake       func()
	perAddress *Limiter
	perClient  *Limiter
	perLinks   *Limiter
	loc        *time.Location // CRIEUR_TIMEZONE
}

// New returns a Service.
func New(cfg Config) *Service {
	s := &Service{st: cfg.Store, tokens: cfg.Tokens, hashKey: cfg.HashKey, base: strings.TrimRight(cfg.BaseURL, "/"),
		log: cfg.Log, now: cfg.Now, wake: cfg.Wake, perAddress: cfg.PerAddress, perClient: cfg.PerClient, perLinks: cfg.PerAddressLinks,
		loc: cfg.Location}
	if s.loc == nil {
		s.loc = time.UTC
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.wake == nil {
		s.wake = func() {}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.perAddress == nil {
		// Three confirmation emails at once, then one every ten minutes.
		s.perAddress = NewLimiter(10*time.Minute, 3, 100_000)
	}
	if s.perLinks == nil {
		s.perLinks = NewLimiter(10*time.Minute, 3, 100_000)
	}
	if s.perClient == nil {
		s.perClient = NewLimiter(6*time.Second, 20, 100_000)
	}
	return s
}

// Tokens returns the link signer.
func (s *Service) Tokens() *Tokens { return s.tokens }

// Hash returns the keyed hash of an address kept on the suppression list.
// It hashes the trimmed, lower-cased address, as it has since the first
// suppression was written: an address suppressed as Case@x.test is on the
// list as case@x.test too, in any case. Changing what is hashed would let
// every suppressed address back in.
func (s *Service) Hash(email string) string {
	m := hmac.New(sha256.New, s.hashKey)
	m.Write([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(m.Sum(nil))
}

// address validates a subscriber's address and returns its identity: the
// whole address lower-cased, local part included, so that Lectrice@x.test
// and lectrice@x.test are one reader with one row and one digest. Mail goes
// to this lower-cased form: RFC 5321 lets a server treat local parts as
// case-sensitive, but mailbox providers match them case-insensitively in
// practice (listmonk lower-cases the same way).
func address(s string) (string, error) {
	addr, err := mail.ValidateAddress(s)
	if err != nil {
		return "", err
	}
	return strings.ToLower(addr), nil
}

// invalidEmail is what a reader sees about an address ValidateAddress refused.
func invalidEmail(err error) error {
	msg := "The email address is not valid."
	if errors.Is(err, mail.ErrAddressLiteral) {
		msg = "The email address is not valid: its domain must be a name, not an IP address."
	}
	if errors.Is(err, mail.ErrSpecialUseDomain) {
		msg = "The email address is not valid: its domain is a local or reserved name that receives no mail."
	}
	return &news.Error{Code: news.CodeInvalidEmail, Field: "email", Message: msg, Err: err}
}

// Request is a subscription request from the form or the API.
type Request struct {
	Email     string
	Topics    []string
	Frequency news.Frequency
	Lang      news.Lang
	Alerts    bool
	// Timezone is the reader's IANA zone ("": CRIEUR_TIMEZONE).
	Timezone string
	// Client identifies the requester (its IP address) for rate limiting.
	Client string
}

// Subscribe records a double opt-in request and queues one confirmation
// email. It answers the same whether the address was unknown, pending,
// already confirmed or suppressed, so that nothing about a reader leaks.
// An address suppressed after a bounce or a complaint is sent nothing; one
// whose reader unsubscribed gets a confirmation, as a new one would.
func (s *Service) Subscribe(ctx context.Context, r Request) error {
	email, err := address(r.Email)
	if err != nil {
		return invalidEmail(err)
	}
	prefs, err := s.prefs(ctx, r.Topics, r.Frequency, r.Lang, r.Alerts, false)
	if err != nil {
		return err
	}
	if prefs.Timezone, err = Zone(r.Timezone); err != nil {
		return err
	}
	now := s.now()
	if ok, wait := s.perClient.Allow("client:"+r.Client, now); !ok {
		return &news.Error{Code: news.CodeRateLimited, Message: "Too many requests; try again later.", RetryAfter: wait}
	}
	hash := s.Hash(email)
	if ok, wait := s.perAddress.Allow(hash, now); !ok {
		return &news.Error{Code: news.CodeRateLimited, Message: "Too many requests for this address; try again later.", RetryAfter: wait}
	}
	// An address that bounced or complained gets nothing, and the answer
	// is the same: the store records the request as it records any.
	_, outcome, err := s.st.SubscribeRequest(ctx, email, hash, prefs, now)
	if err != nil {
		return err
	}
	if outcome == store.SubscribeNew || outcome == store.SubscribeResent {
		s.wake()
	}
	return nil
}

// prefs validates reader choices; empty frequency and language take
// defaults (daily, French) unless strict.
func (s *Service) prefs(ctx context.Context, topics []string, f news.Frequency, l news.Lang, alerts, paused bool) (store.Prefs, error) {
	if f == "" {
		f = news.Daily
	}
	if l == "" {
		l = news.French
	}
	if !f.Valid() {
		return store.Prefs{}, news.FieldError(news.CodeInvalid, "frequency", "frequency must be daily or weekly")
	}
	if !l.Valid() {
		return store.Prefs{}, news.FieldError(news.CodeInvalid, "lang", "lang must be fr or en")
	}
	if len(topics) > 200 {
		return store.Prefs{}, news.FieldError(news.CodeInvalid, "topics", "too many topics")
	}
	ids, unknown, err := s.st.TopicIDs(ctx, topics)
	if err != nil {
		return store.Prefs{}, err
	}
	if len(unknown) > 0 {
		return store.Prefs{}, news.FieldError(news.CodeUnknownTopic, "topics", "unknown topic %q", truncate(unknown[0], 64))
	}
	return store.Prefs{Frequency: f, Lang: l, Alerts: alerts, Paused: paused, TopicIDs: ids}, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// tokenError turns a token failure into what the reader sees.
func tokenError(err error) error {
	switch {
	case errors.Is(err, ErrTokenExpired):
		return &news.Error{Code: news.CodeExpiredToken, Message: "This link has expired.", Err: err}
	case errors.Is(err, ErrTokenInvalid), errors.Is(err, ErrTokenPurpose):
		return &news.Error{Code: news.CodeInvalidToken, Message: "This link is not valid.", Err: err}
	}
	return err
}

// Confirm follows a confirmation link.
func (s *Service) Confirm(ctx context.Context, token string) (news.Subscriber, error) {
	sub, err := s.CheckConfirm(ctx, token)
	if err != nil {
		return sub, err
	}
	if _, err := s.st.Confirm(ctx, sub.ID, s.Hash(sub.Email), s.now()); err != nil {
		return sub, err
	}
	return s.st.SubscriberByID(ctx, sub.ID)
}

// CheckConfirm is Confirm without confirming (a HEAD on the link): the
// subscriber a confirmation link names, or the error Confirm would give.
func (s *Service) CheckConfirm(ctx context.Context, token string) (news.Subscriber, error) {
	sub, err := s.Lookup(ctx, token, PurposeConfirm)
	if err == nil && sub.Status.Stopped() {
		// A link older than an unsubscribe must not undo it.
		return sub, &news.Error{Code: news.CodeExpiredToken, Message: "This link is no longer valid: subscribe again."}
	}
	return sub, err
}

// PrefsUpdate is what the preference center submits.
type PrefsUpdate struct {
	Topics    []string
	Frequency news.Frequency
	Lang      news.Lang
	Alerts    bool
	Paused    bool
	// Timezone is the reader's IANA zone ("": CRIEUR_TIMEZONE).
	Timezone string
}

// UpdatePrefs saves a reader's choices.
func (s *Service) UpdatePrefs(ctx context.Context, id int64, u PrefsUpdate) error {
	p, err := s.prefs(ctx, u.Topics, u.Frequency, u.Lang, u.Alerts, u.Paused)
	if err != nil {
		return err
	}
	if p.Timezone, err = Zone(u.Timezone); err != nil {
		return err
	}
	return s.st.UpdatePrefs(ctx, id, p, s.now())
}

// Unsubscribe stops every email to a subscriber at once.
func (s *Service) Unsubscribe(ctx context.Context, id int64, reason string) error {
	sub, err := s.st.SubscriberByID(ctx, id)
	if err != nil {
		return err
	}
	if sub.Status.Stopped() {
		return nil
	}
	if err := s.st.Unsubscribe(ctx, id, s.Hash(sub.Email), reason, s.now()); err != nil {
		return err
	}
	s.log.Info("subscriber unsubscribed", "subscriber_id", id, "reason", reason)
	return nil
}

// Erase deletes a subscriber's personal data for real; only a keyed hash
// of the address stays, on the suppression list.
func (s *Service) Erase(ctx context.Context, id int64) error {
	sub, err := s.st.SubscriberByID(ctx, id)
	if err != nil {
		return err
	}
	if err := s.st.Erase(ctx, id, s.Hash(sub.Email), s.now()); err != nil {
		return err
	}
	s.log.Info("subscriber erased", "subscriber_id", id)
	return nil
}

// Data is everything crieur holds about a reader, for download.
type Data struct {
	Email     string   `json:"email"`
	Status    string   `json:"status"`
	Topics    []string `json:"topics"`
	Frequency string   `json:"frequency"`
	Lang      string   `json:"lang"`
	Alerts    bool     `json:"alerts"`
	Paused    bool     `json:"paused"`
	// Timezone is the zone the reader's digests follow: theirs, or
	// CRIEUR_TIMEZONE when they chose none.
	Timezone    string     `json:"timezone"`
	CreatedAt   time.Time  `json:"created_at"`
	ConfirmedAt *time.Time `json:"confirmed_at"`
	Bounces     []Bounce   `json:"bounces"`
	Sent        []Sent     `json:"sent"`
	// Clicks are the links the reader opened in emails, kept only with
	// CRIEUR_TRACK_READERS=true.
	Clicks []Click `json:"clicks,omitempty"`
}

// Sent is one email queued for the reader.
type Sent struct {
	Kind   string     `json:"kind"`
	State  string     `json:"state"`
	Queued time.Time  `json:"queued_at"`
	SentAt *time.Time `json:"sent_at,omitempty"`
}

// Export returns a reader's data.
func (s *Service) Export(ctx context.Context, id int64) (Data, error) {
	sub, err := s.st.SubscriberByID(ctx, id)
	if err != nil {
		return Data{}, err
	}
	hist, err := s.st.History(ctx, id, 1000)
	if err != nil {
		return Data{}, err
	}
	status, bounces, err := s.standing(ctx, sub, hist)
	if err != nil {
		return Data{}, err
	}
	d := Data{Email: sub.Email, Status: status, Bounces: bounces, Topics: sub.Topics, Frequency: string(sub.Frequency),
		Lang: string(sub.Lang), Alerts: sub.Alerts, Paused: sub.Paused, Timezone: s.ZoneOf(sub), CreatedAt: sub.CreatedAt, Sent: []Sent{}}
	if !sub.ConfirmedAt.IsZero() {
		t := sub.ConfirmedAt
		d.ConfirmedAt = &t
	}
	for _, h := range hist {
		e := Sent{Kind: string(h.Kind), State: string(h.State), Queued: h.CreatedAt}
		if !h.SentAt.IsZero() {
			t := h.SentAt
			e.SentAt = &t
		}
		d.Sent = append(d.Sent, e)
	}
	if d.Clicks, err = s.clicks(ctx, id); err != nil {
		return Data{}, err
	}
	return d, nil
}

// ZoneOf is the zone sub's digests follow: theirs, else CRIEUR_TIMEZONE.
func (s *Service) ZoneOf(sub news.Subscriber) string {
	if sub.Timezone != "" {
		return sub.Timezone
	}
	return s.loc.String()
}

// ByEmail finds a subscriber by address (for editors), whatever its case.
func (s *Service) ByEmail(ctx context.Context, email string) (news.Subscriber, error) {
	addr, err := address(email)
	if err != nil {
		return news.Subscriber{}, invalidEmail(err)
	}
	sub, err := s.st.SubscriberByEmail(ctx, addr)
	if errors.Is(err, store.ErrNotFound) {
		return sub, news.Errorf(news.CodeNotFound, "No subscriber with this address.")
	}
	return sub, err
}

// ExpirePending deletes addresses never confirmed within ConfirmTTL.
func (s *Service) ExpirePending(ctx context.Context) error {
	n, err := s.st.ExpirePending(ctx, s.now().Add(-ConfirmTTL))
	if err != nil {
		return fmt.Errorf("expire pending subscribers: %w", err)
	}
	if n > 0 {
		s.log.Info("expired unconfirmed subscribers", "count", n)
	}
	return nil
}
