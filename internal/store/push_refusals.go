package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// RecordPushRefusal counts one more alert refused by subscription id's push
// service (a 4xx that neither removes nor retries, see push.Result.Refused)
// and removes the subscription once limit refusals in a row are counted. It
// reports whether the subscription was removed; a subscription already gone
// is not an error.
func (s *Store) RecordPushRefusal(ctx context.Context, id int64, limit int) (removed bool, err error) {
	var n int
	err = s.db.QueryRowContext(ctx, s.query("CountPushRefusal"), id).Scan(&n)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("count push refusal: %w", err)
	case n < limit:
		return false, nil
	}
	// The count is checked again: a delivery recorded meanwhile reset it.
	res, err := s.db.ExecContext(ctx, s.query("DeletePushRefused"), id, limit)
	if err != nil {
		return false, fmt.Errorf("delete refused push subscription: %w", err)
	}
	gone, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("delete refused push subscription: %w", err)
	}
	return gone > 0, nil
}

// ResetPushRefusals sets subscription id's count of refusals in a row back
// to 0, after a delivery. Call it only when the claimed PushTarget counted
// refusals, so that deliveries, by far the most common outcome, write
// nothing more.
func (s *Store) ResetPushRefusals(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, s.query("ResetPushRefusals"), id); err != nil {
		return fmt.Errorf("reset push refusals: %w", err)
	}
	return nil
}
