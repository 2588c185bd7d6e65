package provider

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/crieur/crieur/internal/bounce"
)

// Postmark verifies Postmark's bounce and spam-complaint webhooks by the
// HTTP basic auth Postmark sends when the webhook URL carries it
// (https://USER:PASSWORD@host/api/v1/webhooks/bounces/postmark), as
// Postmark documents for protecting webhooks.
type Postmark struct {
	want [32]byte // SHA-256 of "USER:PASSWORD"
}

// NewPostmark takes the expected "USER:PASSWORD".
func NewPostmark(auth string) *Postmark { return &Postmark{want: sha256.Sum256([]byte(auth))} }

// Name is "postmark".
func (*Postmark) Name() string { return "postmark" }

// Receive checks the basic auth, then reads the event.
func (p *Postmark) Receive(_ context.Context, h http.Header, body []byte) ([]bounce.Report, error) {
	r := http.Request{Header: h}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return nil, ErrUnverified
	}
	got := sha256.Sum256([]byte(user + ":" + pass))
	if subtle.ConstantTimeCompare(got[:], p.want[:]) != 1 {
		return nil, ErrUnverified
	}
	return ParsePostmark(body)
}

type postmarkEvent struct {
	RecordType  string `json:"RecordType"`
	Type        string `json:"Type"`
	Email       string `json:"Email"`
	BouncedAt   string `json:"BouncedAt"`
	Details     string `json:"Details"`
	Description string `json:"Description"`
}

// postmarkKinds are the Postmark bounce types crieur acts on; the rest
// (auto-responders, subscribe requests, challenge-verification, a
// manual deactivation) say nothing about the address.
var postmarkKinds = map[string]bounce.Kind{
	"HardBounce": bounce.Hard, "BadEmailAddress": bounce.Hard,
	"SoftBounce": bounce.Soft, "Transient": bounce.Soft, "DnsError": bounce.Soft, "Blocked": bounce.Soft,
	"SpamComplaint": bounce.Complaint,
}

// ParsePostmark reads one Postmark webhook event (Bounce or SpamComplaint).
func ParsePostmark(body []byte) ([]bounce.Report, error) {
	var e postmarkEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if e.RecordType != "Bounce" && e.RecordType != "SpamComplaint" {
		return nil, nil
	}
	kind, ok := postmarkKinds[e.Type]
	if e.RecordType == "SpamComplaint" {
		kind, ok = bounce.Complaint, true
	}
	if !ok {
		return nil, nil
	}
	r := bounce.Report{Kind: kind, Recipient: e.Email, Source: "postmark"}
	if t, err := time.Parse(time.RFC3339Nano, e.BouncedAt); err == nil {
		r.At = t.UTC()
	}
	if kind != bounce.Complaint {
		r.Diagnostic = e.Details
		r.Status = enhanced(e.Details)
		if r.Status == "5.2.2" {
			r.Kind = bounce.Soft
		}
	}
	return []bounce.Report{r}, nil
}
