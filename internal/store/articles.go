package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// SaveArticle stores an article, idempotent by GUID, else by URL. It
// reports created=false when the article was already there (then nothing
// changes). Unknown topic slugs are ignored: such an article is kept but
// goes in no digest.
func (s *Store) SaveArticle(ctx context.Context, a news.Article) (int64, bool, error) {
	ids, _, err := s.TopicIDs(ctx, a.Topics)
	if err != nil {
		return 0, false, err
	}
	var id int64
	created := false
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if a.GUID != "" {
			err = tx.QueryRowContext(ctx, s.query("ArticleByGUID"), a.GUID).Scan(&id)
		} else {
			err = tx.QueryRowContext(ctx, s.query("ArticleByURL"), a.URL).Scan(&id)
		}
		if err == nil {
			if a.Breaking {
				if _, err := tx.ExecContext(ctx, s.query("ArticleNowBreaking"), a.PostedBy, id); err != nil {
					return err
				}
			}
			return s.correctArticle(ctx, tx, id, a, ids)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		guid := sql.NullString{String: a.GUID, Valid: a.GUID != ""}
		now := a.CreatedAt
		if now.IsZero() {
			now = time.Now()
		}
		if err := tx.QueryRowContext(ctx, s.query("InsertArticle"), guid, a.URL, a.Title, a.Summary, a.ImageURL, a.Author,
			ms(a.PublishedAt), ms(now), b2i(a.Breaking), a.Feed, a.PostedBy).Scan(&id); err != nil {
			return err
		}
		for _, t := range ids {
			if _, err := tx.ExecContext(ctx, s.query("InsertArticleTopic"), id, t); err != nil {
				return err
			}
		}
		created = true
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("save article: %w", err)
	}
	return id, created, nil
}

// correctArticle applies a known article's new version: a headline fixed
// in the CMS, or a feed item edited after publication, reaches every
// digest not yet sent (they read the article when they are composed). A
// digest already sent is not sent again. Nothing is written when nothing
// changed, as on most feed polls.
func (s *Store) correctArticle(ctx context.Context, tx *sql.Tx, id int64, a news.Article, topicIDs []int64) error {
	if _, err := tx.ExecContext(ctx, s.query("CorrectArticle"), a.URL, a.Title, a.Summary, a.ImageURL, a.Author, ms(a.PublishedAt),
		id, a.URL, a.Title, a.Summary, a.ImageURL, a.Author, ms(a.PublishedAt)); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, s.query("ArticleTopicIDs"), id)
	if err != nil {
		return err
	}
	var have []int64
	for rows.Next() {
		var t int64
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		have = append(have, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	want := slices.Clone(topicIDs)
	slices.Sort(want)
	want = slices.Compact(want)
	slices.Sort(have)
	if slices.Equal(have, want) {
		return nil
	}
	if _, err := tx.ExecContext(ctx, s.query("DeleteArticleTopics"), id); err != nil {
		return err
	}
	for _, t := range want {
		if _, err := tx.ExecContext(ctx, s.query("InsertArticleTopic"), id, t); err != nil {
			return err
		}
	}
	return nil
}

// MaxArticleID returns the id of the newest stored article (0 for none).
func (s *Store) MaxArticleID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.db.QueryRowContext(ctx, s.query("MaxArticleID")).Scan(&id); err != nil {
		return 0, fmt.Errorf("max article id: %w", err)
	}
	return id, nil
}

// ArticlesWindow returns the articles with afterID < id <= maxID that
// arrived since createdSince, with their topics, in id order.
func (s *Store) ArticlesWindow(ctx context.Context, afterID, maxID int64, createdSince time.Time) ([]news.Article, error) {
	return s.articles(ctx, "ArticlesWindow", afterID, maxID, ms(createdSince))
}

// Article returns one article with its topics.
func (s *Store) Article(ctx context.Context, id int64) (news.Article, error) {
	as, err := s.articles(ctx, "ArticleByID", id)
	if err != nil {
		return news.Article{}, err
	}
	if len(as) == 0 {
		return news.Article{}, ErrNotFound
	}
	return as[0], nil
}

// RecentArticles returns the articles that arrived since, newest first.
func (s *Store) RecentArticles(ctx context.Context, since time.Time) ([]news.Article, error) {
	return s.articles(ctx, "RecentArticles", ms(since))
}

func (s *Store) articles(ctx context.Context, name string, args ...any) ([]news.Article, error) {
	rows, err := s.db.QueryContext(ctx, s.query(name), args...)
	if err != nil {
		return nil, fmt.Errorf("articles: %w", err)
	}
	defer rows.Close()
	var out []news.Article
	for rows.Next() {
		var a news.Article
		var guid, slug sql.NullString
		var pub, created sql.NullInt64
		if err := rows.Scan(&a.ID, &guid, &a.URL, &a.Title, &a.Summary, &a.ImageURL, &a.Author, &pub, &created, &slug); err != nil {
			return nil, fmt.Errorf("articles: %w", err)
		}
		if n := len(out); n > 0 && out[n-1].ID == a.ID {
			if slug.Valid {
				out[n-1].Topics = append(out[n-1].Topics, slug.String)
			}
			continue
		}
		a.GUID, a.PublishedAt, a.CreatedAt = guid.String, fromMS(pub), fromMS(created)
		if slug.Valid {
			a.Topics = []string{slug.String}
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ArticlePoster returns who posted article id through the API or flagged
// it breaking since ("" for a feed's item).
func (s *Store) ArticlePoster(ctx context.Context, id int64) (string, error) {
	var by string
	err := s.db.QueryRowContext(ctx, s.query("ArticlePoster"), id).Scan(&by)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("article poster: %w", err)
	}
	return by, nil
}
