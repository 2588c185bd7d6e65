package digest

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/startstop"
	"github.com/crieur/crieur/internal/store"
)

// batchSize is how many subscribers one enqueue transaction covers.
const batchSize = 1000

// Runner creates digest runs and writes their deliveries.
type Runner struct {
	st   *store.Store
	log  *slog.Logger
	now  func() time.Time
	wake func() // wakes the mail workers

	local bool // CRIEUR_DIGEST_LOCAL: every run is zoned

	kick chan struct{}
	life startstop.Base
	mu   sync.Mutex // one RunOnce at a time
}

// NewRunner returns a Runner; Start runs its enqueuer.
func NewRunner(st *store.Store, log *slog.Logger, now func() time.Time, wake func()) *Runner {
	if now == nil {
		now = time.Now
	}
	if wake == nil {
		wake = func() {}
	}
	return &Runner{st: st, log: log, now: now, wake: wake, kick: make(chan struct{}, 1)}
}

// Create makes the run of f scheduled at t, or finds the one another
// instance already made for that tick.
func (r *Runner) Create(ctx context.Context, f news.Frequency, scheduled time.Time, by string) (int64, error) {
	id, created, err := r.st.CreateRun(ctx, f, scheduled, by)
	if err != nil {
		return 0, err
	}
	if created {
		r.log.Info("digest run created", "run_id", id, "frequency", f, "scheduled_at", scheduled, "by", by)
		// The run exists and is sent whatever becomes of its audit row.
		if err := r.st.Audit(ctx, by, "digest.run", strconv.FormatInt(id, 10), string(f)); err != nil {
			r.log.Error("audit write failed", "action", "digest.run", "run_id", id, "err", err)
		}
	}
	r.Kick()
	return id, nil
}

// SetLocal makes every run zoned (CRIEUR_DIGEST_LOCAL=true): a run now
// takes every reader without touching their ledger, beside the slots'
// runs. Call it before Start.
func (r *Runner) SetLocal(on bool) { r.local = on }

// CreateZoned makes the run of one slot of local digests, or finds the one
// another instance made for it.
func (r *Runner) CreateZoned(ctx context.Context, f news.Frequency, at time.Time, zones map[string]int64, by string) (int64, error) {
	id, created, err := r.st.CreateZonedRun(ctx, f, at, zones, by)
	if err != nil {
		return 0, err
	}
	if created {
		r.log.Info("digest run created", "run_id", id, "frequency", f, "scheduled_at", at, "zones", len(zones), "by", by)
		if err := r.st.Audit(ctx, by, "digest.run", strconv.FormatInt(id, 10), string(f)); err != nil {
			r.log.Error("audit write failed", "action", "digest.run", "run_id", id, "err", err)
		}
	}
	r.Kick()
	return id, nil
}

// RunNow starts a run of f at once. With local digests it is a zoned run
// of every zone that leaves the readers' ledger alone: their digest at
// their own hour still comes, with what is new by then.
func (r *Runner) RunNow(ctx context.Context, f news.Frequency, by string) (int64, error) {
	if r.local {
		return r.CreateZoned(ctx, f, r.now(), map[string]int64{store.AllZones: 0}, by)
	}
	return r.Create(ctx, f, r.now(), by)
}

// Kick makes the enqueuer look for runs now.
func (r *Runner) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Start runs the enqueuer until Stop; starting a started Runner does
// nothing.
func (r *Runner) Start(ctx context.Context) error {
	ctx, ok := r.life.Begin(ctx)
	if !ok {
		return nil
	}
	r.life.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
				r.log.Error("digest enqueue failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-r.kick:
			case <-t.C:
			}
		}
	})
	return nil
}

// Stop stops the enqueuer and waits for it. Progress is committed batch by
// batch, so a restart resumes where it stopped.
func (r *Runner) Stop(context.Context) { r.life.Stop() }

// RunOnce writes the deliveries of every run not fully enqueued, then
// closes the runs with nothing left to send.
func (r *Runner) RunOnce(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids, err := r.st.RunsToEnqueue(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		// One instance writes a run's deliveries; the others send them.
		release, ok, err := r.st.LockEnqueue(ctx, store.LockRun, id)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		err = r.enqueue(ctx, id)
		release()
		if err != nil {
			return fmt.Errorf("run %d: %w", id, err)
		}
	}
	closed, err := r.st.CloseFinishedRuns(ctx, r.now())
	for _, id := range closed {
		r.log.Info("digest run done", "run_id", id)
	}
	return err
}

// Stats describe one enqueue pass, for benchmarks.
type Stats struct {
	Subscribers int
	Digests     int
	Skipped     int
	Choose      time.Duration // time spent choosing articles
}

func (r *Runner) enqueue(ctx context.Context, id int64) error {
	_, err := r.Enqueue(ctx, id)
	return err
}

// Enqueue writes all remaining deliveries of run id.
func (r *Runner) Enqueue(ctx context.Context, id int64) (Stats, error) {
	var stats Stats
	run, err := r.st.Run(ctx, id)
	if err != nil {
		return stats, err
	}
	if run.Enqueued {
		return stats, nil
	}
	topics, err := r.st.Topics(ctx)
	if err != nil {
		return stats, err
	}
	sel, err := LoadSelection(ctx, r.st, run.Frequency, run.MaxArticleID, run.ScheduledAt, topics)
	if err != nil {
		return stats, err
	}
	after := run.EnqueueAfter
	buf := make([]int64, 0, MaxArticles)
	for ctx.Err() == nil {
		var subs []store.Eligible
		if run.Zoned {
			subs, err = r.st.EligibleZonedBatch(ctx, run, after, batchSize)
		} else {
			subs, err = r.st.EligibleBatch(ctx, run.Frequency, after, batchSize)
		}
		if err != nil {
			return stats, err
		}
		if len(subs) == 0 {
			break
		}
		start := time.Now()
		items := make([]store.DigestItem, 0, len(subs))
		cursorIDs := make([]int64, 0, len(subs))
		skipped := 0
		for _, e := range subs {
			cursorIDs = append(cursorIDs, e.ID)
			ids, more := sel.Choose(e.TopicIDs, e.Cursor, buf)
			if len(ids) == 0 {
				skipped++
				continue
			}
			items = append(items, store.DigestItem{SubscriberID: e.ID, Articles: append([]int64(nil), ids...), More: more})
		}
		stats.Choose += time.Since(start)
		last := subs[len(subs)-1].ID
		var ok bool
		if run.Zoned {
			// Other zoned runs may take some of these readers first; the
			// store counts who this one took.
			ok, err = r.st.EnqueueZonedBatch(ctx, run, after, last, items, subs, r.now())
		} else {
			ok, err = r.st.EnqueueDigestBatch(ctx, run, after, last, items, cursorIDs, skipped, r.now())
		}
		if err != nil {
			return stats, err
		}
		if !ok {
			// Another instance wrote this batch; pick up from its progress.
			run, err = r.st.Run(ctx, id)
			if err != nil {
				return stats, err
			}
			if run.Enqueued {
				return stats, nil
			}
			after = run.EnqueueAfter
			continue
		}
		stats.Subscribers += len(subs)
		stats.Digests += len(items)
		stats.Skipped += skipped
		after = last
		if len(items) > 0 {
			r.wake()
		}
	}
	if err := ctx.Err(); err != nil {
		return stats, err
	}
	return stats, r.st.FinishEnqueue(ctx, id)
}
