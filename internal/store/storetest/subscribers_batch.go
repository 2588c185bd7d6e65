package storetest

import (
	"reflect"
	"slices"
	"testing"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// testSubscribersByID: the batch read returns, for each existing id, what
// SubscriberByID returns, topics included, and leaves out unknown ids.
func testSubscribersByID(t *testing.T, s *store.Store) {
	sport := topic(t, s, "sport")
	eco := topic(t, s, "eco")
	t0 := now()
	var ids []int64
	for i, p := range []store.Prefs{
		{Frequency: news.Daily, Lang: news.French, Alerts: true, TopicIDs: []int64{sport, eco}},
		{Frequency: news.Weekly, Lang: news.English, TopicIDs: []int64{eco}},
		{Frequency: news.Daily, Lang: news.English},
	} {
		id, _, err := s.Subscribe(ctx, string(rune('a'+i))+"@batch.test", p, t0)
		check(t, err)
		ids = append(ids, id)
	}
	_, err := s.Confirm(ctx, ids[1], "hash-b", t0)
	check(t, err)

	got, err := s.SubscribersByID(ctx, append([]int64{ids[2] + 1000}, ids...))
	check(t, err)
	if len(got) != len(ids) {
		t.Fatalf("SubscribersByID: %d readers, want %d (the unknown id left out): %+v", len(got), len(ids), got)
	}
	for _, id := range ids {
		want, err := s.SubscriberByID(ctx, id)
		check(t, err)
		if !reflect.DeepEqual(got[id], want) {
			t.Errorf("SubscribersByID[%d] = %+v, SubscriberByID = %+v", id, got[id], want)
		}
	}
	if got[ids[0]].Topics[0] != "eco" || len(got[ids[2]].Topics) != 0 || got[ids[1]].Status != news.Confirmed {
		t.Errorf("SubscribersByID: %+v", got)
	}
	none, err := s.SubscribersByID(ctx, nil)
	check(t, err)
	if len(none) != 0 {
		t.Errorf("SubscribersByID(nil) = %+v", none)
	}
}

// testImportBatchInOrder: a batch's rows take effect in their order, as
// row by row (PostgreSQL writes a batch in a few statements): a second
// row of an address, in any case, finds the first; a known address in
// another case is known; a row after an unsubscribed row of the same
// address finds it suppressed; topics and confirmations are written.
func testImportBatchInOrder(t *testing.T, s *store.Store) {
	tp := topic(t, s, "eco")
	t0 := now()
	_, _, err := s.Subscribe(ctx, "old@in.test", store.Prefs{Frequency: news.Daily, Lang: news.French}, t0)
	check(t, err)
	conf := func(email, hash string) store.ImportRow {
		return store.ImportRow{Email: email, Hash: hash, Status: news.Confirmed, Prefs: store.Prefs{Frequency: news.Daily, Lang: news.French}}
	}
	rows := []store.ImportRow{
		conf("a@in.test", "h-a"),
		conf("A@In.Test", "h-a"),
		{Email: "u@in.test", Hash: "h-u", Status: news.Unsubscribed},
		conf("u@in.test", "h-u"),
		conf("Old@in.test", "h-old"),
		{Email: "b@in.test", Hash: "h-b", Status: news.Pending, Prefs: store.Prefs{Frequency: news.Weekly, Lang: news.English, Alerts: true, TopicIDs: []int64{tp}}},
	}
	out, err := s.ImportBatch(ctx, rows, t0)
	check(t, err)
	want := []store.ImportOutcome{store.Imported, store.SkippedExisting, store.ImportedUnsubscribed, store.SkippedSuppressed, store.SkippedExisting, store.ImportedPending}
	if !slices.Equal(out, want) {
		t.Fatalf("outcomes %v, want %v", out, want)
	}
	a, err := s.SubscriberByEmail(ctx, "a@in.test")
	check(t, err)
	if a.Email != "a@in.test" || a.Status != news.Confirmed || a.ConfirmedAt.IsZero() {
		t.Fatalf("imported %+v", a)
	}
	b, err := s.SubscriberByEmail(ctx, "b@in.test")
	check(t, err)
	if b.Status != news.Pending || !b.ConfirmedAt.IsZero() || !b.Alerts || b.Frequency != news.Weekly || b.Lang != news.English || !slices.Equal(b.Topics, []string{"eco"}) {
		t.Fatalf("imported pending %+v", b)
	}
	h, err := s.History(ctx, b.ID, 5)
	check(t, err)
	if len(h) != 1 || h[0].Kind != news.MailConfirm {
		t.Fatalf("pending import history %+v", h)
	}
	if _, err := s.SubscriberByEmail(ctx, "u@in.test"); err == nil {
		t.Fatal("an address imported right after its unsubscribed row")
	}
}
