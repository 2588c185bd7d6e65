package subscribe

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Purpose is what a link token allows. A token made for one purpose is
// refused for any other.
type Purpose byte

// The purposes of link tokens.
const (
	PurposeConfirm     Purpose = 1
	PurposePreferences Purpose = 2
	PurposeUnsubscribe Purpose = 3
)

func (p Purpose) String() string {
	switch p {
	case PurposeConfirm:
		return "confirm"
	case PurposePreferences:
		return "preferences"
	case PurposeUnsubscribe:
		return "unsubscribe"
	}
	return fmt.Sprintf("purpose(%d)", byte(p))
}

// Token errors, matched with errors.Is.
var (
	ErrTokenInvalid = errors.New("invalid link")
	ErrTokenExpired = errors.New("expired link")
	ErrTokenPurpose = errors.New("link used for the wrong purpose")
)

const (
	// tokenV1 tokens, in emails sent before link generations, carry no
	// generation: they read as generation 0, which every reader has until
	// their links are first revoked.
	tokenV1      = 1
	tokenVersion = 2
	macLen       = 16 // 128-bit truncated HMAC-SHA256: far past brute force
	maxTokenLen  = 128
)

// Tokens signs and checks the tokens in links sent to readers. A token is
// base64url(version | purpose | subscriber id | link generation | expiry |
// HMAC): it names one subscriber, one purpose and the generation of the
// reader's links it belongs to, and nothing in it can be changed without
// the key. Revoking a reader's links moves their generation on, which
// turns every older token down (see Service.Lookup).
type Tokens struct {
	key []byte
	now func() time.Time
}

// NewTokens returns a signer using key (at least 32 bytes).
func NewTokens(key []byte, now func() time.Time) (*Tokens, error) {
	if len(key) < 32 {
		return nil, errors.New("token key must be at least 32 bytes")
	}
	if now == nil {
		now = time.Now
	}
	return &Tokens{key: key, now: now}, nil
}

// Link is what a valid token names.
type Link struct {
	// ID is the subscriber's id.
	ID int64
	// Gen is the generation of the subscriber's links the token was made
	// in.
	Gen int64
}

// Sign returns a token for subscriber id, purpose and link generation
// gen, valid for ttl (0: no expiry, for unsubscribe and preference links
// that must keep working in old emails until revoked).
func (t *Tokens) Sign(p Purpose, id, gen int64, ttl time.Duration) string {
	var exp int64
	if ttl > 0 {
		exp = t.now().Add(ttl).Unix()
	}
	buf := make([]byte, 0, 2+3*binary.MaxVarintLen64+macLen)
	buf = append(buf, tokenVersion, byte(p))
	buf = binary.AppendUvarint(buf, uint64(id))
	buf = binary.AppendUvarint(buf, uint64(gen))
	buf = binary.AppendUvarint(buf, uint64(exp))
	buf = append(buf, t.mac(buf)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

func (t *Tokens) mac(b []byte) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write(b)
	return m.Sum(nil)[:macLen]
}

// Verify checks a token for purpose and returns what it names.
func (t *Tokens) Verify(tok string, p Purpose) (Link, error) {
	if len(tok) == 0 || len(tok) > maxTokenLen {
		return Link{}, ErrTokenInvalid
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	// The decoder skips '\r' and '\n' even in strict mode; a token with
	// them would be a second spelling of a valid one.
	if err != nil || len(raw) < 2+2+macLen || base64.RawURLEncoding.EncodedLen(len(raw)) != len(tok) {
		return Link{}, ErrTokenInvalid
	}
	body, sum := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	if !hmac.Equal(sum, t.mac(body)) {
		return Link{}, ErrTokenInvalid
	}
	version := body[0]
	if version != tokenVersion && version != tokenV1 {
		return Link{}, ErrTokenInvalid
	}
	if Purpose(body[1]) != p {
		return Link{}, ErrTokenPurpose
	}
	rest := body[2:]
	id, n := binary.Uvarint(rest)
	if n <= 0 || id == 0 || id > 1<<62 {
		return Link{}, ErrTokenInvalid
	}
	rest = rest[n:]
	var gen uint64
	if version == tokenVersion {
		if gen, n = binary.Uvarint(rest); n <= 0 || gen > 1<<62 {
			return Link{}, ErrTokenInvalid
		}
		rest = rest[n:]
	}
	exp, n := binary.Uvarint(rest)
	if n <= 0 || n != len(rest) {
		return Link{}, ErrTokenInvalid
	}
	if exp != 0 && t.now().Unix() > int64(exp) {
		return Link{}, ErrTokenExpired
	}
	return Link{ID: int64(id), Gen: int64(gen)}, nil
}
