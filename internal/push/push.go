// Package push sends Web Push messages (RFC 8030) to browsers' push services:
// payloads encrypted per RFC 8291 (aes128gcm, RFC 8188), requests
// authenticated with VAPID (RFC 8292), and each push service answer mapped to
// what the dispatcher should do with the subscription (Outcome).
//
// The Sender is a fast path byte-compatible with
// github.com/SherClockHolmes/webpush-go: it keeps the VAPID key parsed, signs
// one JWT per push service origin and reuses it for hours, and pads payloads to
// a few size buckets instead of always 4096 bytes.
//
// It must not import news, store or dispatch: it sends one message and
// says what became of it; the dispatcher decides what that means for the
// queue and the subscription.
package push

import (
	"crypto/sha256"
	"encoding/base64"
	"time"
)

// Subscription is a browser's PushSubscription as the Push API hands it out:
// the push service endpoint and the keys from getKey("p256dh") and
// getKey("auth"), base64 in either alphabet, padded or not.
type Subscription struct {
	Endpoint string
	P256dh   string
	Auth     string
}

// Urgency values of RFC 8030 §5.3.
const (
	UrgencyVeryLow = "very-low"
	UrgencyLow     = "low"
	UrgencyNormal  = "normal"
	UrgencyHigh    = "high"
)

// Message is one push message. The caller chooses every header: the Sender
// adds no defaults.
type Message struct {
	// Payload is the plaintext, at most MaxPayload bytes; it is not modified
	// and may be shared between goroutines.
	Payload []byte
	// TTL is how long the push service keeps the message for an offline
	// device, sent in whole seconds (rounded down); 0 means deliver now or
	// drop. Negative is refused.
	TTL time.Duration
	// Urgency is one of the Urgency constants, or empty for none.
	Urgency string
	// Topic lets a newer message replace a pending one (RFC 8030 §5.4): at
	// most 32 characters of the URL-safe base64 alphabet, or empty. Use
	// TopicFor to derive one from any string.
	Topic string
}

// MaxTopicLen is the longest Topic RFC 8030 allows.
const MaxTopicLen = 32

// TopicFor derives a valid Topic from any string: the unpadded base64url
// encoding of the first 24 bytes of its SHA-256 (32 characters). Equal
// strings give equal topics.
func TopicFor(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:24])
}

// ValidTopic reports whether s may be sent as a Topic header: 1 to 32
// characters of the URL-safe base64 alphabet (A-Z a-z 0-9 - _).
func ValidTopic(s string) bool {
	if len(s) == 0 || len(s) > MaxTopicLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// ValidUrgency reports whether u is one of the RFC 8030 urgencies.
func ValidUrgency(u string) bool {
	switch u {
	case UrgencyVeryLow, UrgencyLow, UrgencyNormal, UrgencyHigh:
		return true
	}
	return false
}

// Outcome is what the dispatcher should do after a send.
type Outcome int

const (
	// Delivered: the push service accepted the message (2xx).
	Delivered Outcome = iota + 1
	// Gone: the subscription no longer exists (404, 410): delete it.
	Gone
	// Retry: a transient failure (408, 429, 5xx, network error, timeout):
	// send again later, after Result.RetryAfter when it is set. Never delete.
	Retry
	// Failed: the request was refused for a reason retrying will not fix
	// (400, 401, 403, 413, other 4xx, invalid message or keys, refused
	// address): report it. A subscription is deleted only after
	// MaxRefusals 4xx answers in a row (Result.Refused).
	Failed
)

// String returns the outcome's lower-case name.
func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Gone:
		return "gone"
	case Retry:
		return "retry"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// Result is the outcome of one Send.
type Result struct {
	Outcome Outcome
	// Status is the push service's HTTP status, 0 when there was none.
	Status int
	// RetryAfter is the push service's Retry-After (seconds or HTTP date) for
	// a Retry outcome, 0 when absent or unparseable.
	RetryAfter time.Duration
	// Err explains any outcome but Delivered; a *StatusError when the push
	// service answered.
	Err error
}
