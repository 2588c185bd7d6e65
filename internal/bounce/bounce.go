// Package bounce is what crieur learns about its email after the SMTP
// conversation: delivery status notifications (RFC 3464), complaints from
// feedback loops (RFC 5965) and the sending providers' event webhooks. Every
// way in (the inbound SMTP listener, the IMAP poller, the provider webhooks)
// turns what it receives into Reports and hands them to one Recorder, so the
// rules (what is hard, what is soft, when a reader becomes bounced) live in
// one place whatever the source.
package bounce

import (
	"context"
	"time"
)

// Kind is what a report says about an address.
type Kind string

const (
	// Hard is a permanent failure of the address (5.1.x, 5.2.1 …): the
	// reader is bounced and suppressed at once.
	Hard Kind = "hard"
	// Soft is a temporary failure (4.x.x) or a full mailbox (5.2.2):
	// counted; enough of them within a window make the reader bounced.
	Soft Kind = "soft"
	// Complaint is a reader's "this is spam" (ARF Feedback-Type: abuse).
	Complaint Kind = "complaint"
)

// Report is one piece of bad news about one email. Whoever builds it
// resolves what it can: the delivery and subscriber from a verified VERP
// token or the original Message-ID, else only the recipient's address as
// the report or the provider named it.
type Report struct {
	Kind         Kind
	DeliveryID   int64  // 0 when unknown
	SubscriberID int64  // 0 when unknown: the Recorder looks Recipient up
	Recipient    string // the failed address as reported; may be empty when the ids are known
	Status       string // enhanced status code, e.g. "5.1.1"; empty for complaints
	Diagnostic   string // the remote server's words, trimmed; never logged whole
	At           time.Time
	Source       string // "smtp", "imap", "ses", "sendgrid", "postmark", "mailgun", "rcpt"
	// MessageID is the original email's Message-ID when the report quotes
	// it and DeliveryID is unknown (a provider's webhook); the recorder
	// may resolve it to the delivery (StoreConfig.MessageIDs).
	MessageID string
}

// Outcome says what recording a report did.
type Outcome string

const (
	Applied   Outcome = "applied"   // the reader's record changed or the bounce was counted
	Ignored   Outcome = "ignored"   // understood, but nothing to do (already suppressed, a preview)
	Unmatched Outcome = "unmatched" // no reader could be found for it
)

// Recorder acts on reports. Park keeps what could not be parsed or matched
// for an admin to look at, never guessing; raw may be large and is capped by
// the implementation.
type Recorder interface {
	Record(ctx context.Context, r Report) (Outcome, error)
	Park(ctx context.Context, source, reason string, raw []byte) error
}
