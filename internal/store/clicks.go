package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ClickScope is what a tracked link belongs to: a digest run or an alert
// (exactly one of them is not 0).
type ClickScope struct {
	RunID, AlertID int64
}

// ClickCount adds clicks on one article (0: an alert email's own link) of
// a scope on one UTC day.
type ClickCount struct {
	ClickScope
	ArticleID      int64
	Day            time.Time
	Human, Scanner int64
}

// ReaderClick is one click kept per reader (CRIEUR_TRACK_READERS=true).
type ReaderClick struct {
	ClickScope
	SubscriberID int64
	ArticleID    int64
	Scanner      bool
	At           time.Time
}

// ClickBatch is what a click recorder writes at once.
type ClickBatch struct {
	Counts []ClickCount
	// Clickers are the keyed hashes of the scope's distinct clickers seen
	// in this batch; those already known are not counted again.
	Clickers map[ClickScope][]string
	Readers  []ReaderClick
}

// dayStart is the UTC midnight of t, in stored milliseconds.
func dayStart(t time.Time) int64 {
	return t.UTC().Truncate(24 * time.Hour).UnixMilli()
}

// AddClicks writes a batch of clicks in one transaction. Counts are added
// with upserts, so several instances writing at once add up exactly.
func (s *Store) AddClicks(ctx context.Context, b ClickBatch) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, c := range b.Counts {
			if _, err := tx.ExecContext(ctx, s.query("AddClickCounts"), c.RunID, c.AlertID, c.ArticleID, dayStart(c.Day), c.Human, c.Scanner); err != nil {
				return err
			}
		}
		for sc, hashes := range b.Clickers {
			added, err := s.insertClickers(ctx, tx, sc, hashes)
			if err != nil {
				return err
			}
			if added > 0 {
				if _, err := tx.ExecContext(ctx, s.query("AddClickers"), added, sc.RunID, sc.AlertID); err != nil {
					return err
				}
			}
		}
		for _, r := range b.Readers {
			// A reader erased meanwhile inserts nothing.
			if _, err := tx.ExecContext(ctx, s.query("InsertReaderClick"), r.RunID, r.AlertID, r.ArticleID, b2i(r.Scanner), ms(r.At), r.SubscriberID); err != nil {
				return err
			}
			// A reader who clicks has answered "still want this?".
			if !r.Scanner {
				if _, err := tx.ExecContext(ctx, s.query("AnswerSunsetAsk"), ms(r.At), r.SubscriberID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add clicks: %w", err)
	}
	return nil
}

// ClickSalt returns the random salt of a scope's clickers' hashes, made at
// its first click; "" once its clickers are forgotten (ForgetClickers).
func (s *Store) ClickSalt(ctx context.Context, sc ClickScope, now time.Time) (string, error) {
	var b [16]byte
	rand.Read(b[:])
	if _, err := s.db.ExecContext(ctx, s.query("InsertClickScope"), sc.RunID, sc.AlertID, hex.EncodeToString(b[:]), ms(now)); err != nil {
		return "", fmt.Errorf("click salt: %w", err)
	}
	var salt string
	if err := s.db.QueryRowContext(ctx, s.query("ClickScopeSalt"), sc.RunID, sc.AlertID).Scan(&salt); err != nil {
		return "", fmt.Errorf("click salt: %w", err)
	}
	return salt, nil
}

// ForgetClickers blanks the salts of scopes first clicked before and
// deletes their clickers' hashes; their counts of distinct clickers stay.
func (s *Store) ForgetClickers(ctx context.Context, before time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.query("BlankOldSalts"), ms(before)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.query("DeleteForgottenClickers"))
		return err
	})
	if err != nil {
		return fmt.Errorf("forget clickers: %w", err)
	}
	return nil
}

// ClickTotal is a scope's clicks.
type ClickTotal struct {
	// Human are readers' clicks; Scanner the fetches counted apart as mail
	// scanners'; Clickers the distinct clickers.
	Human, Scanner, Clickers int64
}

