package subscribe_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/subscribe"
)

func newTokens(t testing.TB, now func() time.Time) *subscribe.Tokens {
	t.Helper()
	tok, err := subscribe.NewTokens(bytes.Repeat([]byte("k"), 32), now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenRoundTrip(t *testing.T) {
	t.Parallel()
	tok := newTokens(t, nil)
	for _, id := range []int64{1, 127, 128, 1 << 40} {
		for _, gen := range []int64{0, 1, 300} {
			for _, p := range []subscribe.Purpose{subscribe.PurposeConfirm, subscribe.PurposePreferences, subscribe.PurposeUnsubscribe} {
				s := tok.Sign(p, id, gen, 0)
				got, err := tok.Verify(s, p)
				if want := (subscribe.Link{ID: id, Gen: gen}); err != nil || got != want {
					t.Fatalf("Verify(Sign(%v,%d,%d)) = %+v, %v", p, id, gen, got, err)
				}
			}
		}
	}
}

// signV1 writes a token as crieur did before link generations: no
// generation field.
func signV1(key []byte, p subscribe.Purpose, id int64) string {
	buf := []byte{1, byte(p)}
	buf = binary.AppendUvarint(buf, uint64(id))
	buf = binary.AppendUvarint(buf, 0)
	m := hmac.New(sha256.New, key)
	m.Write(buf)
	return base64.RawURLEncoding.EncodeToString(append(buf, m.Sum(nil)[:16]...))
}

// TestTokenV1 checks that the links of emails sent before link
// generations still verify, as generation 0.
func TestTokenV1(t *testing.T) {
	t.Parallel()
	tok := newTokens(t, nil)
	old := signV1(bytes.Repeat([]byte("k"), 32), subscribe.PurposePreferences, 42)
	got, err := tok.Verify(old, subscribe.PurposePreferences)
	if want := (subscribe.Link{ID: 42}); err != nil || got != want {
		t.Fatalf("Verify(v1 token) = %+v, %v; want %+v", got, err, want)
	}
	if _, err := tok.Verify(old, subscribe.PurposeUnsubscribe); !errors.Is(err, subscribe.ErrTokenPurpose) {
		t.Fatalf("v1 token for another purpose: %v", err)
	}
	if _, err := tok.Verify(signV1(bytes.Repeat([]byte("x"), 32), subscribe.PurposePreferences, 42), subscribe.PurposePreferences); !errors.Is(err, subscribe.ErrTokenInvalid) {
		t.Fatalf("v1 token of another key: %v", err)
	}
}

func TestTokenRefusals(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tok := newTokens(t, clock)
	good := tok.Sign(subscribe.PurposeUnsubscribe, 42, 3, 0)
	other, _ := subscribe.NewTokens(bytes.Repeat([]byte("x"), 32), nil)

	flipped := []byte(good)
	flipped[len(flipped)/2] ^= 1
	if flipped[len(flipped)/2] == '-' || flipped[len(flipped)/2] == '_' {
		flipped[len(flipped)/2] = 'A'
	}
	cases := []struct {
		name string
		tok  string
		p    subscribe.Purpose
		want error
	}{
		{"wrong purpose", good, subscribe.PurposeConfirm, subscribe.ErrTokenPurpose},
		{"altered", string(flipped), subscribe.PurposeUnsubscribe, subscribe.ErrTokenInvalid},
		{"other key", other.Sign(subscribe.PurposeUnsubscribe, 42, 3, 0), subscribe.PurposeUnsubscribe, subscribe.ErrTokenInvalid},
		{"truncated", good[:len(good)-3], subscribe.PurposeUnsubscribe, subscribe.ErrTokenInvalid},
		{"extended", good + "AA", subscribe.PurposeUnsubscribe, subscribe.ErrTokenInvalid},
		{"empty", "", subscribe.PurposeUnsubscribe, subscribe.ErrTokenInvalid},
		{"garbage", "not a token!", subscribe.PurposeUnsubscribe, subscribe.ErrTokenInvalid},
		{"huge", strings.Repeat("A", 10000), subscribe.PurposeUnsubscribe, subscribe.ErrTokenInvalid},
	}
	for _, c := range cases {
		if _, err := tok.Verify(c.tok, c.p); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)
	tok := newTokens(t, func() time.Time { return now })
	s := tok.Sign(subscribe.PurposeConfirm, 7, 0, subscribe.ConfirmTTL)
	if _, err := tok.Verify(s, subscribe.PurposeConfirm); err != nil {
		t.Fatal(err)
	}
	now = now.Add(subscribe.ConfirmTTL + time.Second)
	if _, err := tok.Verify(s, subscribe.PurposeConfirm); !errors.Is(err, subscribe.ErrTokenExpired) {
		t.Fatalf("after expiry: %v", err)
	}
}

func FuzzVerifyToken(f *testing.F) {
	tok := newTokens(f, nil)
	f.Add(tok.Sign(subscribe.PurposeConfirm, 1, 0, time.Hour))
	f.Add(tok.Sign(subscribe.PurposeUnsubscribe, 1<<50, 7, 0))
	f.Add(signV1(bytes.Repeat([]byte("k"), 32), subscribe.PurposePreferences, 9))
	f.Add("")
	f.Add("AQEB")
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range []subscribe.Purpose{subscribe.PurposeConfirm, subscribe.PurposePreferences, subscribe.PurposeUnsubscribe} {
			link, err := tok.Verify(s, p)
			if err == nil {
				// Only a token this key signed verifies, and only in the
				// one spelling Sign writes: what it decodes to must encode
				// back to exactly the same string (no padding, no skipped
				// line breaks, no other alphabet).
				if link.ID <= 0 || link.Gen < 0 {
					t.Fatalf("accepted %+v", link)
				}
				raw, err := base64.RawURLEncoding.DecodeString(s)
				if err != nil || base64.RawURLEncoding.EncodeToString(raw) != s {
					t.Fatalf("accepted a token that is not canonical: %q", s)
				}
			}
		}
	})
}
