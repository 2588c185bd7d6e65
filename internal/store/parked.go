package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ParkedKeep is how many parked reports are kept: the newest.
const ParkedKeep = 1000

// Parked is a report that could not be parsed or matched, kept for an
// admin to read.
type Parked struct {
	ID     int64
	At     time.Time
	Source string
	Reason string
	Size   int64  // the report's size when it came in
	Raw    []byte // its first bytes (capped by the caller); only from ParkedReport
}

// Park keeps a report, and only the newest ParkedKeep of them.
func (s *Store) Park(ctx context.Context, p Parked) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.query("InsertParked"), ms(p.At), p.Source, p.Reason, p.Size, p.Raw); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.query("TrimParked"), ParkedKeep)
		return err
	})
	if err != nil {
		return fmt.Errorf("park report: %w", err)
	}
	return nil
}

// ParkedReports lists the newest parked reports, without their bytes, and
// how many are kept in all.
func (s *Store) ParkedReports(ctx context.Context, limit int) ([]Parked, int64, error) {
	var total int64
	if err := s.db.QueryRowContext(ctx, s.query("CountParked")).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("parked reports: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.query("ListParked"), limit)
	if err != nil {
		return nil, 0, fmt.Errorf("parked reports: %w", err)
	}
	defer rows.Close()
	var out []Parked
	for rows.Next() {
		var p Parked
		var at sql.NullInt64
		if err := rows.Scan(&p.ID, &at, &p.Source, &p.Reason, &p.Size); err != nil {
			return nil, 0, fmt.Errorf("parked reports: %w", err)
		}
		p.At = fromMS(at)
		out = append(out, p)
	}
	return out, total, rows.Err()
}

// ParkedReport returns one parked report with its bytes; ErrNotFound if
// none.
func (s *Store) ParkedReport(ctx context.Context, id int64) (Parked, error) {
	var p Parked
	var at sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.query("GetParked"), id).Scan(&p.ID, &at, &p.Source, &p.Reason, &p.Size, &p.Raw)
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("parked report: %w", err)
	}
	p.At = fromMS(at)
	return p, nil
}
