package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// AskSunset finds up to limit confirmed, unpaused readers confirmed before
// quietSince who have not clicked a tracked link since then and were not
// asked yet, records the ask and queues each one "still want this?" email
// (news.MailSunset), all in one transaction. It returns their ids.
func (s *Store) AskSunset(ctx context.Context, quietSince, now time.Time, limit int) ([]int64, error) {
	var ids []int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.query("SunsetCandidates"), ms(quietSince), ms(quietSince), ms(quietSince), limit)
		if err != nil {
			return err
		}
		var since []int64 // each one's confirmation
		for rows.Next() {
			var id, confirmed int64
			if err := rows.Scan(&id, &confirmed); err != nil {
				rows.Close()
				return err
			}
			ids, since = append(ids, id), append(since, confirmed)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i, id := range ids {
			// A stale ask (before the reader came back), or one answered
			// before the quiet period, is replaced.
			res, err := tx.ExecContext(ctx, s.query("InsertSunsetAsk"), id, ms(now), since[i], ms(quietSince))
			if err != nil {
				return err
			}
			// Another instance asked them meanwhile: one email.
			if n, _ := res.RowsAffected(); n == 0 {
				continue
			}
			if err := s.insertDelivery(ctx, tx, news.MailSunset, id, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ask sunset: %w", err)
	}
	return ids, nil
}

// SunsetUnanswered returns up to limit readers asked before askedBefore
// who neither answered nor clicked since.
func (s *Store) SunsetUnanswered(ctx context.Context, askedBefore time.Time, limit int) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, s.query("SunsetUnanswered"), ms(askedBefore), limit)
	if err != nil {
		return nil, fmt.Errorf("sunset unanswered: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sunset unanswered: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// AnswerSunset records that subscriber id answered (or left) at now.
// Nothing asked is not an error.
func (s *Store) AnswerSunset(ctx context.Context, id int64, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, s.query("AnswerSunsetAsk"), ms(now), id); err != nil {
		return fmt.Errorf("answer sunset: %w", err)
	}
	return nil
}

// SunsetAsked reports when subscriber id was asked, if they were and have
// not answered.
func (s *Store) SunsetAsked(ctx context.Context, id int64) (time.Time, bool, error) {
	var at sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.query("SunsetAsked"), id).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("sunset asked: %w", err)
	}
	return fromMS(at), true, nil
}
