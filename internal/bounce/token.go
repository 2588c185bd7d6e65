package bounce

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"strings"
)

// ErrForged says a delivery reference did not verify: altered, made up, or
// signed with another key. Nothing may be done on its word.
var ErrForged = errors.New("delivery reference does not verify")

// verpPrefix starts the local part of every VERP address.
const verpPrefix = "b-"

// macLen is the truncated HMAC kept in a token: 80 bits, enough that
// guessing one is hopeless, short enough that the local part stays far
// under the 64 octets SMTP allows.
const macLen = 10

// b32 is lowercase base32 without padding: local parts of addresses are
// case-folded by some systems, and a token must survive that.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Tokens signs and checks the delivery references crieur puts into every
// email: the VERP envelope sender (b-TOKEN@BOUNCE_DOMAIN) and the left
// part of the Message-ID. A token names one delivery and its reader; it
// carries no address.
type Tokens struct {
	key []byte
}

// NewTokens returns Tokens signing with key (derived from the daemon's
// secret for this purpose alone).
func NewTokens(key []byte) *Tokens { return &Tokens{key: key} }

// Ref is what a verified token names.
type Ref struct {
	DeliveryID   int64
	SubscriberID int64 // 0 for an email to nobody's list (a preview)
}

// Token is the signed reference to one delivery: lowercase base32 of the
// two ids as uvarints and a truncated HMAC-SHA256 over them.
func (t *Tokens) Token(r Ref) string {
	buf := make([]byte, 0, 2*binary.MaxVarintLen64+macLen)
	buf = binary.AppendUvarint(buf, uint64(r.DeliveryID))
	buf = binary.AppendUvarint(buf, uint64(r.SubscriberID))
	return b32.EncodeToString(append(buf, t.mac(buf)...))
}

func (t *Tokens) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte("crieur-delivery-ref-v1\x00"))
	m.Write(payload)
	return m.Sum(nil)[:macLen]
}

// Parse verifies tok (any case) and returns what it names.
func (t *Tokens) Parse(tok string) (Ref, error) {
	raw, err := b32.DecodeString(strings.ToLower(tok))
	if err != nil || len(raw) <= macLen {
		return Ref{}, ErrForged
	}
	payload, sum := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	if !hmac.Equal(sum, t.mac(payload)) {
		return Ref{}, ErrForged
	}
	did, n := binary.Uvarint(payload)
	if n <= 0 {
		return Ref{}, ErrForged
	}
	sid, m := binary.Uvarint(payload[n:])
	if m <= 0 || n+m != len(payload) || did > 1<<62 || sid > 1<<62 {
		return Ref{}, ErrForged
	}
	return Ref{DeliveryID: int64(did), SubscriberID: int64(sid)}, nil
}

// ReturnPath is the VERP envelope sender of one delivery.
func (t *Tokens) ReturnPath(r Ref, domain string) string {
	return verpPrefix + t.Token(r) + "@" + domain
}

// MessageID is the Message-ID of one delivery, `<TOKEN.RANDOM@domain>`:
// the token lets a report that quotes it find the delivery without VERP;
// the random part keeps ids unique across installations on one domain
// (their delivery ids start at 1 alike).
func (t *Tokens) MessageID(r Ref, domain string) string {
	var n [5]byte
	rand.Read(n[:])
	return "<" + t.Token(r) + "." + b32.EncodeToString(n[:]) + "@" + domain + ">"
}

// verpToken returns the token of a VERP address (b-TOKEN@any.domain), and
// whether addr has that form at all.
func verpToken(addr string) (string, bool) {
	addr = strings.Trim(strings.TrimSpace(addr), "<>")
	local, _, ok := strings.Cut(addr, "@")
	if !ok || len(local) <= len(verpPrefix) || !strings.EqualFold(local[:len(verpPrefix)], verpPrefix) {
		return "", false
	}
	return local[len(verpPrefix):], true
}

// messageIDToken returns the token part of a Message-ID crieur made
// (`<TOKEN.RANDOM@domain>`), and whether id has that shape.
func messageIDToken(id string) (string, bool) {
	id = strings.Trim(strings.TrimSpace(id), "<>")
	local, _, ok := strings.Cut(id, "@")
	if !ok {
		return "", false
	}
	tok, rnd, ok := strings.Cut(local, ".")
	if !ok || len(rnd) != 8 || len(tok) < 19 || len(tok) > 45 || strings.Trim(strings.ToLower(tok+rnd), "abcdefghijklmnopqrstuvwxyz234567") != "" {
		return "", false
	}
	return tok, true
}

// ParseMessageID verifies the reference in a Message-ID crieur made (with
// or without its angle brackets): ok is false when id does not have
// that shape (another sender's), err is ErrForged when it has the shape
// and does not verify.
func (t *Tokens) ParseMessageID(id string) (ref Ref, ok bool, err error) {
	tok, ok := messageIDToken(id)
	if !ok {
		return Ref{}, false, nil
	}
	ref, err = t.Parse(tok)
	return ref, true, err
}
