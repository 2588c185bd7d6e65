package click_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/click"
	"github.com/crieur/crieur/internal/subscribe"
)

var key = bytes.Repeat([]byte("k"), 32)

func tokens(t testing.TB) *click.Tokens {
	t.Helper()
	tk, err := click.NewTokens(key)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestTokenRoundTrip(t *testing.T) {
	t.Parallel()
	tk := tokens(t)
	for _, l := range []click.Link{
		{Kind: click.KindRun, Scope: 1, Article: 2},
		{Kind: click.KindRun, Scope: 1 << 40, Article: 1 << 50, Reader: 7},
		{Kind: click.KindAlert, Scope: 9},
		{Kind: click.KindAlert, Scope: 9, Article: 3, Reader: 1 << 62},
	} {
		tok := tk.Sign(l)
		got, err := tk.Verify(tok)
		if err != nil || got != l {
			t.Errorf("%+v: got %+v, %v", l, got, err)
		}
	}
	// Without a reader every reader of a run gets the same token.
	a, b := tk.Sign(click.Link{Kind: click.KindRun, Scope: 5, Article: 6}), tk.Sign(click.Link{Kind: click.KindRun, Scope: 5, Article: 6})
	if a != b {
		t.Errorf("same link, two tokens: %s %s", a, b)
	}
}

// TestTokenRefused: forged, altered, another run's with this one's MAC,
// another key's, another purpose's (a preference link) and malformed
// tokens are all refused.
func TestTokenRefused(t *testing.T) {
	t.Parallel()
	tk := tokens(t)
	good := tk.Sign(click.Link{Kind: click.KindRun, Scope: 41, Article: 7})
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	otherRun := append([]byte(nil), raw...)
	otherRun[2] = 42 // the scope's varint: run 42, run 41's signature
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)-1] ^= 1
	otherKey, _ := click.NewTokens(bytes.Repeat([]byte("x"), 32))
	subTokens, _ := subscribe.NewTokens(key, nil) // the same key even: another format and purpose
	prefs := subTokens.Sign(subscribe.PurposePreferences, 41, 0, time.Hour)
	unsigned := append([]byte{1, 1, 41, 7, 0}, make([]byte, 16)...)
	for name, tok := range map[string]string{
		"empty":          "",
		"forged":         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"another run":    base64.RawURLEncoding.EncodeToString(otherRun),
		"altered MAC":    base64.RawURLEncoding.EncodeToString(flipped),
		"truncated":      good[:len(good)-2],
		"padded":         good + "==",
		"newline":        good[:10] + "\n" + good[10:],
		"another key":    otherKey.Sign(click.Link{Kind: click.KindRun, Scope: 41, Article: 7}),
		"preference":     prefs,
		"zero MAC":       base64.RawURLEncoding.EncodeToString(unsigned),
		"too long":       good + good + good,
		"javascript URL": "javascript:alert(1)",
	} {
		if l, err := tk.Verify(tok); !errors.Is(err, click.ErrInvalid) {
			t.Errorf("%s: %+v, %v; want ErrInvalid", name, l, err)
		}
	}
}

// FuzzVerify: no input panics, and whatever verifies signs back to the
// same token (there is one spelling of each link).
func FuzzVerify(f *testing.F) {
	tk := tokens(f)
	f.Add(tk.Sign(click.Link{Kind: click.KindRun, Scope: 1, Article: 2}))
	f.Add(tk.Sign(click.Link{Kind: click.KindAlert, Scope: 3, Reader: 4}))
	f.Add("")
	f.Add("AAAA")
	f.Add("javascript:alert(1)")
	f.Fuzz(func(t *testing.T, tok string) {
		l, err := tk.Verify(tok)
		if err != nil {
			return
		}
		if again := tk.Sign(l); again != tok {
			t.Fatalf("%q verified as %+v, which signs as %q", tok, l, again)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	tk := tokens(b)
	tok := tk.Sign(click.Link{Kind: click.KindRun, Scope: 123456, Article: 654321})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tk.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
