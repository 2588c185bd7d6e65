package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// BenchmarkPrunePush measures the janitor's hourly push pruning on 50,000
// browsers that each got ten alerts over 100 days (one in ten failing
// every one of them since day 40, the rest delivered): the first pass
// removes the dead ones, the next (what most hours do) finds nothing.
// Run with -benchtime=1x.
func BenchmarkPrunePush(b *testing.B) {
	ctx := context.Background()
	s := benchStore(b, "sqlite:"+filepath.Join(b.TempDir(), "p.db"), store.Options{})
	const n, alerts = 50_000, 10
	day := 24 * time.Hour
	t0 := time.Now().Add(-100 * day)
	for start := 0; start < n; start += 1000 {
		var sb strings.Builder
		sb.WriteString("INSERT INTO push_subscriptions (id, endpoint, p256dh, auth, lang, created_at, updated_at) VALUES ")
		for i := start; i < start+1000; i++ {
			if i > start {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "(%d, 'https://push.example.net/%d', 'p', 'a', 'fr', %d, %d)", i+1, i, t0.UnixMilli(), t0.UnixMilli())
		}
		if _, err := s.DB().ExecContext(ctx, sb.String()); err != nil {
			b.Fatal(err)
		}
	}
	for a := range alerts {
		at := t0.Add(time.Duration(a*10) * day)
		id, err := s.CreateAlert(ctx, news.Alert{Title: "t", Body: "b", URL: "https://news.example.com/a", TTL: time.Hour,
			Urgency: news.Urgency("high"), TopicHeader: "t", State: news.AlertSending, CreatedBy: "bench", CreatedAt: at, SendAt: at}, nil)
		if err != nil {
			b.Fatal(err)
		}
		for start := 0; start < n; start += 1000 {
			var sb strings.Builder
			sb.WriteString("INSERT INTO push_deliveries (alert_id, subscription_id, state, next_attempt_at, created_at) VALUES ")
			for i := start; i < start+1000; i++ {
				if i > start {
					sb.WriteByte(',')
				}
				state := "sent"
				if i%10 == 0 && a >= 4 {
					state = "failed"
				}
				fmt.Fprintf(&sb, "(%d, %d, '%s', 0, %d)", id, i+1, state, at.UnixMilli())
			}
			if _, err := s.DB().ExecContext(ctx, sb.String()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		pruned, err := s.PrunePush(ctx, time.Now(), 30*day, 90*day)
		if err != nil {
			b.Fatal(err)
		}
		first := time.Since(start)
		start = time.Now()
		again, err := s.PrunePush(ctx, time.Now(), 30*day, 90*day)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(first.Milliseconds()), "ms/first-pass")
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/idle-pass")
		b.ReportMetric(float64(pruned[store.PruneFailing]+pruned[store.PruneStale]), "pruned")
		b.ReportMetric(float64(len(again)), "pruned-again")
	}
}
