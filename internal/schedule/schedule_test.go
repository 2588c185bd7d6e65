package schedule_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/schedule"
)

type recorder struct {
	mu   sync.Mutex
	runs []time.Time
}

func (r *recorder) Create(_ context.Context, f news.Frequency, at time.Time, _ string) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f == news.Daily {
		r.runs = append(r.runs, at)
	}
	return int64(len(r.runs)), nil
}

func TestPrevious(t *testing.T) {
	t.Parallel()
	paris, _ := time.LoadLocation("Europe/Paris")
	sched, err := schedule.Parse("0 7 * * *")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 29, 9, 30, 0, 0, paris)
	if got, want := schedule.Previous(sched, now, 6*time.Hour), time.Date(2026, 11, 29, 7, 0, 0, 0, paris); !got.Equal(want) {
		t.Fatalf("Previous = %v, want %v", got, want)
	}
	if got := schedule.Previous(sched, now, time.Hour); !got.IsZero() {
		t.Fatalf("outside the lookback: %v", got)
	}
}

func TestCatchUp(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	now := time.Date(2026, 11, 29, 9, 30, 0, 0, time.UTC)
	tick := time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		lastRun time.Time
		want    int
	}{
		{"yesterday's run, today's missed", tick.Add(-24 * time.Hour), 1},
		{"today's run exists", tick, 0},
		{"never ran: a new install sends nothing at start", time.Time{}, 0},
	}
	for _, c := range cases {
		rec := &recorder{}
		s, err := schedule.New("0 7 * * *", "0 7 * * 1", time.UTC, rec, log)
		if err != nil {
			t.Fatal(err)
		}
		last := func(context.Context, news.Frequency) (time.Time, error) { return c.lastRun, nil }
		if err := s.CatchUp(context.Background(), now, 6*time.Hour, last); err != nil {
			t.Fatal(err)
		}
		if len(rec.runs) != c.want || (c.want == 1 && !rec.runs[0].Equal(tick)) {
			t.Errorf("%s: runs %v, want %d at %v", c.name, rec.runs, c.want, tick)
		}
	}
}
