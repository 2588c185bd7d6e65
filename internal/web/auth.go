package web

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
)

// bearerToken is the token of an "Authorization: Bearer" header; the
// scheme's case does not matter (RFC 7235 2.1).
func BearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || len(tok) > 200 {
		return "", false
	}
	return tok, true
}

// randomToken returns n random bytes, base64url-encoded.
func RandomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
