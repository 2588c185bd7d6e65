package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/crieur/crieur/internal/news"
)

// apiOnce reads the Idempotency-Key header of POST /api/v1/alerts. The
// hash covers the decoded request, so that a repeat differing only in
// JSON spacing or key order is the same request, and one differing in
// any field is refused (409 idempotency_conflict) rather than answered
// with an alert it did not ask for.
func apiOnce(r *http.Request, in alertJSON) (news.IdempotencyKey, error) {
	vals := r.Header.Values("Idempotency-Key")
	if len(vals) == 0 {
		return news.IdempotencyKey{}, nil
	}
	if len(vals) > 1 || !news.ValidIdempotencyKey(vals[0]) {
		return news.IdempotencyKey{}, news.FieldError(news.CodeInvalid, "Idempotency-Key",
			"Idempotency-Key must be one value of 1 to %d visible ASCII characters.", news.MaxIdempotencyKeyLen)
	}
	// Scoped by token id, as two tokens may share a name.
	id := tokenIDOf(r.Context())
	b, err := json.Marshal(in)
	if err != nil {
		return news.IdempotencyKey{}, err
	}
	sum := sha256.Sum256(b)
	return news.IdempotencyKey{Scope: "token:" + strconv.FormatInt(id, 10), Key: vals[0], Hash: hex.EncodeToString(sum[:])}, nil
}
