package news

import "time"

// IdempotencyTTL is how long an idempotency key is remembered (what
// Stripe keeps): a repeat within it gets the first result, a reuse after
// it starts anew.
const IdempotencyTTL = 24 * time.Hour

// MaxIdempotencyKeyLen is the longest idempotency key accepted.
const MaxIdempotencyKeyLen = 255

// IdempotencyKey makes a request take effect once. A second request with
// the same Scope and Key within IdempotencyTTL, from any instance, gets
// the first one's result and changes nothing.
type IdempotencyKey struct {
	// Scope is whose key it is ("token:ID", "user:EMAIL"): one caller's
	// keys never answer another's requests.
	Scope string
	// Key is the caller's key; empty means the request is not idempotent.
	Key string
	// Hash sums what the request asks for; a repeat with another Hash is
	// refused (CodeIdempotencyConflict). Empty: not compared.
	Hash string
}

// ValidIdempotencyKey reports whether k is a key crieur accepts: 1 to
// MaxIdempotencyKeyLen visible ASCII characters (a UUID, a hash, an
// article id with a suffix).
func ValidIdempotencyKey(k string) bool {
	if k == "" || len(k) > MaxIdempotencyKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] > '~' {
			return false
		}
	}
	return true
}

// CodeIdempotencyConflict: an idempotency key already used, within
// IdempotencyTTL, with another request (HTTP 409).
const CodeIdempotencyConflict Code = "idempotency_conflict"
