package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// BenchmarkPushQueue measures the push queue's store work per message, as
// the push pipeline does it on one alert to 50,000 browsers: enqueue in
// windows of 2,000, claim 256 at a time with the subscriptions' keys,
// record outcomes sent in groups of 64. It reports the CPU (getrusage:
// this process, user+system) per message of each phase; run with
// -benchtime=1x.
func BenchmarkPushQueue(b *testing.B) {
	ctx := context.Background()
	s := benchStore(b, "sqlite:"+filepath.Join(b.TempDir(), "q.db"), store.Options{})
	const n = 50_000
	now := time.Now()
	for start := 0; start < n; start += 1000 {
		var sb strings.Builder
		sb.WriteString("INSERT INTO push_subscriptions (endpoint, p256dh, auth, lang, created_at, updated_at) VALUES ")
		for i := start; i < start+1000; i++ {
			if i > start {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "('https://push.example.net/wpush/v2/%0120d', 'BPdnPHwnbRHq5eFAnV8jZd8kEn8xXvnxlxiavkaMBqv0eTcuhDkfqKDjdMNWLYbHyMibNhGgWHLSwe0VjmKJjv8', 'Y5hGq4-5R4SH5HrJSiMr7A', 'fr', %d, %d)", i, now.UnixMilli(), now.UnixMilli())
		}
		if _, err := s.DB().ExecContext(ctx, sb.String()); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		id, err := s.CreateAlert(ctx, news.Alert{Title: "t", Body: "b", URL: "https://news.example.com/a", TTL: time.Hour,
			Urgency: news.Urgency("high"), TopicHeader: "t", State: news.AlertSending, CreatedBy: "bench", CreatedAt: now}, nil)
		if err != nil {
			b.Fatal(err)
		}
		c0 := cpuTime()
		for {
			_, done, err := s.EnqueueAlertWindow(ctx, id, 2000, now)
			if err != nil {
				b.Fatal(err)
			}
			if done {
				break
			}
		}
		c1 := cpuTime()
		var claimed, recorded time.Duration
		total := 0
		for {
			t0 := cpuTime()
			ts, err := s.ClaimPush(ctx, "bench-host:1234:abcdef", now, 256)
			if err != nil {
				b.Fatal(err)
			}
			t1 := cpuTime()
			claimed += t1 - t0
			if len(ts) == 0 {
				break
			}
			total += len(ts)
			for len(ts) > 0 {
				g := ts[:min(64, len(ts))]
				ts = ts[len(g):]
				rs := make([]store.Result, len(g))
				for i, t := range g {
					rs[i] = t.Outcome(store.Result{State: news.DeliverySent, Status: 201})
				}
				if _, err := s.RecordPush(ctx, rs, now); err != nil {
					b.Fatal(err)
				}
			}
			recorded += cpuTime() - t1
		}
		if total != n {
			b.Fatalf("claimed %d of %d", total, n)
		}
		b.ReportMetric(float64((c1-c0).Nanoseconds())/1e3/n, "enqueue-µs/msg")
		b.ReportMetric(float64(claimed.Nanoseconds())/1e3/n, "claim-µs/msg")
		b.ReportMetric(float64(recorded.Nanoseconds())/1e3/n, "record-µs/msg")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
