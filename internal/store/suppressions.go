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
	reason, err := s.SuppressionReason(ctx, hash)
	return hardSuppressions[reason], err
}

// SuppressionReason returns why hash is on the suppression list, "" when
// it is not.
func (s *Store) SuppressionReason(ctx context.Context, hash string) (string, error) {
	var reason string
	err := s.db.QueryRowContext(ctx, s.query("SuppressionReason"), hash).Scan(&reason)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("suppression reason: %w", err)
	}
	return reason, nil
}
