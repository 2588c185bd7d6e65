package storetest

import (
	"reflect"
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
