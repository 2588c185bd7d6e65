package store

import (
	"context"
	"fmt"

	"github.com/crieur/crieur/internal/news"
)

// ReadersByTopic counts confirmed subscribers per topic slug, for the
// admin dashboard.
func (s *Store) ReadersByTopic(ctx context.Context) (map[string]int64, error) {
	return s.countBy(ctx, "AdminReadersByTopic")
}

// ReadersByFrequency counts confirmed subscribers per digest frequency.
func (s *Store) ReadersByFrequency(ctx context.Context) (map[news.Frequency]int64, error) {
	m, err := s.countBy(ctx, "AdminReadersByFrequency")
	if err != nil {
		return nil, err
	}
	out := make(map[news.Frequency]int64, len(m))
	for k, v := range m {
		out[news.Frequency(k)] = v
	}
	return out, nil
}

func (s *Store) countBy(ctx context.Context, name string) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, s.query(name))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[k] = n
	}
	return out, rows.Err()
}

// RunFailure is one digest delivery that did not go out, with why.
type RunFailure struct {
	DeliveryID int64
	// Email is the recipient ("" once the subscriber was erased).
	Email     string
	State     news.DeliveryState
	Attempts  int
	LastError string
}

// RunFailures lists up to limit failed or expired deliveries of a digest run.
func (s *Store) RunFailures(ctx context.Context, runID int64, limit int) ([]RunFailure, error) {
	rows, err := s.db.QueryContext(ctx, s.query("AdminRunFailures"), runID, limit)
	if err != nil {
		return nil, fmt.Errorf("run failures: %w", err)
	}
	defer rows.Close()
	out := []RunFailure{}
	for rows.Next() {
		var f RunFailure
		var email *string
		var state string
		if err := rows.Scan(&f.DeliveryID, &email, &state, &f.Attempts, &f.LastError); err != nil {
			return nil, fmt.Errorf("run failures: %w", err)
		}
		if email != nil {
			f.Email = *email
		}
		f.State = news.DeliveryState(state)
		out = append(out, f)
	}
	return out, rows.Err()
}
