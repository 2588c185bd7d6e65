package digest_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/digest"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/schedule"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/storetest"
)

// BenchmarkZonedSlot measures what local digests add per slot on SQLite
// with 100,000 daily readers in eight zones: the minute's look (the zones
// in use, the slots due) and the enqueuing of one zone's slot (12,500
// readers, found by a pass over the frequency's readers), beside a run
// now of everyone for comparison.
func BenchmarkZonedSlot(b *testing.B) {
	ctx := context.Background()
	st := storetest.SQLite(b)
	topic, err := st.CreateTopic(ctx, "monde", "Monde")
	if err != nil {
		b.Fatal(err)
	}
	zones := []string{"", "Africa/Dakar", "Europe/Paris", "America/Montreal", "Pacific/Noumea", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Tokyo"}
	const readers = 100_000
	rows := make([]store.ImportRow, 0, 2000)
	for i := range readers {
		e := fmt.Sprintf("r%d@x.test", i)
		rows = append(rows, store.ImportRow{Email: e, Hash: e, Status: news.Confirmed,
			Prefs: store.Prefs{Frequency: news.Daily, Lang: news.French, TopicIDs: []int64{topic.ID}, Timezone: zones[i%len(zones)]}})
		if len(rows) == cap(rows) {
			if _, err := st.ImportBatch(ctx, rows, time.Now()); err != nil {
				b.Fatal(err)
			}
			rows = rows[:0]
		}
	}
	now := time.Now()
	for i := range 50 {
		if _, _, err := st.SaveArticle(ctx, news.Article{GUID: fmt.Sprint(i), URL: fmt.Sprintf("https://n.example/%d", i), Title: "A",
			Topics: []string{"monde"}, PublishedAt: now.Add(-time.Duration(i) * time.Minute)}); err != nil {
			b.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	r := digest.NewRunner(st, log, nil, nil)
	r.SetLocal(true)
	z, err := schedule.NewZoned("0 7 * * *", "0 7 * * 1", time.UTC, r, st.DigestZones, nil, log)
	if err != nil {
		b.Fatal(err)
	}
	// The clock of the looks goes on across -count runs: a look at a time
	// already looked at does nothing.
	at := now
	if err := z.RunOnce(ctx, at); err != nil {
		b.Fatal(err)
	}
	b.Run("look", func(b *testing.B) {
		for b.Loop() {
			at = at.Add(time.Minute)
			if err := z.RunOnce(ctx, at); err != nil {
				b.Fatal(err)
			}
		}
	})
	paris, _ := time.LoadLocation("Europe/Paris")
	slot := 0
	b.Run("slot-one-zone", func(b *testing.B) {
		for b.Loop() {
			slot++
			at := now.Add(time.Duration(slot) * 24 * time.Hour).Truncate(time.Minute)
			id, err := r.CreateZoned(ctx, news.Daily, at, map[string]int64{"Europe/Paris": schedule.WallKey(schedule.Wall(at, paris))}, "bench")
			if err != nil {
				b.Fatal(err)
			}
			stats, err := r.Enqueue(ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			if stats.Subscribers != readers/len(zones) {
				b.Fatalf("slot took %d readers", stats.Subscribers)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(readers/len(zones)), "ns/reader")
	})
	b.Run("run-now-everyone", func(b *testing.B) {
		for b.Loop() {
			id, err := r.RunNow(ctx, news.Daily, "bench")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := r.Enqueue(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/readers, "ns/reader")
	})
}
