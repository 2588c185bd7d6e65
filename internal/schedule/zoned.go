package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/crieur/crieur/internal/news"
)

// ZonedCreator creates the run of one slot of local digests: frequency f
// at instant at, for the readers of zones (zone name to the WallKey of
// its firing; "" is the default zone).
type ZonedCreator interface {
	CreateZoned(ctx context.Context, f news.Frequency, at time.Time, zones map[string]int64, by string) (int64, error)
}

// ZoneLister returns the zones the readers of f live in, "" for those
// who chose none.
type ZoneLister func(ctx context.Context, f news.Frequency) ([]string, error)

// Zoned fires local digests (CRIEUR_DIGEST_LOCAL): a run at every instant
// at which a spec fires in the zone of some reader, for the readers of
// those zones. It looks once a minute, so a zone whose first reader just
// subscribed has its slots from then on. Every instance sharing a
// database fires; the run's unique (frequency, instant) key makes one run,
// and the readers' ledger keeps each firing to one digest per reader.
type Zoned struct {
	log   *slog.Logger
	def   *time.Location
	runs  ZonedCreator
	zones ZoneLister
	specs map[news.Frequency]cron.Schedule
	now   func() time.Time

	mu    sync.Mutex                   // one RunOnce at a time; guards last
	last  map[news.Frequency]time.Time // slots up to here are made, per frequency
	locs  map[string]*time.Location
	stop  chan struct{}
	done  chan struct{}
	state bool
}

// NewZoned reads the daily and weekly specs on readers' clocks; readers
// without a zone use def. now is the clock (time.Now when nil).
func NewZoned(daily, weekly string, def *time.Location, runs ZonedCreator, zones ZoneLister, now func() time.Time, log *slog.Logger) (*Zoned, error) {
	if now == nil {
		now = time.Now
	}
	z := &Zoned{log: log, def: def, runs: runs, zones: zones, now: now, specs: map[news.Frequency]cron.Schedule{},
		locs: map[string]*time.Location{"": def}, last: map[news.Frequency]time.Time{}}
	for f, spec := range map[news.Frequency]string{news.Daily: daily, news.Weekly: weekly} {
		parsed, err := ParseLocal(spec)
		if err != nil {
			return nil, err
		}
		z.specs[f] = parsed
	}
	return z, nil
}

// ParseLocal checks a spec for local digests: five fields without a
// CRON_TZ= prefix, which would contradict reading it on each reader's
// clock.
func ParseLocal(spec string) (cron.Schedule, error) {
	parsed, err := Parse(spec)
	if err != nil {
		return nil, err
	}
	if s, ok := parsed.(*cron.SpecSchedule); ok && s.Location != time.Local {
		return nil, fmt.Errorf("cron spec %q: CRON_TZ= has no meaning when digests follow each reader's time zone (CRIEUR_DIGEST_LOCAL=true)", spec)
	}
	return parsed, nil
}

// location returns the zone named, "" (or a name this build does not
// know, which the API never lets in) being the default.
func (z *Zoned) location(name string) *time.Location {
	if loc, ok := z.locs[name]; ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		z.log.Warn("reader time zone unknown to this build: using the default", "timezone", name)
		loc = z.def
	}
	z.locs[name] = loc
	return loc
}

// zoneMap returns the locations of the zones the readers of f live in.
func (z *Zoned) zoneMap(ctx context.Context, f news.Frequency) (map[string]*time.Location, error) {
	names, err := z.zones(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*time.Location, len(names))
	for _, n := range names {
		out[n] = z.location(n)
	}
	return out, nil
}

// RunOnce makes the runs of the slots in (the last successful call's now,
// now]; the first call only sets where the next one starts (Start does
// it, after CatchUp). A frequency whose look failed (the database away
// for a moment) is looked at again from the same place next time: a run
// made twice is one run.
func (z *Zoned) RunOnce(ctx context.Context, now time.Time) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	var errs []error
	for f, sched := range z.specs {
		from := z.last[f]
		if from.IsZero() {
			z.last[f] = now
			continue
		}
		if !now.After(from) {
			continue
		}
		if err := z.makeSlots(ctx, f, sched, from, now); err != nil {
			errs = append(errs, err)
			continue
		}
		z.last[f] = now
	}
	return errors.Join(errs...)
}

