package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// CreateAlert stores an alert; its deliveries are written by EnqueueAlert.
func (s *Store) CreateAlert(ctx context.Context, a news.Alert, topicIDs []int64) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) (err error) {
		id, err = s.insertAlert(ctx, tx, a, topicIDs)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("create alert: %w", err)
	}
	return id, nil
}

// insertAlert writes an alert and its topics in tx.
func (s *Store) insertAlert(ctx context.Context, tx *sql.Tx, a news.Alert, topicIDs []int64) (int64, error) {
	var id int64
	if err := tx.QueryRowContext(ctx, s.query("InsertAlert"), a.Title, a.Body, a.URL, a.ImageURL, strings.Join(a.Topics, ","),
		int64(a.TTL/time.Second), string(a.Urgency), a.TopicHeader, b2i(a.Email), nullID(a.Replaces), string(a.State),
		ms(a.SendAt), a.CreatedBy, ms(a.CreatedAt), string(cmp.Or(a.Priority, news.Breaking)), b2i(a.CheckURL), nullID(a.ArticleID)).Scan(&id); err != nil {
		return 0, err
	}
	for _, t := range topicIDs {
		if _, err := tx.ExecContext(ctx, s.query("InsertAlertTopic"), id, t); err != nil {
			return 0, err
		}
	}
	if a.State == news.AlertSending {
		if err := s.emitAlertEvent(ctx, tx, news.EventAlertSent, id, a.CreatedAt); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// AlertInfo is an alert with its enqueuing progress.
type AlertInfo struct {
	news.Alert
	Enqueued     bool
	EnqueueAfter int64
	EmailAfter   int64
	Error        string
	// EmailSent and EmailFailed count the alert's emails.
	EmailSent, EmailFailed int64
	// Checks counts the GETs of an automatic alert's article made so far.
	Checks int
}

func scanAlert(r rowScanner) (AlertInfo, error) {
	var a AlertInfo
	var topics, urgency, state string
	var ttl, email, enq int64
	var replaces, sendAt, created, article sql.NullInt64
	var priority string
	var checkURL int64
	if err := r.Scan(&a.ID, &a.Title, &a.Body, &a.URL, &a.ImageURL, &topics, &ttl, &urgency, &a.TopicHeader, &email, &replaces,
		&state, &sendAt, &enq, &a.EnqueueAfter, &a.EmailAfter, &a.Targeted, &a.Emails, &a.Error, &a.CreatedBy, &created,
		&priority, &a.ApprovedBy, &checkURL, &a.Checks, &article); err != nil {
		return a, err
	}
	a.Priority, a.CheckURL, a.ArticleID = news.Priority(priority), checkURL != 0, article.Int64
	if topics != "" {
		a.Topics = strings.Split(topics, ",")
	}
	a.TTL, a.Urgency, a.Email, a.Replaces = time.Duration(ttl)*time.Second, news.Urgency(urgency), email != 0, replaces.Int64
	a.State, a.SendAt, a.Enqueued, a.CreatedAt = news.AlertState(state), fromMS(sendAt), enq != 0, fromMS(created)
	return a, nil
}

// Alert returns an alert with live counts.
func (s *Store) Alert(ctx context.Context, id int64) (AlertInfo, error) {
	a, err := scanAlert(s.db.QueryRowContext(ctx, s.query("GetAlert"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	if err != nil {
		return a, fmt.Errorf("get alert: %w", err)
	}
	return a, s.fillAlertCounts(ctx, &a)
}

// AlertBare returns an alert without counting its deliveries (for senders).
func (s *Store) AlertBare(ctx context.Context, id int64) (AlertInfo, error) {
	a, err := scanAlert(s.db.QueryRowContext(ctx, s.query("GetAlert"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	if err != nil {
		return a, fmt.Errorf("get alert: %w", err)
	}
	return a, nil
}

// fillAlertCounts reads the alert's outcome counts, kept by the
// transactions that record outcomes.
func (s *Store) fillAlertCounts(ctx context.Context, a *AlertInfo) error {
	err := s.db.QueryRowContext(ctx, s.query("AlertCounts"), a.ID).Scan(&a.Delivered, &a.Failed, &a.Expired, &a.EmailSent, &a.EmailFailed)
	if err != nil {
		return fmt.Errorf("alert counts: %w", err)
	}
	return nil
}

// Alerts lists the latest alerts with their counts.
func (s *Store) Alerts(ctx context.Context, limit int) ([]AlertInfo, error) {
	rows, err := s.db.QueryContext(ctx, s.query("ListAlerts"), limit)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	var out []AlertInfo
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, a)
	}
	rows.Close()
	for i := range out {
		if err := s.fillAlertCounts(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AlertsToEnqueue lists alerts due (embargo passed) whose deliveries are
// not all written, marking scheduled ones as sending.
func (s *Store) AlertsToEnqueue(ctx context.Context, now time.Time) ([]int64, error) {
	ids, err := s.ids(ctx, "AlertsToEnqueue", ms(now))
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		err := s.stateChangeTx(ctx, "StartAlert", []any{id}, func(tx *sql.Tx) error {
			return s.emitAlertEvent(ctx, tx, news.EventAlertSent, id, now)
		})
		if err != nil {
			return nil, fmt.Errorf("start alert: %w", err)
		}
	}
	return ids, nil
}

// EnqueueAlertWindow writes the push deliveries (then, when the alert asks
// for email, the email deliveries) of the next window of at most size
// subscriptions. done reports that nothing is left to write. Several
// instances may call it for the same alert at once: each window is written
// by exactly one of them (the others get added=0, done=false and call
// again).
func (s *Store) EnqueueAlertWindow(ctx context.Context, id int64, size int, now time.Time) (added int64, done bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var enqueued, pushAfter, emailAfter, email int64
		err := tx.QueryRowContext(ctx, s.query("AlertProgress"), id).Scan(&enqueued, &pushAfter, &emailAfter, &email)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if enqueued != 0 {
			done = true
			return nil
		}
		var end sql.NullInt64
		if err := tx.QueryRowContext(ctx, s.query("PushWindowEnd"), pushAfter, size).Scan(&end); err != nil {
			return err
		}
		if end.Valid {
			added, err = s.enqueuePushWindows(ctx, tx, id, pushAfter, end.Int64, now)
			return err
		}
		if email != 0 {
			if err := tx.QueryRowContext(ctx, s.query("EmailWindowEnd"), emailAfter, size).Scan(&end); err != nil {
				return err
			}
			if end.Valid {
				added, err = s.enqueueEmailWindow(ctx, tx, id, emailAfter, end.Int64, now)
				return err
			}
		}
		done = true
		_, err = tx.ExecContext(ctx, s.query("FinishAlertEnqueue"), id)
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("enqueue alert %d: %w", id, err)
	}
	return added, done, nil
}

// enqueueEmailWindow moves an alert's email progress from after to end
// and, if this transaction is the one that moved it, writes the emails to
// the readers in that range.
func (s *Store) enqueueEmailWindow(ctx context.Context, tx *sql.Tx, id, after, end int64, now time.Time) (int64, error) {
	if moved, err := s.advanceAlert(ctx, tx, "AdvanceAlertEmail", id, after, end); !moved || err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, s.query("EnqueueEmailWindow"), id, ms(now), ms(now), after, end, id, id)
	if err != nil {
		return 0, err
	}
	added, _ := res.RowsAffected()
	_, err = tx.ExecContext(ctx, s.query("AddAlertEmails"), added, id)
	return added, err
}

// advanceAlert moves one of alert id's progress columns (the statement
// advance) from after to end; moved is false when another instance moved
// it first, and then wrote that range.
func (s *Store) advanceAlert(ctx context.Context, tx *sql.Tx, advance string, id, after, end int64) (moved bool, err error) {
	res, err := tx.ExecContext(ctx, s.query(advance), end, id, after)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// PushWindowSize is the most browsers a push window holds: the unit the
// fan-out claims, renews and records (see migration 0008).
const PushWindowSize = 256

// enqueuePushWindows moves an alert's push progress from after to end and,
// if this transaction is the one that moved it, queues the browsers in
// that range as windows of up to PushWindowSize.
func (s *Store) enqueuePushWindows(ctx context.Context, tx *sql.Tx, id, after, end int64, now time.Time) (int64, error) {
	if moved, err := s.advanceAlert(ctx, tx, "AdvanceAlertPush", id, after, end); !moved || err != nil {
		return 0, err
	}
	rows, err := tx.QueryContext(ctx, s.query("PushWindowSubs"), after, end, id, id)
	if err != nil {
		return 0, err
	}
	var subs []int64
	for rows.Next() {
		var sub int64
		if err := rows.Scan(&sub); err != nil {
			rows.Close()
			return 0, err
		}
		subs = append(subs, sub)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for w := range slices.Chunk(subs, PushWindowSize) {
		if _, err := tx.ExecContext(ctx, s.query("InsertPushWindow"), id, joinIDs(w), len(w), ms(now)); err != nil {
			return 0, err
		}
	}
	added := int64(len(subs))
	_, err = tx.ExecContext(ctx, s.query("AddAlertTargeted"), added, id)
	return added, err
}

// CancelAlert stops what of an alert has not gone out yet.
func (s *Store) CancelAlert(ctx context.Context, id int64, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.query("CancelAlert"), ms(now), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var x int64
			if err := tx.QueryRowContext(ctx, s.query("GetAlert"), id).Scan(&x); errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return ErrConflict
		}
		res, err = tx.ExecContext(ctx, s.query("CancelAlertPush"), id)
		if err != nil {
			return err
		}
		c := newOutcomeCounts(true)
		if n, err := res.RowsAffected(); err == nil {
			c.add(id, 0, news.DeliveryCancelled, n)
		}
		rows, err := tx.QueryContext(ctx, s.query("CancelAlertWindows"), id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var n int64
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return err
			}
			c.add(id, 0, news.DeliveryCancelled, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := s.addCounts(ctx, tx, c); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, s.query("CancelAlertEmail"), id); err != nil {
			return err
		}
		// A cancelled alert is done too: its event says "cancelled".
		return s.emitAlertEvent(ctx, tx, news.EventAlertDone, id, now)
	})
	if err != nil {
		return fmt.Errorf("cancel alert: %w", err)
	}
	return nil
}

// CloseFinishedAlerts marks done every fully enqueued alert with nothing
// left to send.
func (s *Store) CloseFinishedAlerts(ctx context.Context, now time.Time) ([]int64, error) {
	ids, err := s.ids(ctx, "OpenAlerts")
	if err != nil {
		return nil, err
	}
	var closed []int64
	for _, id := range ids {
		var busy bool
		if err := s.db.QueryRowContext(ctx, s.query("AlertBusy"), id, id, id, id).Scan(&busy); err != nil {
			return closed, fmt.Errorf("alert busy: %w", err)
		}
		if busy {
			continue
		}
		var changed bool
		err := s.stateChangeTx(ctx, "FinishAlert", []any{string(news.AlertDone), ms(now), id}, func(tx *sql.Tx) error {
			changed = true
			return s.emitAlertEvent(ctx, tx, news.EventAlertDone, id, now)
		})
		if err != nil {
			return closed, fmt.Errorf("finish alert: %w", err)
		}
		if changed {
			closed = append(closed, id)
		}
	}
	return closed, nil
}

// AlertTopicHeader returns the RFC 8030 Topic of an earlier alert, so that
// an update replaces it on devices.
func (s *Store) AlertTopicHeader(ctx context.Context, id int64) (string, error) {
	var t string
	err := s.db.QueryRowContext(ctx, s.query("AlertTopicHeader"), id).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("alert topic: %w", err)
	}
	return t, nil
}

// Audience counts the browsers and the email readers an alert on these
// topics would reach (no topics: everyone who opted in).
func (s *Store) Audience(ctx context.Context, topics []string) (browsers, emails int64, err error) {
	list := strings.Join(topics, ",")
	if err := s.db.QueryRowContext(ctx, s.query("PushAudience"), len(topics), list).Scan(&browsers); err != nil {
		return 0, 0, fmt.Errorf("push audience: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, s.query("EmailAudience"), len(topics), list).Scan(&emails); err != nil {
		return 0, 0, fmt.Errorf("email audience: %w", err)
	}
	return browsers, emails, nil
}
