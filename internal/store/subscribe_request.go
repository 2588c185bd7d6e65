package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// hardSuppressions are the suppression reasons a subscription request
// cannot lift: the address bounced for good or its owner complained. A
// reader who unsubscribed (or was erased, or imported as unsubscribed)
// may subscribe again: the confirmation goes to them and needs their
// click. "bounced" and "complained" are the reasons bounce reports record.
var hardSuppressions = map[string]bool{"bounce": true, "bounced": true, "complaint": true, "complained": true}

// hardSuppressed reports whether hash is on the suppression list for a
// reason in hardSuppressions. The list is read whatever the answer, so
// every request does the same work.
func (s *Store) hardSuppressed(ctx context.Context, tx *sql.Tx, hash string) (bool, error) {
	if hash == "" {
		return false, nil
	}
	var reason string
	err := tx.QueryRowContext(ctx, s.query("SuppressionReason"), hash).Scan(&reason)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return hardSuppressions[reason], err
}

// recordRefusedRequest writes what a subscription request that sends
// nothing leaves: the subscriber row touched and its topics rewritten as
// they are (when there is a row), and a cancelled confirmation saying why,
// in the reader's history. It is the same work as a request that queues a
// confirmation, so that timing does not tell the two apart.
func (s *Store) recordRefusedRequest(ctx context.Context, tx *sql.Tx, id int64, reason string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, s.query("TouchSubscriber"), id); err != nil {
		return err
	}
	topics, err := s.takeTopics(ctx, tx, id)
	if err != nil {
		return err
	}
	if err := s.setTopics(ctx, tx, id, topics); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.query("InsertRefusedConfirm"), nullID(id), reason, ms(now), ms(now))
	return err
}

// takeTopics deletes subscriber id's topics and returns them.
func (s *Store) takeTopics(ctx context.Context, tx *sql.Tx, id int64) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, s.query("TakeSubscriberTopics"), id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var t int64
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		ids = append(ids, t)
	}
	return ids, rows.Err()
}
