// Package news holds the nouns shared by every part of crieur: topics,
// subscribers, articles, alerts and deliveries, and the desk's roles,
// users, sessions and API tokens. It does no I/O and imports no other
// crieur package.
package news

import (
	"net/url"
	"strings"
	"time"
)

// Frequency is how often a subscriber receives a digest.
type Frequency string

// The digest frequencies.
const (
	Daily  Frequency = "daily"
	Weekly Frequency = "weekly"
)

// Valid reports whether f is a known frequency.
func (f Frequency) Valid() bool { return f == Daily || f == Weekly }

// Period is how far back a first digest of this frequency looks.
func (f Frequency) Period() time.Duration {
	if f == Weekly {
		return 7 * 24 * time.Hour
	}
	return 24 * time.Hour
}

// Lang is a reader's language. Only the languages with strings in
// templates/ are accepted.
type Lang string

// The supported languages.
const (
	French  Lang = "fr"
	English Lang = "en"
)

// Valid reports whether l is a supported language.
func (l Lang) Valid() bool { return l == French || l == English }

// Status is where a subscriber stands in the double opt-in lifecycle.
type Status string

// Subscriber statuses. Erased subscribers leave no row, only a suppression
// hash.
const (
	Pending      Status = "pending"
	Confirmed    Status = "confirmed"
	Unsubscribed Status = "unsubscribed"
	// Bounced: the address failed for good (a hard bounce, or enough soft
	// ones); it is on the suppression list.
	Bounced Status = "bounced"
	// Complained: the reader marked an email as spam; unsubscribed and on
	// the suppression list.
	Complained Status = "complained"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	return s == Pending || s == Confirmed || s == Unsubscribed || s == Bounced || s == Complained
}

// Stopped reports whether nothing more is sent to a reader in status s:
// they unsubscribed, bounced or complained.
func (s Status) Stopped() bool { return s == Unsubscribed || s == Bounced || s == Complained }

// Topic is a section of the publication readers can follow.
type Topic struct {
	ID   int64
	Slug string
	Name string
}

// NamedTopics turns slugs into topics of all, in the order of slugs (the
// order a reader's digest names them); unknown slugs are left out.
func NamedTopics(all []Topic, slugs []string) []Topic {
	out := make([]Topic, 0, len(slugs))
	for _, s := range slugs {
		for _, t := range all {
			if t.Slug == s {
				out = append(out, t)
				break
			}
		}
	}
	return out
}

// Subscriber is one reader who gave an email address.
type Subscriber struct {
	ID          int64
	Email       string
	Status      Status
	Frequency   Frequency
	Lang        Lang
	Alerts      bool // also wants breaking-news alerts by email
	Paused      bool
	Topics      []string // slugs
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero when not confirmed
	UpdatedAt   time.Time
	// LinkGen is the generation of the reader's signed links: revoking
	// their links moves it on, and a link of an older generation no
	// longer opens anything but the unsubscribe page.
	LinkGen int64
	// Timezone is the reader's IANA time zone, "" for CRIEUR_TIMEZONE.
	Timezone string
}

// Article is one story that can go into digests.
type Article struct {
	ID          int64
	GUID        string
	URL         string
	Title       string
	Summary     string
	ImageURL    string
	Author      string
	Topics      []string // slugs
	PublishedAt time.Time
	CreatedAt   time.Time
	// Breaking: the CMS flagged it ("breaking": true), which raises an
	// automatic alert.
	Breaking bool
	// Feed is the feed it came from ("" from the CMS API).
	Feed string
	// PostedBy is who posted it through the API, or flagged it breaking
	// since, as the audit log names them ("" for a feed's item): not the
	// one to approve its automatic alert.
	PostedBy string
}

// Urgency is the RFC 8030 urgency of a push message.
type Urgency string

// Valid reports whether u is one of RFC 8030's urgencies.
func (u Urgency) Valid() bool {
	switch u {
	case "very-low", "low", "normal", "high":
		return true
	}
	return false
}

// AlertState is where an alert stands.
type AlertState string

// Alert states.
const (
	// AlertAwaitingApproval: a draft, or any alert under
	// CRIEUR_ALERT_APPROVAL, until someone other than its author approves.
	AlertAwaitingApproval AlertState = "awaiting_approval"
	AlertScheduled        AlertState = "scheduled"
	AlertSending          AlertState = "sending"
	AlertDone             AlertState = "done"
	AlertCancelled        AlertState = "cancelled"
	AlertFailed           AlertState = "failed"
)

// Priority says whether an alert waits for a browser's quiet hours and
// respects its daily cap.
type Priority string

