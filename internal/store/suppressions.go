package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Unsuppress takes an address hash off the suppression list and reports
// whether it was on it. The reader stays as they are (unsubscribed after a
// bounce): lifting the suppression lets them subscribe and confirm again.
func (s *Store) Unsuppress(ctx context.Context, hash string) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.query("Unsuppress"), hash)
	if err != nil {
		return false, fmt.Errorf("unsuppress: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("unsuppress: %w", err)
	}
	return n > 0, nil
}

// HardSuppressed reports whether hash is on the suppression list after a
// bounce or a complaint: an address nothing may be sent to, whatever the
// reader's status says.
func (s *Store) HardSuppressed(ctx context.Context, hash string) (bool, error) {
	e, err := s.SuppressionOf(ctx, hash)
	return hardSuppressions[e.Reason], err
}

// SuppressionOf returns the suppression list's entry for hash; its Reason
// is "" when hash is not on the list.
func (s *Store) SuppressionOf(ctx context.Context, hash string) (Suppression, error) {
	e := Suppression{Hash: hash}
	var at sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.query("GetSuppression"), hash).Scan(&e.Reason, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return Suppression{Hash: hash}, nil
	}
	if err != nil {
		return Suppression{}, fmt.Errorf("suppression: %w", err)
	}
	e.CreatedAt = fromMS(at)
	return e, nil
}
