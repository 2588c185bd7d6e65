package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// FeedState is what is remembered of a polled feed.
type FeedState struct {
	URL          string
	ETag         string
	LastModified string
	LastPolledAt time.Time
	NextPollAt   time.Time
	LastError    string
	Failures     int
	Items        int
}

func scanFeed(r rowScanner) (FeedState, error) {
	var f FeedState
	var polled, next sql.NullInt64
	err := r.Scan(&f.URL, &f.ETag, &f.LastModified, &polled, &next, &f.LastError, &f.Failures, &f.Items)
	f.LastPolledAt, f.NextPollAt = fromMS(polled), fromMS(next)
	return f, err
}

// LeaseFeed gives holder the right to poll url until until, when the feed
// is due and nobody else holds an unexpired lease: several instances
// sharing a database poll each feed once.
func (s *Store) LeaseFeed(ctx context.Context, url, holder string, now, until time.Time) (FeedState, bool, error) {
	if _, err := s.db.ExecContext(ctx, s.query("InsertFeed"), url); err != nil {
		return FeedState{}, false, fmt.Errorf("lease feed: %w", err)
	}
	res, err := s.db.ExecContext(ctx, s.query("FeedLease"), holder, ms(until), url, ms(now), ms(now), holder)
	if err != nil {
		return FeedState{}, false, fmt.Errorf("lease feed: %w", err)
	}
	n, _ := res.RowsAffected()
	st, err := s.Feed(ctx, url)
	return st, n > 0, err
}

// Feed returns the state of one feed.
func (s *Store) Feed(ctx context.Context, url string) (FeedState, error) {
	st, err := scanFeed(s.db.QueryRowContext(ctx, s.query("GetFeed"), url))
	if errors.Is(err, sql.ErrNoRows) {
		return st, ErrNotFound
	}
	if err != nil {
		return st, fmt.Errorf("get feed: %w", err)
	}
	return st, nil
}

// AddFeed registers a feed to poll.
func (s *Store) AddFeed(ctx context.Context, url string) error {
	if _, err := s.db.ExecContext(ctx, s.query("InsertFeed"), url); err != nil {
		return fmt.Errorf("add feed: %w", err)
	}
	return nil
}

// RemoveFeed forgets a feed (its articles stay).
func (s *Store) RemoveFeed(ctx context.Context, url string) error {
	if _, err := s.db.ExecContext(ctx, s.query("DeleteFeed"), url); err != nil {
		return fmt.Errorf("remove feed: %w", err)
	}
	return nil
}

// PollFeedSoon makes a feed due now.
func (s *Store) PollFeedSoon(ctx context.Context, url string) error {
	res, err := s.db.ExecContext(ctx, s.query("FeedDueNow"), url)
	if err != nil {
		return fmt.Errorf("poll feed: %w", err)
	}
	// Only a known feed is polled: a poll of any URL would add it (the
	// poller's lease creates the row of a configured feed).
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrNotFound
	}
	return nil
}

// SaveFeedState records a poll's outcome and releases the lease.
func (s *Store) SaveFeedState(ctx context.Context, url string, st FeedState) error {
	_, err := s.db.ExecContext(ctx, s.query("SaveFeed"), st.ETag, st.LastModified, nullMS(st.LastPolledAt), ms(st.NextPollAt), st.LastError, st.Failures, st.Items, url)
	if err != nil {
		return fmt.Errorf("save feed state: %w", err)
	}
	return nil
}

// Feeds lists every known feed with its health.
func (s *Store) Feeds(ctx context.Context) ([]FeedState, error) {
	rows, err := s.db.QueryContext(ctx, s.query("ListFeeds"))
	if err != nil {
		return nil, fmt.Errorf("list feeds: %w", err)
	}
	defer rows.Close()
	var out []FeedState
	for rows.Next() {
		f, err := scanFeed(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}
