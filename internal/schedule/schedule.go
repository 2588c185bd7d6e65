// Package schedule fires digest runs on cron specs (robfig/cron/v3, five
// fields, in the publisher's time zone). Every instance sharing a database
// fires; the run's unique (frequency, scheduled time) key makes one run.
//
// It must not import store or digest: it calls the Creator it is given.
package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
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
	c     *cron.Cron
	log   *slog.Logger
	loc   *time.Location
	runs  Creator
	specs map[news.Frequency]cron.Schedule

	mu      sync.Mutex
	running bool
}

// parser reads the five fields and nothing else: no descriptors, since a
// digest is at a time of day or of the week ("@every 1m" would mail every
// reader every minute, "@hourly" every hour). A CRON_TZ= prefix is kept.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// Parse checks a five-field cron spec.
func Parse(spec string) (cron.Schedule, error) {
	s, err := parser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("cron spec %q (five fields: minute hour day month weekday): %w", spec, err)
	}
	return s, nil
}

// New schedules the daily and weekly digests in loc.
func New(daily, weekly string, loc *time.Location, runs Creator, log *slog.Logger) (*Scheduler, error) {
	c := cron.New(cron.WithLocation(loc))
	specs := map[news.Frequency]cron.Schedule{}
	for f, spec := range map[news.Frequency]string{news.Daily: daily, news.Weekly: weekly} {
		parsed, err := Parse(spec)
		if err != nil {
			return nil, err
		}
		specs[f] = parsed
		c.Schedule(parsed, cron.FuncJob(func() {
			// Cron fires on the minute: truncating gives every instance the
			// same scheduled time for this tick.
			at := time.Now().In(loc).Truncate(time.Minute)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := runs.Create(ctx, f, at, "schedule"); err != nil {
				log.Error("scheduled digest failed to start", "frequency", f, "err", err)
			}
		}))
	}
	return &Scheduler{c: c, log: log, loc: loc, runs: runs, specs: specs}, nil
}

// Previous returns the last firing of sched at or before now and after
// now-lookback, or the zero time.
func Previous(sched cron.Schedule, now time.Time, lookback time.Duration) time.Time {
	var last time.Time
	for t := now.Add(-lookback); ; {
		next := sched.Next(t)
		if next.IsZero() || next.After(now) {
			return last
		}
		last, t = next, next
	}
}

// CatchUp creates the run of a tick missed while no instance was running
// (a restart across 07:00), when it is at most lookback old and the
// schedule has run before (lastRun says when): a newly installed daemon
// does not send a digest at its first start. The runs' unique key makes it
// harmless when the tick's run exists.
func (s *Scheduler) CatchUp(ctx context.Context, now time.Time, lookback time.Duration, lastRun func(context.Context, news.Frequency) (time.Time, error)) error {
	for f, sched := range s.specs {
		prev := Previous(sched, now.In(s.loc), lookback)
		if prev.IsZero() {
			continue
		}
		last, err := lastRun(ctx, f)
		if err != nil {
			return err
		}
		if last.IsZero() || !last.Before(prev) {
			continue
		}
		s.log.Warn("digest tick missed while not running: sending it now", "frequency", f, "scheduled_at", prev)
		if _, err := s.runs.Create(ctx, f, prev.Truncate(time.Minute), "schedule (catch-up)"); err != nil {
			return err
		}
	}
	return nil
}

// Start runs the schedule (cron's own goroutine) until Stop; starting a
// started Scheduler does nothing. The jobs run under their own deadline,
// not ctx: a tick that fires as the daemon stops still creates its run.
func (s *Scheduler) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		s.running = true
		s.c.Start()
	}
	return nil
}

// Stop stops the schedule and waits for a firing job to finish (it creates
// one row: milliseconds). Safe without Start, or twice.
func (s *Scheduler) Stop(context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		s.running = false
		<-s.c.Stop().Done()
	}
}

// Next returns the next firing times, for logs.
func (s *Scheduler) Next() []time.Time {
	var out []time.Time
	for _, e := range s.c.Entries() {
		out = append(out, e.Next)
	}
	return out
}
