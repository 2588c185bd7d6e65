package storetest

import (
	"testing"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// testSubscribeRequest: a public subscription request sends nothing to an
// address suppressed for a bounce or a complaint, and sends a
// confirmation to one whose reader unsubscribed; every request, whatever
// the address's state, writes one confirmation row (pending, or cancelled
// with why) in one write transaction, so that its timing tells nothing.
func testSubscribeRequest(t *testing.T, s *store.Store) {
	t0 := now()
	mine := store.Prefs{Frequency: news.Daily, Lang: news.French, TopicIDs: []int64{topic(t, s, "mine")}}
	// A stranger's request names other topics: they must not replace a
	// confirmed reader's.
	p := store.Prefs{Frequency: news.Weekly, Lang: news.English, TopicIDs: []int64{topic(t, s, "theirs")}}
	mk := func(email, hash, reason string) int64 {
		id, _, err := s.Subscribe(ctx, email, mine, t0)
		check(t, err)
		_, err = s.Confirm(ctx, id, hash, t0)
		check(t, err)
		if reason != "" {
			check(t, s.Unsubscribe(ctx, id, hash, reason, t0))
		}
		return id
	}
	bounced := mk("bounced@x.test", "h-bounced", "bounce")
	complained := mk("complained@x.test", "h-complained", "complaint")
	left := mk("left@x.test", "h-left", "one-click")
	confirmed := mk("confirmed@x.test", "h-confirmed", "")
	// Suppressed for a bounce, then erased: no row, still refused.
	check(t, s.Suppress(ctx, "h-gone", "bounce", t0))

	for _, c := range []struct {
		email, hash string
		id          int64
		want        store.SubscribeOutcome
		state       news.DeliveryState
	}{
		{"bounced@x.test", "h-bounced", bounced, store.SubscribeSuppressed, news.DeliveryCancelled},
		{"complained@x.test", "h-complained", complained, store.SubscribeSuppressed, news.DeliveryCancelled},
		{"gone@x.test", "h-gone", 0, store.SubscribeSuppressed, news.DeliveryCancelled},
		{"confirmed@x.test", "h-confirmed", confirmed, store.SubscribeAlreadyConfirmed, news.DeliveryCancelled},
		{"left@x.test", "h-left", left, store.SubscribeResent, news.DeliveryPending},
		{"new@x.test", "h-new", 0, store.SubscribeNew, news.DeliveryPending},
	} {
		before := countRows(t, s, "SELECT COUNT(*) FROM deliveries WHERE kind = 'confirm'")
		id, out, err := s.SubscribeRequest(ctx, c.email, c.hash, p, t0)
		check(t, err)
		if out != c.want || c.id != 0 && id != c.id {
			t.Errorf("%s: outcome %v id %d, want %v id %d", c.email, out, id, c.want, c.id)
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM deliveries WHERE kind = 'confirm'") - before; n != 1 {
			t.Errorf("%s: %d confirmation rows written, want 1", c.email, n)
		}
		if id != 0 {
			sub, err := s.SubscriberByID(ctx, id)
			check(t, err)
			if c.want == store.SubscribeSuppressed && sub.Status != news.Unsubscribed {
				t.Errorf("%s: status %s after a refused request, want unsubscribed", c.email, sub.Status)
			}
			if c.state == news.DeliveryCancelled && (sub.Frequency != news.Daily || len(sub.Topics) != 1 || sub.Topics[0] != "mine") {
				t.Errorf("%s: a refused request changed the reader's choices: %s %v", c.email, sub.Frequency, sub.Topics)
			}
			h, err := s.History(ctx, id, 1)
			check(t, err)
			if len(h) != 1 || h[0].Kind != news.MailConfirm || h[0].State != c.state {
				t.Errorf("%s: latest email %+v, want a %s confirmation", c.email, h, c.state)
			}
		}
	}
}

// countRows runs a query answering one count.
func countRows(t *testing.T, s *store.Store, query string) int {
	t.Helper()
	var n int
	check(t, s.DB().QueryRowContext(ctx, query).Scan(&n))
	return n
}
