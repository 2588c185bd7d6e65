package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/crieur/crieur/internal/store"
)

// coreTests cover what every part of the store stands on: migrations,
// settings shared by instances, topics.
var coreTests = []test{
	{"Migrate", testMigrate},
	{"Settings", testSettings},
	{"Topics", testTopics},
}

func testMigrate(t *testing.T, s *store.Store) {
	n, err := s.Migrate(ctx)
	check(t, err)
	if n != 0 {
		t.Fatalf("migrating a migrated store applied %d migrations", n)
	}
	check(t, s.Ping(ctx))
}

func testSettings(t *testing.T, s *store.Store) {
	if _, err := s.Setting(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing setting: %v, want ErrNotFound", err)
	}
	// Several instances starting at once all get the one value that won.
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Go(func() {
			v, err := s.SettingOrCreate(ctx, "k", func() (string, error) { return fmt.Sprint("v", i), nil })
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for _, v := range got {
		if v != got[0] || v == "" {
			t.Fatalf("concurrent SettingOrCreate gave %q", got)
		}
	}
	v, err := s.SettingOrCreate(ctx, "k", func() (string, error) { return "other", nil })
	check(t, err)
	if v != got[0] {
		t.Fatalf("setting changed to %q", v)
	}
}

func testTopics(t *testing.T, s *store.Store) {
	b := topic(t, s, "b-sport")
	a := topic(t, s, "a-afrique")
	if _, err := s.CreateTopic(ctx, "a-afrique", "again"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate slug: %v, want ErrConflict", err)
	}
	ts, err := s.Topics(ctx)
	check(t, err)
	if len(ts) != 2 || ts[0].Slug != "a-afrique" || ts[0].ID != a || ts[1].ID != b {
		t.Fatalf("topics %+v", ts)
	}
	ids, unknown, err := s.TopicIDs(ctx, []string{"b-sport", "nope", "a-afrique", "b-sport"})
	check(t, err)
	if !slices.Equal(ids, []int64{b, a}) || !slices.Equal(unknown, []string{"nope"}) {
		t.Fatalf("TopicIDs = %v, %v", ids, unknown)
	}
}
