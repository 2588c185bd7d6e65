// Package storetest is the conformance suite of internal/store: every
// store method the product uses, checked the same way on each SQL dialect
// (internal/store runs it against SQLite and against PostgreSQL), including
// what several instances sharing one database rely on: one digest run per
// tick, optimistic enqueuing progress, claims that never hand one row to
// two workers, feed leases.
//
// Each area of the store has its file here, which lists its tests (as
// river's riverdrivertest has one file per area); this file holds only
// the harness and the list of areas. It imports store and news, never the
// packages that use the store.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/store"
)

// A test checks one behaviour of the store on a fresh store.
type test struct {
	name string
	fn   func(*testing.T, *store.Store)
}

// Run runs the suite. open must return a fresh, migrated, empty store that
// is closed when the test ends; it is called once per test, in parallel.
// Test names are flat (TestSQLite/StaleOutcomes), whatever their area.
func Run(t *testing.T, open func(t *testing.T) *store.Store) {
	areas := [][]test{
		coreTests,        // core.go: migrations, settings, topics
		subscriberTests,  // subscribers.go: sign-up, preferences, erasure, import
		emailTests,       // email.go: one address whatever its case
		linkTests,        // links.go: tracked links
		feedTests,        // feeds.go: feeds and articles
		digestTests,      // digests.go: runs, enqueuing, counters
		zoneTests,        // zones.go: readers' zones, runs of local digests
		deliveryTests,    // deliveries.go: the email queue
		claimTests,       // claims.go: leases and stale outcomes, emails and push
		alertTests,       // alerts.go: alerts and their audience
		idempotencyTests, // idempotency.go: one alert per key
		pushTests,        // push.go: browsers and the push queue
		windowTests,      // windows.go: push windows
		userTests,        // users.go: users, sessions, API tokens, audit
		bounceTests,      // bounces.go: bounces, complaints, parked reports, push aging
		webhookTests,     // webhooks.go: the webhook outbox, the welcome email
		engagementTests,  // engagement.go: clicks, push events, dashboards
		sunsetTests,      // sunset.go: still want this?
		timingTests,      // timing.go: quiet hours, caps, approval, automatic alerts
	}
	for _, area := range areas {
		for _, tc := range area {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.fn(t, open(t))
			})
		}
	}
}

var ctx = context.Background()

// now is a time with millisecond precision, as the store keeps it.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// stale returns a check that recording outcomes succeeded and found want
// of them stale: stale(t, 0)(s.RecordDeliveries(...)).
func stale(t *testing.T, want int) func(int, error) {
	return func(n int, err error) {
		t.Helper()
		check(t, err)
		if n != want {
			t.Fatalf("%d outcomes stale, want %d", n, want)
		}
	}
}

func topic(t *testing.T, s *store.Store, slug string) int64 {
	t.Helper()
	tp, err := s.CreateTopic(ctx, slug, "Topic "+slug)
	check(t, err)
	return tp.ID
}
