package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// AutoRule says what a topic or a feed does with new articles: mode off,
// draft or send, the least time between two of its automatic alerts, and
// the oldest article it raises one for (0: any).
type AutoRule struct {
	ID          int64
	Topic       string // a topic's slug, or
	Feed        string // a feed's URL
	Mode        string
	MinInterval time.Duration
	MaxAge      time.Duration
	LastAlertAt time.Time
}

// SetAutoRule creates or replaces the rule of r.Topic or r.Feed.
// ErrNotFound: no such topic or feed.
func (s *Store) SetAutoRule(ctx context.Context, r AutoRule) error {
	args := []any{r.Mode, int64(r.MinInterval / time.Second), int64(r.MaxAge / time.Second)}
	var q string
	if r.Topic != "" {
		ids, unknown, err := s.TopicIDs(ctx, []string{r.Topic})
		if err != nil {
			return err
		}
		if len(unknown) > 0 {
			return ErrNotFound
		}
		q, args = "UpsertTopicRule", append([]any{ids[0]}, args...)
	} else {
		if _, err := s.Feed(ctx, r.Feed); err != nil {
			return err
		}
		q, args = "UpsertFeedRule", append([]any{r.Feed}, args...)
	}
	if _, err := s.db.ExecContext(ctx, s.query(q), args...); err != nil {
		return fmt.Errorf("set automatic alert rule: %w", err)
	}
	return nil
}

// AutoRules lists every rule.
func (s *Store) AutoRules(ctx context.Context) ([]AutoRule, error) {
	rows, err := s.db.QueryContext(ctx, s.query("AutoRules"))
	if err != nil {
		return nil, fmt.Errorf("automatic alert rules: %w", err)
	}
	defer rows.Close()
	var out []AutoRule
	for rows.Next() {
		var r AutoRule
		var every, age, last int64
		if err := rows.Scan(&r.ID, &r.Topic, &r.Feed, &r.Mode, &every, &age, &last); err != nil {
			return nil, fmt.Errorf("automatic alert rules: %w", err)
		}
		r.MinInterval, r.MaxAge = time.Duration(every)*time.Second, time.Duration(age)*time.Second
		if last > 0 {
			r.LastAlertAt = time.UnixMilli(last)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// UnseenArticles returns up to limit articles the automatic-alert rules
// have not looked at yet, oldest first, with their topics, breaking flag
// and feed.
func (s *Store) UnseenArticles(ctx context.Context, limit int) ([]news.Article, error) {
	rows, err := s.db.QueryContext(ctx, s.query("UnseenArticles"), limit)
	if err != nil {
		return nil, fmt.Errorf("unseen articles: %w", err)
	}
	defer rows.Close()
	var out []news.Article
	for rows.Next() {
		var a news.Article
		var pub, created, breaking int64
		var slug string
		if err := rows.Scan(&a.ID, &a.URL, &a.Title, &a.Summary, &a.ImageURL, &pub, &created, &breaking, &a.Feed, &slug); err != nil {
			return nil, fmt.Errorf("unseen articles: %w", err)
		}
		if n := len(out); n > 0 && out[n-1].ID == a.ID {
			out[n-1].Topics = append(out[n-1].Topics, slug)
			continue
		}
		a.PublishedAt, a.CreatedAt, a.Breaking = time.UnixMilli(pub), time.UnixMilli(created), breaking != 0
		if slug != "" {
			a.Topics = []string{slug}
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// RaiseAutoAlert settles one unseen article: it is marked seen and, when
// alert is not nil and every rule in throttle allows one more automatic
// alert now (its interval passed; each then counts this one), alert is
// created. Several instances may settle the same article: one does, the
// others get raised=false. id is the alert's, when raised.
func (s *Store) RaiseAutoAlert(ctx context.Context, articleID int64, alert *news.Alert, topicIDs []int64, throttle []AutoRule, now time.Time) (id int64, raised bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.query("MarkArticleSeen"), articleID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 || alert == nil {
			return nil
		}
		for _, r := range throttle {
			res, err := tx.ExecContext(ctx, s.query("TakeAutoInterval"), ms(now), r.ID, ms(now.Add(-r.MinInterval)))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				// Too soon after this rule's last alert: roll back the
				// other rules' intervals taken above.
				return errTooSoon
			}
		}
		id, err = s.insertAlert(ctx, tx, *alert, topicIDs)
		raised = err == nil
		return err
	})
	if errors.Is(err, errTooSoon) {
		// Only the article is marked seen.
		_, err = s.db.ExecContext(ctx, s.query("MarkArticleSeen"), articleID)
		if err != nil {
			return 0, false, fmt.Errorf("mark article seen: %w", err)
		}
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("raise automatic alert: %w", err)
	}
	return id, raised, nil
}

// errTooSoon rolls back a RaiseAutoAlert whose rule interval has not
// passed.
var errTooSoon = errors.New("automatic alert too soon after the last")
