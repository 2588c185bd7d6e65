package push

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crieur/crieur/internal/netguard"
)

// StatusError is a push service's refusal: its status and the start of its
// answer (push services explain themselves there, e.g. FCM's reason).
type StatusError struct {
	StatusCode int
	Body       string
}

// Error describes the refusal.
func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("push service answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	return fmt.Sprintf("push service answered %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Body)
}

// classify maps a push service's non-2xx answer to a Result.
func classify(status int, h http.Header, body []byte, now time.Time) Result {
	r := Result{Status: status, Err: &StatusError{StatusCode: status, Body: printable(body)}}
	switch {
	case status == http.StatusNotFound || status == http.StatusGone:
		r.Outcome = Gone
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500:
		r.Outcome = Retry
		r.RetryAfter = RetryAfter(h.Get("Retry-After"), now)
	default:
		// 400 (bad request), 401/403 (VAPID refused), 413 (too large), other
		// 4xx, and 1xx/3xx that should not reach here: retrying the same
		// request will not help, and the subscription may still be good.
		r.Outcome = Failed
	}
	return r
}

// maxRetryAfter caps what a push service may ask for.
const maxRetryAfter = 24 * time.Hour

// RetryAfter parses a Retry-After header value (RFC 9110 §10.2.3): a number
// of seconds or an HTTP date, relative to now. It returns 0 for an empty,
// unparseable or past value, and at most 24 h.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d < 0 {
		return 0
	}
	return min(d, maxRetryAfter)
}

// printable trims a push service's answer for an error message.
func printable(b []byte) string {
	s := strings.TrimSpace(string(b))
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	return s
}

// EndpointChecker returns the check a browser's push endpoint must pass
// before it is stored: policy's address rules (https, a public address),
// and, unless policy allows private addresses (tests, development), the
// https port. Every push service (FCM, Mozilla, Apple, Windows) listens on
// 443; an endpoint on another port of a public host (ssh, SMTP) would make
// the daemon a probe of that port.
func EndpointChecker(policy netguard.Policy) func(ctx context.Context, endpoint string) error {
	return func(ctx context.Context, endpoint string) error {
		// The port first: it needs no DNS lookup.
		if !policy.AllowPrivate {
			if u, err := url.Parse(endpoint); err == nil {
				if p := u.Port(); p != "" && p != "443" {
					return fmt.Errorf("%w: port %s (push services use 443)", netguard.ErrNotAllowed, p)
				}
			}
		}
		return policy.CheckURL(ctx, endpoint)
	}
}
