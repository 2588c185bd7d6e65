package subscribe_test

import (
	"bytes"
	"encoding/base64"
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
		for _, p := range []subscribe.Purpose{subscribe.PurposeConfirm, subscribe.PurposePreferences, subscribe.PurposeUnsubscribe} {
			s := tok.Sign(p, id, 0)
			got, err := tok.Verify(s, p)
			if err != nil || got != id {
				t.Fatalf("Verify(Sign(%v,%d)) = %d, %v", p, id, got, err)
			}
		}
	}
}

func TestTokenRefusals(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tok := newTokens(t, clock)
	good := tok.Sign(subscribe.PurposeUnsubscribe, 42, 0)
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
		{"other key", other.Sign(subscribe.PurposeUnsubscribe, 42, 0), subscribe.PurposeUnsubscribe, subscribe.ErrTokenInvalid},
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
	s := tok.Sign(subscribe.PurposeConfirm, 7, subscribe.ConfirmTTL)
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
	f.Add(tok.Sign(subscribe.PurposeConfirm, 1, time.Hour))
	f.Add(tok.Sign(subscribe.PurposeUnsubscribe, 1<<50, 0))
	f.Add("")
	f.Add("AQEB")
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range []subscribe.Purpose{subscribe.PurposeConfirm, subscribe.PurposePreferences, subscribe.PurposeUnsubscribe} {
			id, err := tok.Verify(s, p)
			if err == nil {
				// Only a token this key signed verifies, and only in the
				// one spelling Sign writes: what it decodes to must encode
				// back to exactly the same string (no padding, no skipped
				// line breaks, no other alphabet).
				if id <= 0 {
					t.Fatalf("accepted id %d", id)
				}
				raw, err := base64.RawURLEncoding.DecodeString(s)
				if err != nil || base64.RawURLEncoding.EncodeToString(raw) != s {
					t.Fatalf("accepted a token that is not canonical: %q", s)
				}
			}
		}
	})
}
