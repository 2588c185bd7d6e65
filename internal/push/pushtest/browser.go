// Package pushtest stands in for browsers and push services in tests: a
// Browser holds a subscriber's keys and decrypts what it is sent, and a
// Server is an httptest push service that checks VAPID, decrypts every
// message with its browser's keys, records it, and can be scripted to fail.
//
// Its decryption is written from RFC 8291 and RFC 8188 independently of
// package push, and is checked against webpush-go in push's tests.
//
// It imports push for its wire types, header checks and a Sender to post
// with, never for decryption (so that a fault in push's encryption shows),
// and must not import store or dispatch.
package pushtest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// Browser is a push subscriber: a P-256 key pair and an auth secret, as a
// browser makes for PushManager.subscribe().
type Browser struct {
	// Key is the subscriber's private key.
	Key *ecdh.PrivateKey
	// AuthSecret is the 16-byte auth secret.
	AuthSecret []byte
	// P256dh and Auth are the keys as the browser hands them out
	// (getKey("p256dh"), getKey("auth")): unpadded base64url.
	P256dh, Auth string
}

// NewBrowser makes a subscriber with fresh keys.
func NewBrowser() *Browser {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("pushtest: generate key: %v", err)) // crypto/rand does not fail
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	return &Browser{
		Key:        k,
		AuthSecret: auth,
		P256dh:     base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()),
		Auth:       base64.RawURLEncoding.EncodeToString(auth),
	}
}

// ErrDecrypt is wrapped by every Decrypt error.
var ErrDecrypt = errors.New("pushtest: cannot decrypt")

// Decrypt opens an aes128gcm push message body (RFC 8291) sent to b and
// returns the payload without its padding. Malformed bodies return an error
// wrapping ErrDecrypt, never a panic.
func (b *Browser) Decrypt(body []byte) ([]byte, error) {
	// Header: salt(16) rs(4) idlen(1) keyid(idlen), then the records.
	if len(body) < 21 {
		return nil, fmt.Errorf("%w: %d-byte body is shorter than the header", ErrDecrypt, len(body))
	}
	salt := body[:16]
	rs := binary.BigEndian.Uint32(body[16:20])
	idlen := int(body[20])
	if rs < 18 {
		return nil, fmt.Errorf("%w: record size %d", ErrDecrypt, rs)
	}
	if idlen != 65 || len(body) < 21+idlen {
		return nil, fmt.Errorf("%w: key id of %d bytes, want a 65-byte P-256 key", ErrDecrypt, idlen)
	}
	asPub, err := ecdh.P256().NewPublicKey(body[21 : 21+idlen])
	if err != nil {
		return nil, fmt.Errorf("%w: sender key: %w", ErrDecrypt, err)
	}
	record := body[21+idlen:]
	// RFC 8291 §4: a push message is a single record.
	if len(record) < 17 || uint64(len(record)) > uint64(rs) {
		return nil, fmt.Errorf("%w: record of %d bytes with rs %d", ErrDecrypt, len(record), rs)
	}
	secret, err := b.Key.ECDH(asPub)
	if err != nil {
		return nil, fmt.Errorf("%w: ecdh: %w", ErrDecrypt, err)
	}
	info := make([]byte, 0, 144)
	info = append(info, "WebPush: info\x00"...)
	info = append(info, b.Key.PublicKey().Bytes()...)
	info = append(info, asPub.Bytes()...)
	ikm, err := hkdf.Key(sha256.New, secret, b.AuthSecret, string(info), 32)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	cek, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	nonce, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	pt, err := gcm.Open(nil, nonce, record, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	// Strip padding: zeros after a 0x02 delimiter (last record, RFC 8188 §2).
	i := len(pt) - 1
	for i >= 0 && pt[i] == 0 {
		i--
	}
	if i < 0 || pt[i] != 0x02 {
		return nil, fmt.Errorf("%w: no last-record padding delimiter", ErrDecrypt)
	}
	return pt[:i], nil
}