func (z *Zoned) makeSlots(ctx context.Context, f news.Frequency, sched cron.Schedule, from, now time.Time) error {
	zones, err := z.zoneMap(ctx, f)
	if err != nil {
		return err
	}
	for _, s := range Slots(sched, zones, from, now) {
		if _, err := z.runs.CreateZoned(ctx, f, s.At, s.Zones, "schedule"); err != nil {
			return fmt.Errorf("%s digest at %s: %w", f, s.At.UTC().Format(time.RFC3339), err)
		}
	}
	return nil
}

// CatchUp makes one run for the slots missed while no instance ran: each
// zone whose spec fired after the last run of its frequency (lastRun) and
// within lookback of now, with the key of its latest firing. As the fixed
// schedule's CatchUp, it does nothing for a schedule that never ran (a new
// install sends nothing at its first start). Readers whose ledger already
// holds that firing are passed by, so it is harmless when another
// instance made the slots. It sets where RunOnce starts.
func (z *Zoned) CatchUp(ctx context.Context, now time.Time, lookback time.Duration, lastRun func(context.Context, news.Frequency) (time.Time, error)) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	for f, sched := range z.specs {
		z.last[f] = now
		last, err := lastRun(ctx, f)
		if err != nil {
			return err
		}
		if last.IsZero() {
			continue
		}
		from := now.Add(-lookback)
		if last.After(from) {
			from = last
		}
		zones, err := z.zoneMap(ctx, f)
		if err != nil {
			return err
		}
		missed := map[string]int64{}
		var at time.Time
		for _, s := range Slots(sched, zones, from, now) {
			for name, key := range s.Zones {
				missed[name] = key
			}
			at = s.At
		}
		if len(missed) == 0 {
			continue
		}
		z.log.Warn("local digest slots missed while not running: sending them now", "frequency", f, "zones", len(missed), "latest", at)
		if _, err := z.runs.CreateZoned(ctx, f, at, missed, "schedule (catch-up)"); err != nil {
			return err
		}
	}
	return nil
}

// Start looks for slots at every minute until Stop (starting a started
// Zoned does nothing). Slots are whole minutes: a look just after each
// minute begins finds them on time, and one late look (a paused process)
// makes every slot it passed.
func (z *Zoned) Start(context.Context) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.state {
		return nil
	}
	z.state = true
	now := z.now()
	for f := range z.specs {
		if z.last[f].IsZero() {
			z.last[f] = now
		}
	}
	z.stop, z.done = make(chan struct{}), make(chan struct{})
	go z.loop(z.stop, z.done)
	return nil
}

func (z *Zoned) loop(stop, done chan struct{}) {
	defer close(done)
	for {
		now := z.now()
		wait := now.Truncate(time.Minute).Add(time.Minute).Sub(now) + 50*time.Millisecond
		t := time.NewTimer(wait)
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
		// Runs are made under their own deadline: a slot that comes as
		// the daemon stops still gets its run.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := z.RunOnce(ctx, z.now()); err != nil {
			z.log.Error("local digest slot failed to start", "err", err)
		}
		cancel()
	}
}

// Stop stops looking and waits for a look under way. Safe without Start,
// or twice.
func (z *Zoned) Stop(context.Context) {
	z.mu.Lock()
	if !z.state {
		z.mu.Unlock()
		return
	}
	z.state = false
	stop, done := z.stop, z.done
	z.mu.Unlock()
	close(stop)
	<-done
}

// Next returns the next slot of each frequency for the zones in use, for
// logs.
func (z *Zoned) Next(ctx context.Context) []time.Time {
	z.mu.Lock()
	defer z.mu.Unlock()
	var out []time.Time
	now := z.now()
	for f, sched := range z.specs {
		zones, err := z.zoneMap(ctx, f)
		if err != nil || len(zones) == 0 {
			continue
		}
		if s := Slots(sched, zones, now, now.Add(8*24*time.Hour)); len(s) > 0 {
			out = append(out, s[0].At)
		}
	}
	return out
}
