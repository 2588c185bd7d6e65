package push

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidKeys is wrapped by errors about malformed subscription or VAPID
// keys.
var ErrInvalidKeys = errors.New("push: invalid keys")

// GenerateVAPIDKeys creates a VAPID key pair in the format webpush-go uses:
// unpadded base64url of the 32-byte private scalar and of the 65-byte
// uncompressed public point (the applicationServerKey given to browsers).
func GenerateVAPIDKeys() (privateKey, publicKey string, err error) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generate vapid keys: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(k.Bytes()),
		base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()), nil
}

// decodeKey decodes base64 as browsers and libraries send it: URL-safe or
// standard alphabet, padded or not.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if strings.ContainsAny(s, "+/") {
		return base64.RawStdEncoding.DecodeString(s)
	}
	return base64.RawURLEncoding.DecodeString(s)
}

// parseSubscriptionKeys decodes and checks a subscription's keys.
func parseSubscriptionKeys(p256dh, auth string) (*ecdh.PublicKey, []byte, error) {
	raw, err := decodeKey(p256dh)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: p256dh: %w", ErrInvalidKeys, err)
	}
	if len(raw) != 65 || raw[0] != 4 {
		return nil, nil, fmt.Errorf("%w: p256dh is not an uncompressed P-256 point (%d bytes)", ErrInvalidKeys, len(raw))
	}
	pub, err := ecdh.P256().NewPublicKey(raw) // checks the point is on the curve
	if err != nil {
		return nil, nil, fmt.Errorf("%w: p256dh: %w", ErrInvalidKeys, err)
	}
	a, err := decodeKey(auth)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: auth: %w", ErrInvalidKeys, err)
	}
	if len(a) != 16 {
		return nil, nil, fmt.Errorf("%w: auth is %d bytes, want 16", ErrInvalidKeys, len(a))
	}
	return pub, a, nil
}

// ValidateSubscriptionKeys checks a subscription's keys as the browser sent
// them: p256dh an uncompressed P-256 point on the curve, auth exactly 16
// bytes, both base64 in either alphabet, padded or not. Errors wrap
// ErrInvalidKeys.
func ValidateSubscriptionKeys(p256dh, auth string) error {
	_, _, err := parseSubscriptionKeys(p256dh, auth)
	return err
}
