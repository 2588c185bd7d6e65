// Package provider verifies and reads the sending providers' event
// webhooks (Amazon SES through SNS, SendGrid, Postmark, Mailgun), each the
// way its provider signs them, and turns their bounce and complaint events
// into bounce.Reports. It does no HTTP serving and no storage: the web
// room that serves POST /api/v1/webhooks/bounces/{provider} calls Receive
// and hands the reports to the bounce.Recorder.
package provider

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/bounce"
)

// ErrUnverified says a call is not the provider's: unsigned, wrongly
// signed, too old or replayed. The caller answers 401 and changes nothing.
var ErrUnverified = errors.New("webhook call not verified")

// ErrMalformed says a verified call's body could not be read: the caller
// parks it for an admin.
var ErrMalformed = errors.New("webhook body not understood")

// Provider is one sending provider's webhook.
type Provider interface {
	// Name is the provider's name in the route: ses, sendgrid, postmark
	// or mailgun.
	Name() string
	// Receive verifies a call (ErrUnverified) and returns the bounce and
	// complaint reports its body carries; other events are left out. A
	// verified body it cannot read gives ErrMalformed.
	Receive(ctx context.Context, h http.Header, body []byte) ([]bounce.Report, error)
}

// ReplayWindow is how old a signed timestamp (SendGrid, Mailgun) may be.
const ReplayWindow = 15 * time.Minute

// fresh reports whether a signed time is within ReplayWindow of now, in
// either direction (clocks drift).
func fresh(at, now time.Time) bool {
	d := now.Sub(at)
	return d < ReplayWindow && d > -ReplayWindow
}

// kindOfStatus classifies an enhanced status code (RFC 3463) of a failed
// delivery: a full mailbox (5.2.2) and every 4.x.x are soft; other 5.x.x
// are hard. permanentHint is the provider's own verdict when the code is
// missing.
func kindOfStatus(status string, permanentHint bool) bounce.Kind {
	switch {
	case status == "5.2.2":
		return bounce.Soft
	case strings.HasPrefix(status, "4."):
		return bounce.Soft
	case strings.HasPrefix(status, "5."):
		return bounce.Hard
	case permanentHint:
		return bounce.Hard
	}
	return bounce.Soft
}

// enhanced finds an RFC 3463 code (x.y.z) at the start of s or after a
// space, as providers put them in their texts.
func enhanced(s string) string {
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '(' || r == ')' || r == ';' || r == ',' }) {
		p := strings.Split(f, ".")
		if len(p) != 3 || (p[0] != "2" && p[0] != "4" && p[0] != "5") || !digits(p[1], 3) || !digits(p[2], 3) {
			continue
		}
		return f
	}
	return ""
}

func digits(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
