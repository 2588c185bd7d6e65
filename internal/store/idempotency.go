package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// ErrIdempotencyConflict is returned when an idempotency key was used,
// within news.IdempotencyTTL, for another request (another hash).
var ErrIdempotencyConflict = errors.New("idempotency key used for another request")

// errRepeated rolls back an alert whose key another transaction holds.
var errRepeated = errors.New("idempotency key already used")

// IdempotentAlert returns the alert that key k made, if k was used within
// news.IdempotencyTTL before now: ErrNotFound if not,
// ErrIdempotencyConflict if for another request.
func (s *Store) IdempotentAlert(ctx context.Context, k news.IdempotencyKey, now time.Time) (int64, error) {
	var id int64
	var hash string
	err := s.db.QueryRowContext(ctx, s.query("GetIdempotencyKey"), k.Scope, k.Key, ms(now.Add(-news.IdempotencyTTL))).Scan(&id, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("get idempotency key: %w", err)
	}
	if k.Hash != "" && hash != k.Hash {
		return id, ErrIdempotencyConflict
	}
	return id, nil
}

// CreateAlertOnce stores an alert as CreateAlert does, unless key k (set)
// was used within news.IdempotencyTTL before now: then it stores nothing
// and returns the first alert's id with created false. Of simultaneous
// calls with the same key, from any number of instances, exactly one
// creates the alert: the key is written in the alert's transaction.
func (s *Store) CreateAlertOnce(ctx context.Context, a news.Alert, topicIDs []int64, k news.IdempotencyKey, now time.Time) (id int64, created bool, err error) {
	// The key can vanish between the rolled-back insert and the read (it
	// expired, or the janitor removed it): then try again.
	for range 3 {
		err = s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, s.query("ForgetExpiredIdempotencyKey"), k.Scope, k.Key, ms(now.Add(-news.IdempotencyTTL))); err != nil {
				return err
			}
			var err error
			if id, err = s.insertAlert(ctx, tx, a, topicIDs); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, s.query("InsertIdempotencyKey"), k.Scope, k.Key, k.Hash, id, ms(now))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err == nil && n == 0 {
				err = errRepeated
			}
			return err
		})
		if err == nil {
			return id, true, nil
		}
		if !errors.Is(err, errRepeated) {
			return 0, false, fmt.Errorf("create alert: %w", err)
		}
		id, err = s.IdempotentAlert(ctx, k, now)
		if !errors.Is(err, ErrNotFound) {
			return id, false, err
		}
	}
	return 0, false, fmt.Errorf("create alert: %w, then gone, three times", errRepeated)
}

// DeleteExpiredIdempotencyKeys removes the keys older than
// news.IdempotencyTTL before now, for the janitor.
func (s *Store) DeleteExpiredIdempotencyKeys(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.query("DeleteExpiredIdempotencyKeys"), ms(now.Add(-news.IdempotencyTTL)))
	if err != nil {
		return 0, fmt.Errorf("delete expired idempotency keys: %w", err)
	}
	return res.RowsAffected()
}
