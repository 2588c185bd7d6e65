package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// SavePushSubscription stores a browser's subscription, replacing its keys
// and topics when the endpoint is known (created=false).
func (s *Store) SavePushSubscription(ctx context.Context, ps news.PushSubscription, topicIDs []int64, now time.Time) (id int64, created bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.query("PushByEndpoint"), ps.Endpoint).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
			if err := tx.QueryRowContext(ctx, s.query("InsertPush"), ps.Endpoint, ps.P256dh, ps.Auth, string(ps.Lang), ms(now), ms(now)).Scan(&id); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if _, err := tx.ExecContext(ctx, s.query("UpdatePush"), ps.P256dh, ps.Auth, string(ps.Lang), ms(now), id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.query("DeletePushTopics"), id); err != nil {
				return err
			}
		}
		for _, t := range topicIDs {
			if _, err := tx.ExecContext(ctx, s.query("InsertPushTopic"), id, t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("save push subscription: %w", err)
	}
	return id, created, nil
}

// DeletePushSubscription removes a subscription by endpoint.
func (s *Store) DeletePushSubscription(ctx context.Context, endpoint string) error {
	if _, err := s.db.ExecContext(ctx, s.query("DeletePushByEndpoint"), endpoint); err != nil {
		return fmt.Errorf("delete push subscription: %w", err)
	}
	return nil
}

// DeletePushSubscriptionByID removes a subscription the push service said
// is gone (404/410).
func (s *Store) DeletePushSubscriptionByID(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, s.query("DeletePushByID"), id); err != nil {
		return fmt.Errorf("delete push subscription: %w", err)
	}
	return nil
}

// PushTarget is a claimed push message with what sending it needs.
type PushTarget struct {
	DeliveryID     int64
	AlertID        int64
	SubscriptionID int64 // 0 when the subscription was deleted meanwhile
	Endpoint       string
	P256dh, Auth   string
	Attempts       int
}

// ClaimPush takes up to limit due push messages for owner.
func (s *Store) ClaimPush(ctx context.Context, owner string, now time.Time, limit int) ([]PushTarget, error) {
	st, err := s.stmt(ctx, "ClaimPush")
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, ms(now), owner, ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim push: %w", err)
	}
	var out []PushTarget
	for rows.Next() {
		var t PushTarget
		var sub sql.NullInt64
		if err := rows.Scan(&t.DeliveryID, &t.AlertID, &sub, &t.Attempts); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim push: %w", err)
		}
		t.SubscriptionID = sub.Int64
		out = append(out, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim push: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	// One query for the keys of the whole batch.
	byID := make(map[int64][]int, len(out))
	ids := make([]int64, 0, len(out))
	for i, t := range out {
		if t.SubscriptionID == 0 {
			continue
		}
		if _, ok := byID[t.SubscriptionID]; !ok {
			ids = append(ids, t.SubscriptionID)
		}
		byID[t.SubscriptionID] = append(byID[t.SubscriptionID], i)
	}
	if len(ids) == 0 {
		return out, nil
	}
	kst, err := s.stmt(ctx, "PushKeys")
	if err != nil {
		return nil, err
	}
	krows, err := kst.QueryContext(ctx, s.idList(ids))
	if err != nil {
		return nil, fmt.Errorf("claim push keys: %w", err)
	}
	defer krows.Close()
	for krows.Next() {
		var id int64
		var ep, p, a string
		if err := krows.Scan(&id, &ep, &p, &a); err != nil {
			return nil, err
		}
		for _, i := range byID[id] {
			out[i].Endpoint, out[i].P256dh, out[i].Auth = ep, p, a
		}
	}
	return out, krows.Err()
}

// PushCounts returns the number of browsers and the count per topic slug.
func (s *Store) PushCounts(ctx context.Context) (int64, map[string]int64, error) {
	var total int64
	if err := s.db.QueryRowContext(ctx, s.query("CountPush")).Scan(&total); err != nil {
		return 0, nil, fmt.Errorf("count push: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.query("PushByTopic"))
	if err != nil {
		return 0, nil, fmt.Errorf("count push: %w", err)
	}
	defer rows.Close()
	by := map[string]int64{}
	for rows.Next() {
		var slug string
		var n int64
		if err := rows.Scan(&slug, &n); err != nil {
			return 0, nil, err
		}
		by[slug] = n
	}
	return total, by, rows.Err()
}
