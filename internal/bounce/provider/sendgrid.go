package provider

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/bounce"
)

// SendGrid verifies SendGrid's Signed Event Webhook: an ECDSA (P-256,
// SHA-256) signature, base64 DER in X-Twilio-Email-Event-Webhook-Signature,
// over the X-Twilio-Email-Event-Webhook-Timestamp header followed by the
// raw body, checked with the verification key SendGrid shows (base64 DER).
type SendGrid struct {
	key *ecdsa.PublicKey
	now func() time.Time
}

// NewSendGrid reads the verification key as SendGrid shows it (base64 of a
// DER public key; PEM armour is accepted too).
func NewSendGrid(key string, now func() time.Time) (*SendGrid, error) {
	k := strings.TrimSpace(key)
	k = strings.TrimPrefix(k, "-----BEGIN PUBLIC KEY-----")
	k = strings.TrimSuffix(k, "-----END PUBLIC KEY-----")
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(k), ""))
	if err != nil {
		return nil, fmt.Errorf("sendgrid verification key: %w", err)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("sendgrid verification key: %w", err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("sendgrid verification key: not an ECDSA key")
	}
	if now == nil {
		now = time.Now
	}
	return &SendGrid{key: ec, now: now}, nil
}

// Name is "sendgrid".
func (*SendGrid) Name() string { return "sendgrid" }

// The SendGrid signature headers.
const (
	SendGridSignatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	SendGridTimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// Receive verifies the signature and the timestamp's age, then reads the
// events.
func (p *SendGrid) Receive(_ context.Context, h http.Header, body []byte) ([]bounce.Report, error) {
	ts, sig := h.Get(SendGridTimestampHeader), h.Get(SendGridSignatureHeader)
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return nil, ErrUnverified
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return nil, ErrUnverified
	}
	sum := sha256.Sum256(append([]byte(ts), body...))
	if !ecdsa.VerifyASN1(p.key, sum[:], raw) {
		return nil, ErrUnverified
	}
	if !fresh(time.Unix(secs, 0), p.now()) {
		return nil, ErrUnverified
	}
	return ParseSendGrid(body)
}

type sendGridEvent struct {
	Email     string          `json:"email"`
	Timestamp json.Number     `json:"timestamp"`
	Event     string          `json:"event"`
	Type      string          `json:"type"` // bounce or blocked, for a bounce event
	Status    string          `json:"status"`
	Reason    string          `json:"reason"`
	Extra     json.RawMessage `json:"-"`
}

// ParseSendGrid reads a SendGrid event batch (a JSON array): bounce events
// (hard, or soft when SendGrid says blocked or the code is temporary or a
// full mailbox) and spamreport events (complaints). Deferred and dropped
// events are left out: SendGrid is still trying, or dropped the message
// for a bounce it told before.
func ParseSendGrid(body []byte) ([]bounce.Report, error) {
	var evs []sendGridEvent
	if err := json.Unmarshal(body, &evs); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var out []bounce.Report
	for _, e := range evs {
		r := bounce.Report{Recipient: e.Email, Source: "sendgrid", At: unixTime(e.Timestamp)}
		switch e.Event {
		case "bounce":
			r.Status = e.Status
			if enhanced(r.Status) == "" {
				r.Status = enhanced(e.Reason)
			}
			r.Diagnostic = e.Reason
			r.Kind = kindOfStatus(r.Status, e.Type != "blocked")
			if e.Type == "blocked" && r.Kind == bounce.Hard {
				// A block is the receiving system refusing the sender,
				// not the address.
				r.Kind = bounce.Soft
			}
		case "spamreport":
			r.Kind = bounce.Complaint
		default:
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// unixTime reads seconds since the epoch (maybe with a fraction); zero
// for anything else.
func unixTime(n json.Number) time.Time {
	f, err := n.Float64()
	if err != nil || f <= 0 || f > 1e11 {
		return time.Time{}
	}
	return time.UnixMilli(int64(f * 1000)).UTC()
}