// Alert priorities.
const (
	// Breaking goes through quiet hours and daily caps: the default for
	// an alert a person sends.
	Breaking Priority = "breaking"
	// Normal waits for a browser's quiet hours to end (within its TTL)
	// and is dropped over its daily cap: the default of automatic alerts.
	Normal Priority = "normal"
)

// Valid reports whether p is a known priority.
func (p Priority) Valid() bool { return p == Breaking || p == Normal }

// AutoAuthor is the author of automatic alerts: no person, so anyone may
// approve them but who posted their article through the API.
const AutoAuthor = "auto"

// Alert is a breaking-news notification sent by web push (and optionally
// by email) to the readers of some topics.
type Alert struct {
	ID          int64
	Title       string
	Body        string
	URL         string
	ImageURL    string
	Topics      []string
	TTL         time.Duration
	Urgency     Urgency
	TopicHeader string // RFC 8030 Topic: same value for an alert and its updates
	Email       bool
	Replaces    int64
	State       AlertState
	SendAt      time.Time // embargo; zero means now
	CreatedBy   string
	CreatedAt   time.Time
	Priority    Priority
	ApprovedBy  string
	// CheckURL: an automatic alert whose article URL must answer before
	// it goes out.
	CheckURL  bool
	ArticleID int64
	Targeted  int64
	Delivered int64
	Failed    int64
	Expired   int64
	Emails    int64
}

// RunState is where a digest run stands.
type RunState string

// Digest run states.
const (
	RunRunning RunState = "running"
	RunDone    RunState = "done"
	RunFailed  RunState = "failed"
)

// DigestRun is one sending of a daily or weekly digest.
type DigestRun struct {
	ID           int64
	Frequency    Frequency
	ScheduledAt  time.Time
	State        RunState
	Recipients   int64
	Sent         int64
	Failed       int64
	SkippedEmpty int64
	Error        string
	CreatedAt    time.Time
	FinishedAt   time.Time
}

// MailKind says what an email delivery is.
type MailKind string

// The kinds of email crieur sends.
const (
	MailConfirm MailKind = "confirm"
	MailDigest  MailKind = "digest"
	MailAlert   MailKind = "alert"
	MailPreview MailKind = "preview"
	// MailLinks carries a reader's preference link, at their request.
	MailLinks MailKind = "links"
	// MailWelcome greets a reader who has just confirmed (when the desk
	// has the welcome email on).
	MailWelcome MailKind = "welcome"
	// MailSunset asks a reader who has not clicked in a long time whether
	// they still want the newsletter (CRIEUR_SUNSET_AFTER).
	MailSunset MailKind = "sunset"
)

// DeliveryState is where one queued message stands.
type DeliveryState string

// Delivery states. A delivery moves pending → sending → sent|failed, or back
// to pending for a retry; cancelled ones never leave.
const (
	DeliveryPending   DeliveryState = "pending"
	DeliverySending   DeliveryState = "sending"
	DeliverySent      DeliveryState = "sent"
	DeliveryFailed    DeliveryState = "failed"
	DeliveryExpired   DeliveryState = "expired"
	DeliveryCancelled DeliveryState = "cancelled"
)

// PushSubscription is one browser that opted in to alerts.
type PushSubscription struct {
	ID        int64
	Endpoint  string
	P256dh    string
	Auth      string
	Lang      Lang
	Topics    []string
	CreatedAt time.Time
	// Timezone is an IANA name ("" for CRIEUR_TIMEZONE).
	Timezone string
	// QuietFrom and QuietTo are quiet hours in minutes after local
	// midnight; equal, none.
	QuietFrom, QuietTo int
	// MaxPerDay caps the normal alerts of a local day (0: no cap).
	MaxPerDay int
}

// AlertRequest is a breaking alert as an editor asks for it, before
// validation and defaults.
type AlertRequest struct {
	Title, Body, URL, ImageURL string
	Topics                     []string
	TTLSeconds                 *int
	Urgency                    Urgency
	Email                      bool
	Replaces                   int64
	SendAt                     time.Time
	CreatedBy                  string
	// Priority defaults to Breaking.
	Priority Priority
	// Draft starts the alert awaiting approval, whatever
	// CRIEUR_ALERT_APPROVAL says (automatic drafts).
	Draft bool
	// CheckURL and ArticleID: see Alert.
	CheckURL  bool
	ArticleID int64
	// Once, when its Key is set, makes the send idempotent.
	Once IdempotencyKey
}

// MaxURLLen is the longest URL crieur stores or sends.
const MaxURLLen = 2000

// HTTPURL reports whether raw is an absolute http(s) URL fit for a link
// that leaves crieur: no spaces or control characters, at most MaxURLLen
// bytes.
func HTTPURL(raw string) bool {
	if len(raw) > MaxURLLen || strings.ContainsAny(raw, " \r\n\t\x00") {
		return false
	}
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
