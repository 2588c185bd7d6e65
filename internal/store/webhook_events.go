package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// stateChangeTx runs the named state-changing statement in a transaction
// and, when it changed a row, then (in the same transaction): the event
// that tells of a change is written with the change or not at all.
func (s *Store) stateChangeTx(ctx context.Context, name string, args []any, then func(*sql.Tx) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.query(name), args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return then(tx)
	})
}

// alertEventData is an alert event's data.
type alertEventData struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	URL       string   `json:"url"`
	Topics    []string `json:"topics"`
	State     string   `json:"state"`
	Email     bool     `json:"email"`
	Targeted  int64    `json:"targeted"`
	Delivered *int64   `json:"delivered,omitempty"`
	Failed    *int64   `json:"failed,omitempty"`
	Expired   *int64   `json:"expired,omitempty"`
}

// emitAlertEvent writes alert.sent (the alert started going out) or
// alert.done (nothing left to send; with its counts) in tx. A store
// method that starts sending an alert (an approval, say) calls it with
// news.EventAlertSent in the same transaction.
func (s *Store) emitAlertEvent(ctx context.Context, tx *sql.Tx, typ news.EventType, id int64, now time.Time) error {
	return s.emitEvent(ctx, tx, typ, "alert:"+strconv.FormatInt(id, 10), func() (any, error) {
		a, err := scanAlert(tx.QueryRowContext(ctx, s.query("GetAlert"), id))
		if err != nil {
			return nil, err
		}
		d := alertEventData{ID: strconv.FormatInt(id, 10), Title: a.Title, URL: a.URL, Topics: a.Topics, State: string(a.State),
			Email: a.Email, Targeted: a.Targeted}
		if d.Topics == nil {
			d.Topics = []string{}
		}
		if typ == news.EventAlertDone {
			var delivered, failed, expired, emailSent, emailFailed int64
			if err := tx.QueryRowContext(ctx, s.query("AlertCounts"), id).Scan(&delivered, &failed, &expired, &emailSent, &emailFailed); err != nil {
				return nil, err
			}
			d.Delivered, d.Failed, d.Expired = &delivered, &failed, &expired
		}
		return d, nil
	}, now)
}

// digestEventData is digest.done's data: the run's final counts.
type digestEventData struct {
	ID           string `json:"id"`
	Frequency    string `json:"frequency"`
	State        string `json:"state"`
	Recipients   int64  `json:"recipients"`
	Sent         int64  `json:"sent"`
	Failed       int64  `json:"failed"`
	SkippedEmpty int64  `json:"skipped_empty"`
}

// emitDigestDone writes digest.done for run id in tx, the transaction
// that closes the run.
func (s *Store) emitDigestDone(ctx context.Context, tx *sql.Tx, id int64, now time.Time) error {
	return s.emitEvent(ctx, tx, news.EventDigestDone, "digest:"+strconv.FormatInt(id, 10), func() (any, error) {
		ri, err := scanRun(tx.QueryRowContext(ctx, s.query("GetRun"), id))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		if err := tx.QueryRowContext(ctx, s.query("RunCounts"), id).Scan(&ri.Sent, &ri.Failed); err != nil {
			return nil, err
		}
		return digestEventData{ID: strconv.FormatInt(id, 10), Frequency: string(ri.Frequency), State: string(ri.State),
			Recipients: ri.Recipients, Sent: ri.Sent, Failed: ri.Failed, SkippedEmpty: ri.SkippedEmpty}, nil
	}, now)
}
