package schedule_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/schedule"
)

type zonedRecorder struct {
	mu    sync.Mutex
	fail  int // the next calls that fail
	slots []string
}

func (r *zonedRecorder) CreateZoned(_ context.Context, f news.Frequency, at time.Time, zones map[string]int64, _ string) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return 0, errors.New("database away")
	}
	if f == news.Daily {
		r.slots = append(r.slots, at.UTC().Format("01-02 15:04"))
	}
	return int64(len(r.slots)), nil
}

// TestZonedLooks: a look makes every slot since the last one (a late look
// after a paused process misses none), a failed look is made again from
// the same place, and a slot is made once however often one looks.
func TestZonedLooks(t *testing.T) {
	t.Parallel()
	rec := &zonedRecorder{}
	zones := func(context.Context, news.Frequency) ([]string, error) {
		return []string{"", "Asia/Kolkata", "America/Montreal"}, nil
	}
	z, err := schedule.NewZoned("0 7 * * *", "0 7 * * 1", time.UTC, rec, zones, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	look := func(at string) error { return z.RunOnce(ctx, utc(at)) }
	if err := look("2026-12-08 00:00"); err != nil || len(rec.slots) != 0 {
		t.Fatalf("the first look only sets the start: %v %v", rec.slots, err)
	}
	for _, at := range []string{"2026-12-08 01:29", "2026-12-08 01:30", "2026-12-08 01:30", "2026-12-08 01:31"} {
		if err := look(at); err != nil {
			t.Fatal(err)
		}
	}
	rec.fail = 1
	if err := look("2026-12-08 07:00"); err == nil {
		t.Fatal("a failed look reported no error")
	}
	// Paused for hours: the 07:00 slot failed, Montréal's 12:00 passed.
	if err := look("2026-12-08 13:05"); err != nil {
		t.Fatal(err)
	}
	want := []string{"12-08 01:30", "12-08 07:00", "12-08 12:00"}
	if len(rec.slots) != len(want) {
		t.Fatalf("slots %v, want %v", rec.slots, want)
	}
	for i := range want {
		if rec.slots[i] != want[i] {
			t.Fatalf("slots %v, want %v", rec.slots, want)
		}
	}
}

// TestZonedCatchUp: at its first start a schedule that never ran makes
// nothing (a new install sends no digest at once); one that ran makes one
// run, at the latest slot missed since, for every zone that missed one.
func TestZonedCatchUp(t *testing.T) {
	t.Parallel()
	zones := func(context.Context, news.Frequency) ([]string, error) {
		return []string{"", "Asia/Kolkata"}, nil
	}
	now := utc("2026-12-08 13:05")
	for _, c := range []struct {
		what string
		last time.Time
		want []string
	}{
		{"never ran", time.Time{}, nil},
		// Kolkata's 07:00 (01:30 UTC) and UTC's 07:00 both passed: one run.
		{"ran at midnight", utc("2026-12-08 00:00"), []string{"12-08 07:00"}},
	} {
		rec := &zonedRecorder{}
		z, err := schedule.NewZoned("0 7 * * *", "0 7 * * 1", time.UTC, rec, zones, nil, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		lastRun := func(context.Context, news.Frequency) (time.Time, error) { return c.last, nil }
		if err := z.CatchUp(context.Background(), now, 24*time.Hour, lastRun); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rec.slots, c.want) {
			t.Errorf("%s: caught up %v, want %v", c.what, rec.slots, c.want)
		}
	}
}
