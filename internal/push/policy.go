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
func classify(status int, retryAfter string, body []byte, now time.Time) Result {
	r := Result{Status: status, Err: &StatusError{StatusCode: status, Body: printable(body)}}
	switch {
	case status == http.StatusNotFound || status == http.StatusGone:
		r.Outcome = Gone
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500:
		r.Outcome = Retry
		r.RetryAfter = RetryAfter(retryAfter, now)
	default:
		// 400 (bad request), 401/403 (VAPID refused), 413 (too large), other
		// 4xx, and 1xx/3xx that should not reach here: retrying the same
		// request will not help, and the subscription may still be good.
		r.Outcome = Failed
	}
	return r
}

// MaxRefusals is how many alerts in a row a push service may refuse for one
// subscription (Result.Refused) before the subscription is removed: an
// endpoint that is not a push service, or a subscription the service no
// longer takes, would otherwise be posted every alert forever. A delivery
// resets the count.
const MaxRefusals = 3

// Refused reports whether the push service turned the message away with a
// 4xx that neither removes the subscription (404, 410) nor is retried (408,
// 429): 400, 401, 403, 405, 413 and the like. Such a refusal fails the
// message; MaxRefusals of them in a row remove the subscription.
func (r Result) Refused() bool {
	return r.Outcome == Failed && r.Status >= 400 && r.Status < 500
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
// before it is stored. Unless policy allows private addresses (tests,
// development), it must be https, without credentials, on port 443 (where
// every push service listens: another port of a public host, ssh or SMTP,
// would make the daemon a probe of it) at one of hosts, so that alerts
// cannot be turned into a flood of a victim's host. A listed host is not
// resolved: the dialer checks every address it connects to at send time,
// and a machine without DNS can still take subscriptions. With
// AllowPrivate, any host is accepted once its addresses pass policy
// (netguard.CheckURL); a name that cannot be resolved then gives an error
// wrapping netguard.ErrUnresolved. Every refusal wraps
// netguard.ErrNotAllowed.
func EndpointChecker(policy netguard.Policy, hosts Hosts) func(ctx context.Context, endpoint string) error {
	return func(ctx context.Context, endpoint string) error {
		if policy.AllowPrivate {
			return policy.CheckURL(ctx, endpoint)
		}
		// What the sender will dial is what url.Parse makes of the
		// endpoint (http.NewRequest parses it the same way).
		u, err := url.Parse(endpoint)
		switch {
		case err != nil:
			return fmt.Errorf("%w: parse endpoint: %w", netguard.ErrNotAllowed, err)
		case u.Scheme != "https":
			return fmt.Errorf("%w: scheme %q (https required)", netguard.ErrNotAllowed, u.Scheme)
		case u.User != nil:
			return fmt.Errorf("%w: endpoint carries credentials", netguard.ErrNotAllowed)
		case u.Port() != "" && u.Port() != "443":
			return fmt.Errorf("%w: port %s (push services use 443)", netguard.ErrNotAllowed, u.Port())
		case !hosts.Match(u.Hostname()):
			return fmt.Errorf("%w: %q is not a push service browsers use (see CRIEUR_PUSH_HOSTS)", netguard.ErrNotAllowed, u.Hostname())
		}
		return nil
	}
}
