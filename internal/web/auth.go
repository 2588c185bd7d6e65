package web

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
)

// BearerToken is the token of an "Authorization: Bearer" header; the
// scheme's case does not matter (RFC 7235 2.1).
func BearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || len(tok) > 200 {
		return "", false
	}
	return tok, true
}

// RandomToken returns n random bytes, base64url-encoded.
func RandomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
