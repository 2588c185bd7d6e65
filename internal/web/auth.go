package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/crieur/crieur/internal/news"
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

// NewAPIToken returns a new API token: a prefix that secret scanners can
// recognise and 256 random bits. Only its HashToken is stored.
func NewAPIToken() string { return "crieur_" + RandomToken(32) }

// HashToken is how API tokens are stored: their SHA-256, so a database
// leak reveals no usable token.
func HashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// ValidateTopic checks a topic slug ([a-z0-9-], 1–64) and name.
func ValidateTopic(slug, name string) error {
	if slug == "" || len(slug) > 64 {
		return news.FieldError(news.CodeInvalid, "slug", "slug must be 1 to 64 characters")
	}
	for _, c := range slug {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return news.FieldError(news.CodeInvalid, "slug", "slug may hold only a-z, 0-9 and -")
		}
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 || strings.ContainsAny(name, "\r\n\x00") {
		return news.FieldError(news.CodeInvalid, "name", "name must be 1 to 200 characters on one line")
	}
	return nil
}

// randomToken returns n random bytes, base64url-encoded.
func RandomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
