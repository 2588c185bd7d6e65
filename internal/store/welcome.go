package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// welcomeSetting is the settings key of the welcome email's switch.
const welcomeSetting = "welcome_enabled"

// WelcomeText is the welcome email's words in one language (TopicID 0),
// or the paragraph a topic adds to it.
type WelcomeText struct {
	TopicID int64
	Lang    news.Lang
	Subject string
	Body    string
}

// WelcomeEnabled reports whether confirmed readers get a welcome email.
func (s *Store) WelcomeEnabled(ctx context.Context) (bool, error) {
	v, err := s.Setting(ctx, welcomeSetting)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return v == "true", err
}

// SetWelcome saves the welcome email's switch and its texts at once.
func (s *Store) SetWelcome(ctx context.Context, enabled bool, texts []WelcomeText, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		v := "false"
		if enabled {
			v = "true"
		}
		if _, err := tx.ExecContext(ctx, s.query("PutSetting"), welcomeSetting, v); err != nil {
			return err
		}
		for _, t := range texts {
			if _, err := tx.ExecContext(ctx, s.query("PutWelcomeText"), t.TopicID, string(t.Lang), t.Subject, t.Body, ms(now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save welcome email: %w", err)
	}
	return nil
}

// WelcomeTexts lists every stored welcome text.
func (s *Store) WelcomeTexts(ctx context.Context) ([]WelcomeText, error) {
	rows, err := s.db.QueryContext(ctx, s.query("ListWelcomeTexts"))
	if err != nil {
		return nil, fmt.Errorf("welcome texts: %w", err)
	}
	defer rows.Close()
	var out []WelcomeText
	for rows.Next() {
		var t WelcomeText
		var lang string
		if err := rows.Scan(&t.TopicID, &lang, &t.Subject, &t.Body); err != nil {
			return nil, err
		}
		t.Lang = news.Lang(lang)
		out = append(out, t)
	}
	return out, rows.Err()
}

// WelcomeFor returns the welcome email's text in lang and the paragraphs
// the reader's topics add (in the order of their slugs).
func (s *Store) WelcomeFor(ctx context.Context, subscriberID int64, lang news.Lang) (WelcomeText, []string, error) {
	t := WelcomeText{Lang: lang}
	err := s.db.QueryRowContext(ctx, s.query("GetWelcomeText"), 0, string(lang)).Scan(&t.Subject, &t.Body)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return t, nil, fmt.Errorf("welcome text: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.query("WelcomeTopicTexts"), subscriberID, string(lang))
	if err != nil {
		return t, nil, fmt.Errorf("welcome topic texts: %w", err)
	}
	defer rows.Close()
	var paras []string
	for rows.Next() {
		var slug, body string
		if err := rows.Scan(&slug, &body); err != nil {
			return t, nil, err
		}
		paras = append(paras, body)
	}
	return t, paras, rows.Err()
}

// queueWelcome queues the welcome email of reader id in tx (the
// transaction that confirms them) when the welcome email is on.
func (s *Store) queueWelcome(ctx context.Context, tx *sql.Tx, id int64, now time.Time) error {
	var v string
	err := tx.QueryRowContext(ctx, s.query("GetSetting"), welcomeSetting).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) || err == nil && v != "true" {
		return nil
	}
	if err != nil {
		return err
	}
	return s.insertDelivery(ctx, tx, news.MailWelcome, id, now)
}
