package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// RevokeLinks moves subscriber id's link generation on, so that every link
// signed before stops working (but unsubscribing, see subscribe.Lookup),
// and returns the new generation; ErrNotFound if there is no such
// subscriber.
func (s *Store) RevokeLinks(ctx context.Context, id int64, now time.Time) (int64, error) {
	var gen int64
	err := s.db.QueryRowContext(ctx, s.query("RevokeLinks"), ms(now), id).Scan(&gen)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("revoke links: %w", err)
	}
	return gen, nil
}

// EnqueueLinks queues an email carrying subscriber id's preference link,
// built when it goes out so that it holds the links of that moment.
func (s *Store) EnqueueLinks(ctx context.Context, id int64, now time.Time) error {
	if err := s.insertDelivery(ctx, s.db, news.MailLinks, id, now); err != nil {
		return fmt.Errorf("enqueue preference link: %w", err)
	}
	return nil
}
