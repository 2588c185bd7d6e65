package provider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/crieur/crieur/internal/bounce"
)

// Mailgun verifies Mailgun's webhooks: the body's signature object holds
// a timestamp, a random token and the hex HMAC-SHA256 of timestamp+token
// keyed with the account's HTTP webhook signing key. A timestamp older
// than ReplayWindow, or a token already seen within it, is refused.
//
// The signature does not cover the event, and the key is the account's:
// every webhook endpoint of the account (an analytics service taking
// "opened" events) receives signatures this would accept, fresh and
// never seen here. So an event names its reader only through the
// Message-ID crieur signed into the email (refs), never by its
// recipient address; one without it is handed on naming nobody (the
// caller parks it).
type Mailgun struct {
	key  []byte
	refs *bounce.Tokens
	now  func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time // tokens within the replay window
}

// NewMailgun takes the webhook signing key and the Tokens that made the
// emails' Message-IDs (nil: no event names a reader).
func NewMailgun(key string, refs *bounce.Tokens, now func() time.Time) *Mailgun {
	if now == nil {
		now = time.Now
	}
	return &Mailgun{key: []byte(key), refs: refs, now: now, seen: map[string]time.Time{}}
}

// Name is "mailgun".
func (*Mailgun) Name() string { return "mailgun" }

type mailgunBody struct {
	Signature struct {
		Timestamp string `json:"timestamp"`
		Token     string `json:"token"`
		Signature string `json:"signature"`
	} `json:"signature"`
	EventData json.RawMessage `json:"event-data"`
}

// Receive checks the signature, its age and that its token is new, then
// reads the event.
func (p *Mailgun) Receive(_ context.Context, _ http.Header, body []byte) ([]bounce.Report, error) {
	var b mailgunBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, ErrUnverified
	}
	s := b.Signature
	secs, err := strconv.ParseInt(s.Timestamp, 10, 64)
	if err != nil || s.Token == "" || len(s.Token) > 256 {
		return nil, ErrUnverified
	}
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(s.Timestamp + s.Token))
	want := m.Sum(nil)
	got, err := hex.DecodeString(s.Signature)
	if err != nil || !hmac.Equal(got, want) {
		return nil, ErrUnverified
	}
	now := p.now()
	if !fresh(time.Unix(secs, 0), now) || !p.firstUse(s.Token, now) {
		return nil, ErrUnverified
	}
	reports, err := ParseMailgunEvent(b.EventData)
	for i := range reports {
		reports[i] = p.bind(reports[i])
	}
	return reports, err
}

// bind ties r to the delivery its Message-ID names, when crieur signed
// it; otherwise r names nobody.
func (p *Mailgun) bind(r bounce.Report) bounce.Report {
	var ref bounce.Ref
	ok := false
	if p.refs != nil {
		var err error
		ref, ok, err = p.refs.ParseMessageID(r.MessageID)
		ok = ok && err == nil
	}
	r.Recipient, r.MessageID = "", ""
	r.DeliveryID, r.SubscriberID = 0, 0
	if ok {
		r.DeliveryID, r.SubscriberID = ref.DeliveryID, ref.SubscriberID
	}
	return r
}

// firstUse records token and reports whether it was not seen within the
// replay window (older tokens are forgotten: their timestamps are refused).
func (p *Mailgun) firstUse(token string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for t, at := range p.seen {
		if now.Sub(at) > 2*ReplayWindow {
			delete(p.seen, t)
		}
	}
	if _, ok := p.seen[token]; ok {
		return false
	}
	p.seen[token] = now
	return true
}

type mailgunEvent struct {
	Event     string      `json:"event"`
	Severity  string      `json:"severity"`
	Recipient string      `json:"recipient"`
	Timestamp json.Number `json:"timestamp"`
	Reason    string      `json:"reason"`
	Delivery  struct {
		Code         json.Number `json:"code"`
		Message      string      `json:"message"`
		Description  string      `json:"description"`
		EnhancedCode string      `json:"enhanced-code"`
	} `json:"delivery-status"`
	Message struct {
		Headers struct {
			MessageID string `json:"message-id"`
		} `json:"headers"`
	} `json:"message"`
}

// ParseMailgunEvent reads a Mailgun event-data object: failed events
// (hard when permanent, soft when temporary or a full mailbox) and
// complained events.
func ParseMailgunEvent(data []byte) ([]bounce.Report, error) {
	var e mailgunEvent
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	r := bounce.Report{Recipient: e.Recipient, Source: "mailgun", At: unixTime(e.Timestamp), MessageID: e.Message.Headers.MessageID}
	switch e.Event {
	case "failed":
		r.Status = e.Delivery.EnhancedCode
		if enhanced(r.Status) == "" {
			r.Status = enhanced(e.Delivery.Message + " " + e.Delivery.Description)
		}
		r.Diagnostic = e.Delivery.Message
		if r.Diagnostic == "" {
			r.Diagnostic = e.Delivery.Description
		}
		r.Kind = kindOfStatus(r.Status, e.Severity == "permanent")
		if e.Severity == "temporary" {
			r.Kind = bounce.Soft
		}
	case "complained":
		r.Kind = bounce.Complaint
	default:
		return nil, nil
	}
	return []bounce.Report{r}, nil
}