// ClickTotals returns a run's or an alert's clicks.
func (s *Store) ClickTotals(ctx context.Context, sc ClickScope) (ClickTotal, error) {
	var t ClickTotal
	if err := s.db.QueryRowContext(ctx, s.query("ClickTotals"), sc.RunID, sc.AlertID).Scan(&t.Human, &t.Scanner); err != nil {
		return t, fmt.Errorf("click totals: %w", err)
	}
	err := s.db.QueryRowContext(ctx, s.query("ClickScopeClickers"), sc.RunID, sc.AlertID).Scan(&t.Clickers)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("click totals: %w", err)
	}
	return t, nil
}

// ArticleClickCount is one article's clicks.
type ArticleClickCount struct {
	ArticleID      int64
	Title          string
	Human, Scanner int64
}

func (s *Store) articleClickCounts(ctx context.Context, name string, args ...any) ([]ArticleClickCount, error) {
	rows, err := s.db.QueryContext(ctx, s.query(name), args...)
	if err != nil {
		return nil, fmt.Errorf("article clicks: %w", err)
	}
	defer rows.Close()
	var out []ArticleClickCount
	for rows.Next() {
		var c ArticleClickCount
		if err := rows.Scan(&c.ArticleID, &c.Title, &c.Human, &c.Scanner); err != nil {
			return nil, fmt.Errorf("article clicks: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// RunArticleClicks returns a digest run's clicks per article, most
// clicked first.
func (s *Store) RunArticleClicks(ctx context.Context, runID int64) ([]ArticleClickCount, error) {
	return s.articleClickCounts(ctx, "RunArticleClicks", runID)
}

// TopClicked returns the articles readers clicked most in emails since.
func (s *Store) TopClicked(ctx context.Context, since time.Time, limit int) ([]ArticleClickCount, error) {
	return s.articleClickCounts(ctx, "TopClicked", dayStart(since), limit)
}

// ArticleClicks returns an article's readers' clicks: in emails (tracked
// links of digests), and on push notifications of alerts that link to it.
func (s *Store) ArticleClicks(ctx context.Context, id int64, url string) (email, push int64, err error) {
	if err = s.db.QueryRowContext(ctx, s.query("ArticleEmailClicks"), id).Scan(&email); err != nil {
		return 0, 0, fmt.Errorf("article clicks: %w", err)
	}
	if err = s.db.QueryRowContext(ctx, s.query("ArticlePushClicks"), url).Scan(&push); err != nil {
		return 0, 0, fmt.Errorf("article clicks: %w", err)
	}
	return email, push, nil
}

// ReaderClicks returns a reader's kept clicks, newest first.
func (s *Store) ReaderClicks(ctx context.Context, subscriberID int64, limit int) ([]ReaderClick, error) {
	rows, err := s.db.QueryContext(ctx, s.query("ReaderClicks"), subscriberID, limit)
	if err != nil {
		return nil, fmt.Errorf("reader clicks: %w", err)
	}
	defer rows.Close()
	var out []ReaderClick
	for rows.Next() {
		c := ReaderClick{SubscriberID: subscriberID}
		var scanner int64
		var at sql.NullInt64
		if err := rows.Scan(&c.RunID, &c.AlertID, &c.ArticleID, &scanner, &at); err != nil {
			return nil, fmt.Errorf("reader clicks: %w", err)
		}
		c.Scanner, c.At = scanner != 0, fromMS(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// insertClickers inserts a scope's clickers' hashes, 300 rows a statement,
// and returns how many were new.
func (s *Store) insertClickers(ctx context.Context, tx *sql.Tx, sc ClickScope, hashes []string) (int64, error) {
	var added int64
	for start := 0; start < len(hashes); start += 300 {
		chunk := hashes[start:min(start+300, len(hashes))]
		var q strings.Builder
		q.WriteString("INSERT INTO click_clickers (run_id, alert_id, hash) VALUES ")
		args := make([]any, 0, 3*len(chunk))
		for i, h := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?, ?, ?)")
			args = append(args, sc.RunID, sc.AlertID, h)
		}
		q.WriteString(" ON CONFLICT DO NOTHING")
		res, err := tx.ExecContext(ctx, s.rebind(q.String()), args...)
		if err != nil {
			return added, err
		}
		n, _ := res.RowsAffected()
		added += n
	}
	return added, nil
}
