package storetest

import (
	"errors"
	"testing"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// linkTests cover tracked links in emails.
var linkTests = []test{
	{"RevokeLinks", testRevokeLinks},
}

// testRevokeLinks checks that a reader's link generation starts at 0, moves
// on by one per revocation, is read back by every subscriber lookup and
// touches no other reader; and that a preference-link email is queued.
func testRevokeLinks(t *testing.T, s *store.Store) {
	tp := topic(t, s, "afrique")
	a, _, err := s.Subscribe(ctx, "a@example.org", store.Prefs{Frequency: news.Daily, Lang: news.French, TopicIDs: []int64{tp}}, now())
	check(t, err)
	b, _, err := s.Subscribe(ctx, "b@example.org", store.Prefs{Frequency: news.Daily, Lang: news.French}, now())
	check(t, err)
	if sub, err := s.SubscriberByID(ctx, a); err != nil || sub.LinkGen != 0 {
		t.Fatalf("new subscriber: gen %d, %v; want 0", sub.LinkGen, err)
	}
	for want := int64(1); want <= 2; want++ {
		gen, err := s.RevokeLinks(ctx, a, now())
		if err != nil || gen != want {
			t.Fatalf("RevokeLinks = %d, %v; want %d", gen, err, want)
		}
	}
	byID, err := s.SubscriberByID(ctx, a)
	check(t, err)
	byEmail, err := s.SubscriberByEmail(ctx, "a@example.org")
	check(t, err)
	if byID.LinkGen != 2 || byEmail.LinkGen != 2 || len(byID.Topics) != 1 {
		t.Errorf("after two revocations: by id %+v, by email gen %d; want gen 2 and the topic", byID, byEmail.LinkGen)
	}
	if other, err := s.SubscriberByID(ctx, b); err != nil || other.LinkGen != 0 {
		t.Errorf("another reader: gen %d, %v; want 0", other.LinkGen, err)
	}
	if _, err := s.RevokeLinks(ctx, 1<<40, now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeLinks of no one: %v, want ErrNotFound", err)
	}

	check(t, s.EnqueueLinks(ctx, a, now()))
	h, err := s.History(ctx, a, 10)
	check(t, err)
	if len(h) != 2 || h[0].Kind != news.MailLinks || h[0].State != news.DeliveryPending {
		t.Errorf("history after EnqueueLinks: %+v, want a pending %q email on top of the confirmation", h, news.MailLinks)
	}
}
