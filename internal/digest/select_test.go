package digest_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/digest"
	"github.com/crieur/crieur/internal/news"
)

var topics = []news.Topic{{ID: 1, Slug: "politique"}, {ID: 2, Slug: "afrique"}, {ID: 3, Slug: "economie"}}

func TestChoose(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)
	arts := []news.Article{
		{ID: 1, Topics: []string{"politique"}, PublishedAt: t0.Add(-30 * time.Hour)},
		{ID: 2, Topics: []string{"afrique"}, PublishedAt: t0.Add(-5 * time.Hour)},
		{ID: 3, Topics: []string{"economie", "afrique"}, PublishedAt: t0.Add(-1 * time.Hour)},
		{ID: 4, Topics: nil, PublishedAt: t0.Add(-1 * time.Hour)}, // no topic: never
		{ID: 5, Topics: []string{"politique"}, PublishedAt: t0.Add(-3 * time.Hour)},
		{ID: 6, Topics: []string{"sport"}, PublishedAt: t0.Add(-2 * time.Hour)},      // unknown topic: never
		{ID: 7, Topics: []string{"politique"}, PublishedAt: t0.Add(-40 * time.Hour)}, // arrived late
	}
	pool := digest.NewPool(arts, topics)
	first := t0.Add(-24 * time.Hour)
	cases := []struct {
		name   string
		topics []int64
		cursor int64
		want   []int64
	}{
		{"first digest: one period back, newest first", []int64{1, 2}, 0, []int64{3, 5, 2}},
		{"cursor: only what arrived since", []int64{1, 2}, 5, []int64{7}},
		{"cursor past everything", []int64{1, 2, 3}, 7, nil},
		{"one topic", []int64{3}, 0, []int64{3}},
		{"no topics follows all", nil, 0, []int64{3, 5, 2}},
		{"first digest skips what is older than a period", []int64{1}, 0, []int64{5}},
		{"with a cursor, arrival counts, not publication", []int64{1}, 4, []int64{5, 7}},
	}
	for _, c := range cases {
		got, more := pool.Choose(c.topics, c.cursor, first, nil)
		if len(got) == 0 {
			got = nil
		}
		if !reflect.DeepEqual(got, c.want) || more != 0 {
			t.Errorf("%s: got %v (+%d), want %v", c.name, got, more, c.want)
		}
	}
}

func TestChooseCapsAt25(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)
	var arts []news.Article
	for i := 1; i <= 40; i++ {
		arts = append(arts, news.Article{ID: int64(i), Topics: []string{"afrique"}, PublishedAt: t0.Add(-time.Duration(i) * time.Minute)})
	}
	got, more := digest.NewPool(arts, topics).Choose([]int64{2}, 0, t0.Add(-time.Hour), nil)
	if len(got) != digest.MaxArticles || more != 40-digest.MaxArticles || got[0] != 1 {
		t.Fatalf("got %d articles (first %d) and %d more", len(got), got[0], more)
	}
}

func BenchmarkChoose(b *testing.B) {
	t0 := time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)
	var ts []news.Topic
	for i := 1; i <= 20; i++ {
		ts = append(ts, news.Topic{ID: int64(i), Slug: fmt.Sprint("t", i)})
	}
	var arts []news.Article
	for i := 1; i <= 300; i++ {
		arts = append(arts, news.Article{ID: int64(i), Topics: []string{fmt.Sprint("t", i%20+1)}, PublishedAt: t0.Add(-time.Duration(i) * 5 * time.Minute)})
	}
	pool := digest.NewPool(arts, ts)
	buf := make([]int64, 0, digest.MaxArticles)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		pool.Choose([]int64{int64(i%20 + 1), int64((i+7)%20 + 1)}, 150, t0.Add(-24*time.Hour), buf)
	}
}
