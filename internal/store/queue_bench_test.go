package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/pgtest"
)

// BenchmarkQueue measures the delivery queue alone (no SMTP): workers
// claim batches of 100 and record them sent, as the email pipeline does.
// It reports rows/s through claim+record; run with -benchtime=1x.
func BenchmarkQueue(b *testing.B) {
	for _, d := range []string{"sqlite", "postgres"} {
		for _, workers := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/workers=%d", d, workers), func(b *testing.B) {
				url := "sqlite:" + filepath.Join(b.TempDir(), "q.db")
				if d == "postgres" {
					url = pgtest.URL(b)
				}
				benchQueue(b, url, workers)
			})
		}
	}
}

// benchStore opens and migrates the store at url for one benchmark.
func benchStore(b *testing.B, url string, opts store.Options) *store.Store {
	s, err := store.Open(b.Context(), url, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	return s
}

func benchQueue(b *testing.B, url string, workers int) {
	ctx := context.Background()
	s := benchStore(b, url, store.Options{MaxConns: 20})
	const n = 20000
	now := time.Now()
	for start := 0; start < n; start += 1000 {
		var sb strings.Builder
		sb.WriteString("INSERT INTO deliveries (kind, priority, state, next_attempt_at, created_at) VALUES ")
		for i := start; i < start+1000; i++ {
			if i > start {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "('preview', 1, 'pending', %d, %d)", now.UnixMilli(), now.UnixMilli())
		}
		if _, err := s.DB().ExecContext(ctx, sb.String()); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var (
		wg                    sync.WaitGroup
		mu                    sync.Mutex
		claimTime, recordTime time.Duration
		total                 int
	)
	t0 := time.Now()
	for w := range workers {
		wg.Go(func() {
			owner := fmt.Sprint("w", w)
			for {
				c0 := time.Now()
				ds, err := s.ClaimDeliveries(ctx, owner, now, 100)
				if err != nil {
					b.Error(err)
					return
				}
				c1 := time.Now()
				if len(ds) == 0 {
					return
				}
				res := make([]store.Result, len(ds))
				for i, d := range ds {
					res[i] = d.Outcome(store.Result{State: news.DeliverySent})
				}
				if _, err := s.RecordDeliveries(ctx, res, now); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				claimTime += c1.Sub(c0)
				recordTime += time.Since(c1)
				total += len(ds)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	el := time.Since(t0)
	b.ReportMetric(float64(total)/el.Seconds(), "rows/s")
	b.ReportMetric(float64(total)/claimTime.Seconds()*float64(workers), "claims/s")
	b.ReportMetric(float64(total)/recordTime.Seconds()*float64(workers), "records/s")
}
