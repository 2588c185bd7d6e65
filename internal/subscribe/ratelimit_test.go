package subscribe_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/subscribe"
)

// TestLimiterEvictsLeastRecentlyUsed: a full limiter forgets the key used
// longest ago, so that an attacker who makes up new keys (addresses,
// X-Forwarded-For values) cannot reset the bucket of a client still at
// work; the old limiter dropped an arbitrary half of its keys.
func TestLimiterEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC) // a stopped clock: no refill
	l := subscribe.NewLimiter(time.Hour, 2, 100)
	for range 2 {
		if ok, _ := l.Allow("victim", now); !ok {
			t.Fatal("the victim's first requests refused")
		}
	}
	for i := range 5000 {
		if ok, _ := l.Allow("attacker-"+strconv.Itoa(i), now); !ok {
			t.Fatalf("a new key %d refused", i)
		}
		if i%50 == 0 {
			// The victim keeps trying (an attacker's flood of sign-ups
			// to one address, say): it stays refused.
			if ok, wait := l.Allow("victim", now); ok || wait <= 0 {
				t.Fatalf("after %d other keys the victim's bucket was reset", i+1)
			}
		}
	}
	// The keys used longest ago were forgotten, the latest ones were not:
	// only a fresh bucket of attacker-0 (burst 2, one token spent when it
	// was made) allows two more requests at the same instant.
	l.Allow("attacker-0", now)
	if ok, _ := l.Allow("attacker-0", now); !ok {
		t.Error("the least recently used key was kept")
	}
	for range 2 {
		l.Allow("attacker-4999", now)
	}
	if ok, _ := l.Allow("attacker-4999", now); ok {
		t.Error("a recent key was forgotten")
	}
}

// TestLimiterReset: Reset gives a key a full bucket again.
func TestLimiterReset(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	l := subscribe.NewLimiter(time.Hour, 1, 10)
	l.Allow("k", now)
	if ok, _ := l.Allow("k", now); ok {
		t.Fatal("the second request allowed")
	}
	l.Reset("k")
	if ok, _ := l.Allow("k", now); !ok {
		t.Error("refused after Reset")
	}
}

// BenchmarkLimiter measures Allow on a full limiter: half the calls from
// known clients, half from new ones that evict the least recently used.
func BenchmarkLimiter(b *testing.B) {
	l := subscribe.NewLimiter(time.Second, 20, 10_000)
	keys := make([]string, 20_000)
	for i := range keys {
		keys[i] = "192.0.2." + strconv.Itoa(i)
	}
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Allow(keys[i%len(keys)], now)
		i += 7
	}
}
