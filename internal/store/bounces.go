package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// The kinds of a recorded bounce.
const (
	BounceHard      = "hard"
	BounceSoft      = "soft"
	BounceComplaint = "complaint"
)

// Bounce is one bounce or complaint recorded about a reader.
type Bounce struct {
	ID           int64
	SubscriberID int64
	At           time.Time
	Kind         string // BounceHard, BounceSoft or BounceComplaint
	Status       string // enhanced status code, "" when none
	Diagnostic   string
	Source       string // how it came in: "rcpt", "smtp", "imap", "ses", …
	DeliveryID   int64  // 0 when unknown
	RunID        int64
	AlertID      int64
}

// SoftPolicy says how many soft bounces within how long make a reader
// bounced.
type SoftPolicy struct {
	Count  int
	Window time.Duration
}

// BounceResult says what recording a bounce did.
type BounceResult struct {
	// Recorded is false when the same report was recorded before: it
	// changed nothing.
	Recorded bool
	// Became is the reader's new status (news.Bounced or news.Complained)
	// when this report changed it, "" otherwise.
	Became news.Status
}

// RecordBounce adds b to its reader's history and applies it, in one
// transaction: a hard bounce makes the reader bounced, a complaint
// complained, and a soft bounce does when policy.Count soft bounces fall
// within policy.Window up to b.At. A reader who becomes bounced or
// complained has their queued emails cancelled and the address (hash) put
// on the suppression list for good. A complaint outranks a bounce: a
// complained reader stays complained. When b names a delivery, its
// subscriber, run and alert are read from it. ErrNotFound: no such reader.
//
// hashOf gives the suppression-list hash of the reader's address (nil: the
// list is left alone).
func (s *Store) RecordBounce(ctx context.Context, b Bounce, hashOf func(email string) string, policy SoftPolicy) (BounceResult, error) {
	var res BounceResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if b.DeliveryID != 0 {
			var sub, run, alert sql.NullInt64
			err := tx.QueryRowContext(ctx, s.query("DeliveryBounceRefs"), b.DeliveryID).Scan(&sub, &run, &alert)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				b.DeliveryID = 0
			case err != nil:
				return err
			default:
				if b.SubscriberID == 0 {
					b.SubscriberID = sub.Int64
				}
				b.RunID, b.AlertID = run.Int64, alert.Int64
			}
		}
		var status, email string
		err := tx.QueryRowContext(ctx, s.query("SubscriberStatus"), b.SubscriberID).Scan(&status, &email)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		r, err := tx.ExecContext(ctx, s.query("InsertBounce"), b.SubscriberID, ms(b.At), b.Kind, b.Status, b.Diagnostic, b.Source,
			nullID(b.DeliveryID), nullID(b.RunID), nullID(b.AlertID))
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 0 {
			return err
		}
		res.Recorded = true
		var to news.Status
		switch b.Kind {
		case BounceHard:
			to = news.Bounced
		case BounceComplaint:
			to = news.Complained
		case BounceSoft:
			var n int
			if err := tx.QueryRowContext(ctx, s.query("CountSoftBounces"), b.SubscriberID, ms(b.At.Add(-policy.Window)), ms(b.At)).Scan(&n); err != nil {
				return err
			}
			if policy.Count > 0 && n >= policy.Count {
				to = news.Bounced
			}
		}
		cur := news.Status(status)
		if to == "" || cur == to || cur == news.Complained {
			return nil
		}
		if _, err := tx.ExecContext(ctx, s.query("SetSubscriberStatus"), string(to), ms(b.At), b.SubscriberID); err != nil {
			return err
		}
		if err := s.cancelSubscriberDeliveries(ctx, tx, string(to), b.SubscriberID); err != nil {
			return err
		}
		if hashOf != nil {
			if _, err := tx.ExecContext(ctx, s.query("SuppressHard"), hashOf(email), string(to), ms(b.At)); err != nil {
				return err
			}
		}
		// The integrators' event, in the transaction of the change it
		// tells of (the webhook outbox).
		ev := news.EventSubscriberBounced
		if to == news.Complained {
			ev = news.EventSubscriberComplained
		}
		if err := s.emitSubscriberEvent(ctx, tx, ev, b.SubscriberID, b.Kind, b.At); err != nil {
			return err
		}
		res.Became = to
		return nil
	})
	if err != nil {
		return BounceResult{}, fmt.Errorf("record bounce: %w", err)
	}
	return res, nil
}

