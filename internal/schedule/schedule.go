// Package schedule fires digest runs on cron specs (robfig/cron/v3, five
// fields, in the publisher's time zone). Every instance sharing a database
// fires; the run's unique (frequency, scheduled time) key makes one run.
package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/crieur/crieur/internal/news"
)

// Creator creates the run of a frequency for a scheduled time.
type Creator interface {
	Create(ctx context.Context, f news.Frequency, scheduled time.Time, by string) (int64, error)
}

// Scheduler owns the cron loop.
type Scheduler struct {
	c   *cron.Cron
	log *slog.Logger
}

// Parse checks a five-field cron spec.
func Parse(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("cron spec %q: %w", spec, err)
	}
	return s, nil
}

// New schedules the daily and weekly digests in loc.
func New(daily, weekly string, loc *time.Location, runs Creator, log *slog.Logger) (*Scheduler, error) {
	c := cron.New(cron.WithLocation(loc))
	for f, spec := range map[news.Frequency]string{news.Daily: daily, news.Weekly: weekly} {
		if _, err := Parse(spec); err != nil {
			return nil, err
		}
		f := f
		if _, err := c.AddFunc(spec, func() {
			// Cron fires on the minute: truncating gives every instance the
			// same scheduled time for this tick.
			at := time.Now().In(loc).Truncate(time.Minute)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := runs.Create(ctx, f, at, "schedule"); err != nil {
				log.Error("scheduled digest failed to start", "frequency", f, "err", err)
			}
		}); err != nil {
			return nil, fmt.Errorf("schedule %s digest: %w", f, err)
		}
	}
	return &Scheduler{c: c, log: log}, nil
}

// Start runs the schedule.
func (s *Scheduler) Start() { s.c.Start() }

// Stop stops the schedule and waits for a firing job to finish.
func (s *Scheduler) Stop() { <-s.c.Stop().Done() }

// Next returns the next firing times, for logs.
func (s *Scheduler) Next() []time.Time {
	var out []time.Time
	for _, e := range s.c.Entries() {
		out = append(out, e.Next)
	}
	return out
}
