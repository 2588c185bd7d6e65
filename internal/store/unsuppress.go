package store

import (
	"context"
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
