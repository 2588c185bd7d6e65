// Package click is crieur's tracked links: the signed token of each
// article link in digests and alert emails (BASE/r/TOKEN), where it leads
// (always the URL stored for the article or the alert, never one carried
// by the token), and the counting of clicks, readers' apart from mail
// scanners', without storing who clicked unless CRIEUR_TRACK_READERS=true.
//
// It imports store and news, never the web rooms or dispatch: dispatch
// asks it for links, web/reader for targets and to record a click.
package click

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"sync"
)

// Kind is what an email with tracked links belongs to.
type Kind byte

// The kinds of tracked emails.
const (
	KindRun   Kind = 1 // a digest run's email
	KindAlert Kind = 2 // an alert's email
)

// Link is what a valid token names.
type Link struct {
	Kind Kind
	// Scope is the run's or the alert's id.
	Scope int64
	// Article is the article's id; 0 in an alert email: the alert's own
	// URL.
	Article int64
	// Reader is the subscriber's id with CRIEUR_TRACK_READERS=true, else
	// 0: by default every reader of a run gets the same token.
	Reader int64
}

// ErrInvalid is any token that was not made by Tokens.Sign with this key:
// forged, altered, truncated, or made for another purpose.
var ErrInvalid = errors.New("invalid link")

const (
	tokenVersion = 1
	macLen       = 16 // 128-bit truncated HMAC-SHA256
	maxTokenLen  = 96
	maxID        = 1 << 62
)

// Tokens signs and checks tracked-link tokens: base64url(version | kind |
// scope | article | reader | HMAC). Its key is its own (derived for this
// purpose alone), so no token of another purpose (a preference link, a
// bounce address) verifies here, nor one of these there.
type Tokens struct {
	key []byte
	// macs holds keyed HMACs to reuse: a Reset one costs no allocation,
	// where hmac.New costs a fifth of a redirect.
	macs sync.Pool
}

// NewTokens returns a signer using key (at least 32 bytes).
func NewTokens(key []byte) (*Tokens, error) {
	if len(key) < 32 {
		return nil, errors.New("click token key must be at least 32 bytes")
	}
	t := &Tokens{key: key}
	t.macs.New = func() any { return hmac.New(sha256.New, t.key) }
	return t, nil
}

// Sign returns the token of l. Links do not expire: an old digest's links
// keep leading to their stories.
func (t *Tokens) Sign(l Link) string {
	var buf [3 + 3*binary.MaxVarintLen64 + macLen]byte
	b := append(buf[:0], tokenVersion, byte(l.Kind))
	b = binary.AppendUvarint(b, uint64(l.Scope))
	b = binary.AppendUvarint(b, uint64(l.Article))
	b = binary.AppendUvarint(b, uint64(l.Reader))
	b = t.appendMAC(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (t *Tokens) appendMAC(b []byte) []byte {
	m := t.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(b)
	var sum [sha256.Size]byte
	b = append(b, m.Sum(sum[:0])[:macLen]...)
	t.macs.Put(m)
	return b
}

// Verify checks a token and returns what it names.
func (t *Tokens) Verify(tok string) (Link, error) {
	if len(tok) == 0 || len(tok) > maxTokenLen {
		return Link{}, ErrInvalid
	}
	var buf [maxTokenLen]byte
	n, err := base64.RawURLEncoding.Strict().Decode(buf[:], []byte(tok))
	// The decoder skips '\r' and '\n' even in strict mode: a token with
	// them would be a second spelling of a valid one.
	if err != nil || n < 5+macLen || base64.RawURLEncoding.EncodedLen(n) != len(tok) {
		return Link{}, ErrInvalid
	}
	raw := buf[:n]
	body, sum := raw[:n-macLen], raw[n-macLen:]
	var want [maxTokenLen + sha256.Size]byte
	if !hmac.Equal(sum, t.appendMAC(append(want[:0], body...))[len(body):]) {
		return Link{}, ErrInvalid
	}
	if body[0] != tokenVersion {
		return Link{}, ErrInvalid
	}
	l := Link{Kind: Kind(body[1])}
	rest := body[2:]
	var ids [3]uint64
	for i := range ids {
		v, k := binary.Uvarint(rest)
		if k <= 0 || v > maxID {
			return Link{}, ErrInvalid
		}
		ids[i], rest = v, rest[k:]
	}
	if len(rest) != 0 || ids[0] == 0 {
		return Link{}, ErrInvalid
	}
	l.Scope, l.Article, l.Reader = int64(ids[0]), int64(ids[1]), int64(ids[2])
	switch {
	case l.Kind == KindRun && l.Article == 0:
		return Link{}, ErrInvalid
	case l.Kind != KindRun && l.Kind != KindAlert:
		return Link{}, ErrInvalid
	}
	return l, nil
}
