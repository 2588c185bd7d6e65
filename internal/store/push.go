package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
			if err := tx.QueryRowContext(ctx, s.query("InsertPush"), ps.Endpoint, ps.P256dh, ps.Auth, string(ps.Lang), ms(now), ms(now),
				ps.Timezone, ps.QuietFrom, ps.QuietTo, ps.MaxPerDay).Scan(&id); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if _, err := tx.ExecContext(ctx, s.query("UpdatePush"), ps.P256dh, ps.Auth, string(ps.Lang), ms(now),
				ps.Timezone, ps.QuietFrom, ps.QuietTo, ps.MaxPerDay, id); err != nil {
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

// PushTarget is a claimed push message with what sending it needs: a
// queued row (DeliveryID, a retry) or a browser of a claimed window
// (WindowID, see migration 0008).
type PushTarget struct {
	DeliveryID int64
	WindowID   int64
	// Claim is the row's or window's claim number, which recording the
	// outcome must match.
	Claim   int
	AlertID int64
	// SubscriptionID is 0 when a queued row's subscription was deleted; a
	// window's browser keeps its id and comes back without an endpoint.
	SubscriptionID int64
	Endpoint       string
	P256dh, Auth   string
	Attempts       int
	// Refusals is the subscription's count of refused alerts in a row when
	// it was claimed (see RecordPushRefusal).
	Refusals int
	// Timing is the browser's zone, quiet hours and daily cap.
	Timing PushTiming
}

// PushTiming is when a browser takes alerts: its IANA zone ("" for the
// daemon's), its quiet hours in minutes after local midnight (From == To:
// none) and its daily cap of alerts (0: none).
type PushTiming struct {
	Timezone           string
	QuietFrom, QuietTo int
	MaxPerDay          int
}

// parseTiming reads PushKeys' zone|from|to|cap.
func parseTiming(s string) PushTiming {
	var tm PushTiming
	f := strings.Split(s, "|")
	if len(f) != 4 {
		return tm
	}
	tm.Timezone = f[0]
	tm.QuietFrom, _ = strconv.Atoi(f[1])
	tm.QuietTo, _ = strconv.Atoi(f[2])
	tm.MaxPerDay, _ = strconv.Atoi(f[3])
	return tm
}

// Plain reports whether the browser takes every alert at once: no quiet
// hours, no cap.
func (p PushTiming) Plain() bool { return p.QuietFrom == p.QuietTo && p.MaxPerDay == 0 }

// Outcome fills in r what RecordPush needs to know of the message t.
func (t PushTarget) Outcome(r Result) Result {
	r.Key, r.AlertID = t.ClaimKey(), t.AlertID
	r.SubscriptionID, r.Attempts = t.SubscriptionID, t.Attempts
	return r
}

// ClaimKey names the claim t is held under: its queued row's, or its
// window's (a window's messages share one lease and one claim number).
func (t PushTarget) ClaimKey() news.ClaimKey {
	if t.WindowID != 0 {
		return news.ClaimKey{Kind: news.ClaimPushWindow, ID: t.WindowID, Claim: t.Claim}
	}
	return news.ClaimKey{Kind: news.ClaimPush, ID: t.DeliveryID, Claim: t.Claim}
}

// ClaimPush takes about limit due push messages for owner: queued rows
// (retries) first, then whole windows, so a claim may return up to
// PushWindowSize-1 more than limit.
func (s *Store) ClaimPush(ctx context.Context, owner string, now time.Time, limit int) ([]PushTarget, error) {
	out, err := s.claimPushRows(ctx, owner, now, limit)
	if err != nil {
		return nil, err
	}
	// Windows are full but for the last of each enqueued range: claim as
	// many as limit would fill, then more while they come short.
	for left := limit - len(out); left > 0; left = limit - len(out) {
		ws, err := s.claimPushWindows(ctx, owner, now, (left+PushWindowSize-1)/PushWindowSize)
		if err != nil {
			return nil, err
		}
		if len(ws) == 0 {
			break
		}
		out = append(out, ws...)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, s.pushKeys(ctx, out)
}

func (s *Store) claimPushRows(ctx context.Context, owner string, now time.Time, limit int) ([]PushTarget, error) {
	st, err := s.stmt(ctx, "ClaimPush")
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, ms(now), owner, ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim push: %w", err)
	}
	defer rows.Close()
	var out []PushTarget
	for rows.Next() {
		var t PushTarget
		var sub sql.NullInt64
		if err := rows.Scan(&t.DeliveryID, &t.AlertID, &sub, &t.Attempts, &t.Claim); err != nil {
			return nil, fmt.Errorf("claim push: %w", err)
		}
		t.SubscriptionID = sub.Int64
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim push: %w", err)
	}
	return out, nil
}

// claimPushWindows claims up to n windows and returns their browsers not
// yet handled.
func (s *Store) claimPushWindows(ctx context.Context, owner string, now time.Time, n int) ([]PushTarget, error) {
	st, err := s.stmt(ctx, "ClaimPushWindows")
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, ms(now), owner, n)
	if err != nil {
		return nil, fmt.Errorf("claim push windows: %w", err)
	}
	defer rows.Close()
	var out []PushTarget
	for rows.Next() {
		var w PushTarget
		var subs, done string
		if err := rows.Scan(&w.WindowID, &w.AlertID, &subs, &done, &w.Claim, &w.Attempts); err != nil {
			return nil, fmt.Errorf("claim push windows: %w", err)
		}
		var handled map[int64]bool
		if done != "" {
			handled = map[int64]bool{}
			for _, id := range splitIDs(strings.TrimPrefix(done, ",")) {
				handled[id] = true
			}
		}
		for _, id := range splitIDs(subs) {
			if !handled[id] {
				t := w
				t.SubscriptionID = id
				out = append(out, t)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim push windows: %w", err)
	}
	return out, nil
}

// pushKeys fills in the endpoint and keys of claimed messages, with one
// query for the batch.
func (s *Store) pushKeys(ctx context.Context, out []PushTarget) error {
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
		return nil
	}
	kst, err := s.stmt(ctx, "PushKeys")
	if err != nil {
		return err
	}
	krows, err := kst.QueryContext(ctx, s.idList(ids))
	if err != nil {
		return fmt.Errorf("claim push keys: %w", err)
	}
	defer krows.Close()
	for krows.Next() {
		var id int64
		var ep, p, a string
		var refusals int
		var timing sql.NullString
		if err := krows.Scan(&id, &ep, &p, &a, &refusals, &timing); err != nil {
			return fmt.Errorf("claim push keys: %w", err)
		}
		var tm PushTiming
		if timing.Valid {
			tm = parseTiming(timing.String)
		}
		for _, i := range byID[id] {
			out[i].Endpoint, out[i].P256dh, out[i].Auth, out[i].Refusals, out[i].Timing = ep, p, a, refusals, tm
		}
	}
	return krows.Err()
}

// ReleasePushWindows returns to the queue the windows owner still holds,
// with their browsers not yet handled. Call it once every outcome of
// owner's messages is recorded (at shutdown).
func (s *Store) ReleasePushWindows(ctx context.Context, owner string) error {
	if _, err := s.db.ExecContext(ctx, s.query("ReleasePushWindows"), owner); err != nil {
		return fmt.Errorf("release push windows: %w", err)
	}
	return nil
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
