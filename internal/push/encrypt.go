package push

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Layout of an aes128gcm body (RFC 8188 §2.1) as RFC 8291 uses it: salt, record
// size, key id length, key id (the sender's ephemeral public key), then one
// encrypted record.
const (
	saltLen     = 16
	pubKeyLen   = 65
	headerLen   = saltLen + 4 + 1 + pubKeyLen // 86
	tagLen      = 16
	recordSize  = 4096 // the rs field, as webpush-go and browsers' examples send it
	maxBodyLen  = 4096 // RFC 8030 §7.2: push services must accept at least 4096 bytes
	maxRecordPT = maxBodyLen - headerLen - tagLen
)

// MaxPayload is the largest Message.Payload a Sender accepts: what fits a
// 4096-byte body after the header, the padding delimiter and the tag.
const MaxPayload = maxRecordPT - 1 // 3993

// ErrPayloadTooLarge is returned for a payload over MaxPayload bytes.
var ErrPayloadTooLarge = errors.New("push: payload too large")

// padBuckets are the sizes a record's plaintext (payload, the 0x02
// delimiter, zero padding) is rounded up to, so that the body length tells an
// observer only a coarse size class: bodies of 230, 614, 1126, 2150 or 4096
// bytes. Always padding to 4096, as webpush-go does, hides more but makes
// every body up to 7 times larger for typical ~500-byte alerts.
var padBuckets = [...]int{128, 512, 1024, 2048, maxRecordPT}

// paddedLen returns the record plaintext size for a payload of n bytes.
func paddedLen(n int) (int, error) {
	for _, b := range padBuckets {
		if n+1 <= b {
			return b, nil
		}
	}
	return 0, fmt.Errorf("%w: %d bytes, max %d", ErrPayloadTooLarge, n, MaxPayload)
}

// Info strings of RFC 8291 §3.4 and RFC 8188 §2.2, 2.3.
var (
	cekInfo   = []byte("Content-Encoding: aes128gcm\x00")
	nonceInfo = []byte("Content-Encoding: nonce\x00")
)

// encrypt builds the aes128gcm body for plaintext sent to the user agent key
// ua with auth secret auth, using the ephemeral key eph and salt (which must
// never be reused), padding the record plaintext to padTo bytes
// (len(plaintext)+1 means no padding).
func encrypt(plaintext []byte, ua *ecdh.PublicKey, auth []byte, eph *ecdh.PrivateKey, salt []byte, padTo int) ([]byte, error) {
	return appendEncrypted(nil, plaintext, ua, auth, eph, salt, padTo)
}

// appendEncrypted appends the aes128gcm body encrypt makes to dst.
func appendEncrypted(dst, plaintext []byte, ua *ecdh.PublicKey, auth []byte, eph *ecdh.PrivateKey, salt []byte, padTo int) ([]byte, error) {
	if len(salt) != saltLen {
		return nil, fmt.Errorf("encrypt: salt is %d bytes", len(salt))
	}
	if padTo < len(plaintext)+1 || padTo > recordSize-tagLen {
		return nil, fmt.Errorf("encrypt: pad %d bytes for a %d-byte plaintext", padTo, len(plaintext))
	}
	secret, err := eph.ECDH(ua)
	if err != nil {
		return nil, fmt.Errorf("encrypt: ecdh: %w", err)
	}
	asPub := eph.PublicKey().Bytes()
	uaPub := ua.Bytes()

	// RFC 8291 §3.4: IKM = HKDF(auth, ecdh_secret, "WebPush: info" || 0 || ua_public || as_public, 32).
	// RFC 8188 §2.2, 2.3: CEK and NONCE from PRK = HKDF-Extract(salt, IKM).
	// Every output is at most one SHA-256 block, so each HKDF-Expand is
	// the single HMAC T(1) = HMAC(PRK, info || 0x01) (RFC 5869 §2.3).
	prkKey := hmacSHA256(auth, secret)
	ikm := hmacSHA256(prkKey[:], []byte("WebPush: info\x00"), uaPub, asPub, []byte{1})
	prk := hmacSHA256(salt, ikm[:])
	cek := hmacSHA256(prk[:], cekInfo, []byte{1})
	nonce := hmacSHA256(prk[:], nonceInfo, []byte{1})
	block, err := aes.NewCipher(cek[:16])
	if err != nil {
		return nil, fmt.Errorf("encrypt: aes: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("encrypt: gcm: %w", err)
	}

	start := len(dst)
	dst = slices.Grow(dst, headerLen+padTo+tagLen)
	body := dst[start : start+headerLen+padTo]
	clear(body) // dst may be a reused buffer: the padding must be zeros
	copy(body, salt)
	binary.BigEndian.PutUint32(body[saltLen:], recordSize)
	body[saltLen+4] = pubKeyLen
	copy(body[saltLen+5:], asPub)
	pt := body[headerLen:]
	copy(pt, plaintext)
	pt[len(plaintext)] = 0x02 // last-record delimiter; the rest stays zero padding
	gcm.Seal(pt[:0], nonce[:12], pt, nil)
	return dst[:start+headerLen+padTo+tagLen], nil
}

// hmacSHA256 is HMAC-SHA-256 (RFC 2104) of the concatenated parts under a
// key of at most 64 bytes (every key here is 16 or 32). Written out rather
// than through crypto/hkdf and crypto/hmac: those allocate two hash
// states per call, and a message needs five of them, which cost more
// than the hashing itself.
func hmacSHA256(key []byte, parts ...[]byte) [sha256.Size]byte {
	var in [sha256.BlockSize + 160]byte // the longest message is the IKM info, 146 bytes
	b := in[:sha256.BlockSize]
	copy(b, key)
	for i := range b {
		b[i] ^= 0x36
	}
	for _, p := range parts {
		b = append(b, p...)
	}
	inner := sha256.Sum256(b)
	var out [sha256.BlockSize + sha256.Size]byte
	copy(out[:], key)
	for i := range sha256.BlockSize {
		out[i] ^= 0x5c
	}
	copy(out[sha256.BlockSize:], inner[:])
	return sha256.Sum256(out[:])
}
