package store

import (
	"context"
	"fmt"
	"time"
)

// Why the janitor removed push subscriptions.
const (
	// PruneFailing: every message failed for the failing window.
	PruneFailing = "failing"
	// PruneStale: no message delivered within the stale window while
	// messages were sent and failed.
	PruneStale = "stale"
)

// PrunePush removes the push subscriptions that aged out at now: those
// whose every message has failed for failingFor (a failure at least that
// old and no delivery since), then those that failed and had no delivery
// within staleAfter. A subscription younger than the window is kept. It
// records and returns how many went, by reason.
//
// The subscriptions are found with reads, then removed 500 at a time,
// each batch its own short write: on SQLite, one transaction over the
// whole pass held the one writer's lock for seconds on a large audience
// (BenchmarkPrunePush). A subscription that gets a delivery between the
// two steps may still go; it re-subscribes on its next page view.
func (s *Store) PrunePush(ctx context.Context, now time.Time, failingFor, staleAfter time.Duration) (map[string]int64, error) {
	out := map[string]int64{}
	fcut, scut := ms(now.Add(-failingFor)), ms(now.Add(-staleAfter))
	for _, p := range []struct {
		reason string
		query  string
		args   []any
	}{
		{PruneFailing, "FailingPush", []any{fcut, fcut}},
		{PruneStale, "StalePush", []any{scut, scut, scut}},
	} {
		ids, err := s.ids(ctx, p.query, p.args...)
		if err != nil {
			return out, fmt.Errorf("prune push subscriptions: %w", err)
		}
		if len(ids) == 0 {
			continue
		}
		if err := s.execIn(ctx, s.db, "DELETE FROM push_subscriptions WHERE id", nil, ids); err != nil {
			return out, fmt.Errorf("prune push subscriptions: %w", err)
		}
		out[p.reason] = int64(len(ids))
		if _, err := s.db.ExecContext(ctx, s.query("InsertPushPrune"), ms(now), p.reason, len(ids)); err != nil {
			return out, fmt.Errorf("prune push subscriptions: %w", err)
		}
	}
	return out, nil
}

// PushPrunes counts the push subscriptions pruned since since, by reason.
func (s *Store) PushPrunes(ctx context.Context, since time.Time) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, s.query("PushPrunes"), ms(since))
	if err != nil {
		return nil, fmt.Errorf("push prunes: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var reason string
		var n int64
		if err := rows.Scan(&reason, &n); err != nil {
			return nil, fmt.Errorf("push prunes: %w", err)
		}
		out[reason] = n
	}
	return out, rows.Err()
}
