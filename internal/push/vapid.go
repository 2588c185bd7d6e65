package push

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// VAPID token lifetime: RFC 8292 allows up to 24 h; webpush-go uses 12 h.
// A token is re-signed when less than tokenRefresh is left, so a request
// never carries one about to expire, and a push service sees a new token at
// most about every 11 h (Apple asks for no more than one an hour).
const (
	tokenLifetime = 12 * time.Hour
	tokenRefresh  = time.Hour
)

// vapid signs and caches VAPID Authorization headers, one per push service
// origin.
type vapid struct {
	key     *ecdsa.PrivateKey
	pubB64  string // as configured: the k= parameter
	subject string
	now     func() time.Time

	cache sync.Map   // origin → *vapidToken
	mu    sync.Mutex // serialises signing so a burst to a new origin signs once
}

// vapidToken is a signed Authorization header value and when to replace it.
type vapidToken struct {
	header    []string // the Authorization header's value, shared by requests
	refreshAt time.Time
}

// ValidateVAPIDKeys checks a configured key pair: both decode and belong
// together.
func ValidateVAPIDKeys(privateKey, publicKey string) error {
	_, err := parseVAPIDKeys(privateKey, publicKey)
	return err
}

// parseVAPIDKeys decodes the key pair and checks that they belong together.
func parseVAPIDKeys(privateKey, publicKey string) (*ecdsa.PrivateKey, error) {
	priv, err := decodeKey(privateKey)
	if err != nil {
		return nil, fmt.Errorf("%w: vapid private key: %w", ErrInvalidKeys, err)
	}
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), priv)
	if err != nil {
		return nil, fmt.Errorf("%w: vapid private key: %w", ErrInvalidKeys, err)
	}
	pub, err := decodeKey(publicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: vapid public key: %w", ErrInvalidKeys, err)
	}
	want, err := key.PublicKey.Bytes()
	if err != nil {
		return nil, fmt.Errorf("%w: vapid key: %w", ErrInvalidKeys, err)
	}
	if string(pub) != string(want) {
		return nil, fmt.Errorf("%w: vapid public key does not match the private key", ErrInvalidKeys)
	}
	return key, nil
}

// validateSubject checks the JWT sub claim: a bare mailto: address or an
// https: URL (RFC 8292 §2.1; Apple answers 403 BadJwtToken otherwise).
func validateSubject(sub string) error {
	u, err := url.Parse(sub)
	if err != nil {
		return fmt.Errorf("vapid subject: %w", err)
	}
	switch u.Scheme {
	case "mailto":
		addr := u.Opaque
		if strings.HasPrefix(strings.ToLower(addr), "mailto:") {
			return fmt.Errorf("vapid subject %q: doubled mailto:", sub)
		}
		a, err := mail.ParseAddress(addr)
		if err != nil || a.Address != addr || a.Name != "" {
			return fmt.Errorf("vapid subject %q: not a bare email address", sub)
		}
	case "https":
		if u.Host == "" || u.User != nil {
			return fmt.Errorf("vapid subject %q: https URL needs a host and no credentials", sub)
		}
	default:
		return fmt.Errorf("vapid subject %q: must be a mailto: or https: URI", sub)
	}
	return nil
}

// header returns the Authorization header's value for origin (scheme://host[:port]),
// signing a new token when the cached one is missing or close to expiry.
func (v *vapid) header(origin string) ([]string, error) {
	now := v.now()
	if t, ok := v.cache.Load(origin); ok && now.Before(t.(*vapidToken).refreshAt) {
		return t.(*vapidToken).header, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if t, ok := v.cache.Load(origin); ok && now.Before(t.(*vapidToken).refreshAt) {
		return t.(*vapidToken).header, nil
	}
	exp := now.Add(tokenLifetime)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"aud": origin,
		"exp": exp.Unix(),
		"sub": v.subject,
	}).SignedString(v.key)
	if err != nil {
		return nil, fmt.Errorf("sign vapid jwt: %w", err)
	}
	t := &vapidToken{
		header:    []string{"vapid t=" + tok + ", k=" + v.pubB64},
		refreshAt: exp.Add(-tokenRefresh),
	}
	v.cache.Store(origin, t)
	return t.header, nil
}