// Bounces lists a reader's bounces and complaints, newest first.
func (s *Store) Bounces(ctx context.Context, subscriberID int64, limit int) ([]Bounce, error) {
	rows, err := s.db.QueryContext(ctx, s.query("SubscriberBounces"), subscriberID, limit)
	if err != nil {
		return nil, fmt.Errorf("subscriber bounces: %w", err)
	}
	defer rows.Close()
	out := []Bounce{}
	for rows.Next() {
		var b Bounce
		var at, del, run, alert sql.NullInt64
		if err := rows.Scan(&b.ID, &b.SubscriberID, &at, &b.Kind, &b.Status, &b.Diagnostic, &b.Source, &del, &run, &alert); err != nil {
			return nil, fmt.Errorf("subscriber bounces: %w", err)
		}
		b.At, b.DeliveryID, b.RunID, b.AlertID = fromMS(at), del.Int64, run.Int64, alert.Int64
		out = append(out, b)
	}
	return out, rows.Err()
}

// DayBounces counts one UTC day's bounces and complaints.
type DayBounces struct {
	Day        time.Time // midnight UTC
	Hard, Soft int64
	Complaints int64
}

// BouncesByDay counts bounces and complaints per UTC day since since,
// oldest first; days without any are left out.
func (s *Store) BouncesByDay(ctx context.Context, since time.Time) ([]DayBounces, error) {
	rows, err := s.db.QueryContext(ctx, s.query("BouncesByDay"), ms(since))
	if err != nil {
		return nil, fmt.Errorf("bounces by day: %w", err)
	}
	defer rows.Close()
	var out []DayBounces
	for rows.Next() {
		var day, n int64
		var kind string
		if err := rows.Scan(&day, &kind, &n); err != nil {
			return nil, fmt.Errorf("bounces by day: %w", err)
		}
		t := time.UnixMilli(day * 86400000).UTC()
		if len(out) == 0 || !out[len(out)-1].Day.Equal(t) {
			out = append(out, DayBounces{Day: t})
		}
		d := &out[len(out)-1]
		switch kind {
		case BounceHard:
			d.Hard += n
		case BounceSoft:
			d.Soft += n
		case BounceComplaint:
			d.Complaints += n
		}
	}
	return out, rows.Err()
}

// MailHealth is how one digest run's or alert's emails fared: how many
// were sent, how many bounced (hard or soft, once per email) and how many
// drew a complaint.
type MailHealth struct {
	ID         int64
	Label      string // the run's frequency or the alert's title
	At         time.Time
	Sent       int64
	Bounced    int64
	Complaints int64
}

// BounceRate is Bounced/Sent (0 when nothing was sent).
func (h MailHealth) BounceRate() float64 { return rate(h.Bounced, h.Sent) }

// ComplaintRate is Complaints/Sent (0 when nothing was sent).
func (h MailHealth) ComplaintRate() float64 { return rate(h.Complaints, h.Sent) }

func rate(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// RunHealth returns the last limit digest runs' MailHealth, newest first.
func (s *Store) RunHealth(ctx context.Context, limit int) ([]MailHealth, error) {
	return s.mailHealth(ctx, "RunHealth", limit)
}

// AlertEmailHealth returns the MailHealth of the last limit alerts sent by
// email, newest first.
func (s *Store) AlertEmailHealth(ctx context.Context, limit int) ([]MailHealth, error) {
	return s.mailHealth(ctx, "AlertEmailHealth", limit)
}

func (s *Store) mailHealth(ctx context.Context, name string, limit int) ([]MailHealth, error) {
	rows, err := s.db.QueryContext(ctx, s.query(name), limit)
	if err != nil {
		return nil, fmt.Errorf("mail health: %w", err)
	}
	defer rows.Close()
	var out []MailHealth
	for rows.Next() {
		var h MailHealth
		var at sql.NullInt64
		if err := rows.Scan(&h.ID, &h.Label, &at, &h.Sent, &h.Bounced, &h.Complaints); err != nil {
			return nil, fmt.Errorf("mail health: %w", err)
		}
		h.At = fromMS(at)
		out = append(out, h)
	}
	return out, rows.Err()
}
