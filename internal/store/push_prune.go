package store

import (
	"context"
	"database/sql"
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
func (s *Store) PrunePush(ctx context.Context, now time.Time, failingFor, staleAfter time.Duration) (map[string]int64, error) {
	out := map[string]int64{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		fcut, scut := ms(now.Add(-failingFor)), ms(now.Add(-staleAfter))
		for _, p := range []struct {
			reason string
			query  string
			args   []any
		}{
			{PruneFailing, "PruneFailingPush", []any{fcut, fcut}},
			{PruneStale, "PruneStalePush", []any{scut, scut, scut}},
		} {
			r, err := tx.ExecContext(ctx, s.query(p.query), p.args...)
			if err != nil {
				return err
			}
			n, err := r.RowsAffected()
			if err != nil {
				return err
			}
			if n == 0 {
				continue
			}
			out[p.reason] = n
			if _, err := tx.ExecContext(ctx, s.query("InsertPushPrune"), ms(now), p.reason, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("prune push subscriptions: %w", err)
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
