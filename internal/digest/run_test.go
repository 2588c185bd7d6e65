package digest_test

import (
	"context"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/digest"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/storetest"
)

// TestRunsNeverRepeatAnArticle runs two digests over a real SQLite store
// and checks what each reader's delivery holds: the articles of their
// topics, newest first, and nothing a previous run already gave them.
func TestRunsNeverRepeatAnArticle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.SQLite(t)
	ids := map[string]int64{}
	for _, tp := range []string{"politique", "afrique"} {
		topic, err := st.CreateTopic(ctx, tp, tp)
		if err != nil {
			t.Fatal(err)
		}
		ids[tp] = topic.ID
	}
	now := time.Now()
	csv := []store.ImportRow{
		{Email: "p@example.com", Hash: "p", Status: news.Confirmed, Prefs: store.Prefs{Frequency: news.Daily, Lang: news.French, TopicIDs: []int64{ids["politique"]}}},
		{Email: "a@example.com", Hash: "a", Status: news.Confirmed, Prefs: store.Prefs{Frequency: news.Daily, Lang: news.French, TopicIDs: []int64{ids["afrique"]}}},
		{Email: "w@example.com", Hash: "w", Status: news.Confirmed, Prefs: store.Prefs{Frequency: news.Weekly, Lang: news.French, TopicIDs: []int64{ids["afrique"]}}},
	}
	if _, err := st.ImportBatch(ctx, csv, now); err != nil {
		t.Fatal(err)
	}
	article := func(guid, topic string, age time.Duration) int64 {
		id, _, err := st.SaveArticle(ctx, news.Article{GUID: guid, URL: "https://news.example/" + guid, Title: guid, Topics: []string{topic}, PublishedAt: now.Add(-age)})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	p1 := article("p1", "politique", 3*time.Hour)
	a1 := article("a1", "afrique", 2*time.Hour)
	p2 := article("p2", "politique", time.Hour)
	article("old", "politique", 48*time.Hour) // more than one period back

	r := digest.NewRunner(st, slog.New(slog.DiscardHandler), nil, nil)
	deliveries := func(run int64) map[int64][]int64 {
		got := map[int64][]int64{}
		for {
			ds, err := st.ClaimDeliveries(ctx, "test", time.Now().Add(time.Hour), 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) == 0 {
				return got
			}
			var rs []store.Result
			for _, d := range ds {
				if d.RunID == run {
					got[d.SubscriberID] = d.Articles
				}
				rs = append(rs, d.Outcome(store.Result{State: news.DeliverySent}))
			}
			if _, err := st.RecordDeliveries(ctx, rs, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	subID := func(email string) int64 {
		s, err := st.SubscriberByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		return s.ID
	}

	run1, err := r.RunNow(ctx, news.Daily, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	got := deliveries(run1)
	want := map[int64][]int64{subID("p@example.com"): {p2, p1}, subID("a@example.com"): {a1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("first run: %v, want %v (the weekly reader gets nothing)", got, want)
	}

	// Run 1 is closed once its messages are out; until then a new run of
	// the frequency would be run 1 itself.
	if err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if info, err := st.Run(ctx, run1); err != nil || info.State != news.RunDone {
		t.Fatalf("run 1 after its messages went out: %+v %v", info, err)
	}
	p3 := article("p3", "politique", 0)
	run2, err := r.Create(ctx, news.Daily, now.Add(time.Minute), "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	got = deliveries(run2)
	if !reflect.DeepEqual(got, map[int64][]int64{subID("p@example.com"): {p3}}) {
		t.Fatalf("second run: %v, want only p3 for the politique reader", got)
	}
	info, err := st.Run(ctx, run2)
	if err != nil {
		t.Fatal(err)
	}
	if info.Recipients != 2 || info.SkippedEmpty != 1 {
		t.Fatalf("second run counts: %+v", info)
	}
}
