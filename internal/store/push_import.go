package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// PushImport is one checked browser subscription moved in from another
// push service.
type PushImport struct {
	Sub      news.PushSubscription
	TopicIDs []int64
	// CreatedAt is when the reader subscribed at the old service; zero
	// means now.
	CreatedAt time.Time
}

// pushImportChunk bounds one statement's rows: 200 rows of 6 values stay
// far under either dialect's parameter limit, and make 100,000 rows a few
// hundred statements rather than a few hundred thousand round trips.
const pushImportChunk = 200

// ImportPushBatch writes rows in one transaction and reports how many were
// new. A known endpoint is updated as POST /api/v1/push/subscriptions
// updates it (keys, language, topics replaced) and keeps its created_at.
// Endpoints must be distinct within rows (PostgreSQL refuses to update one
// row twice in a statement).
func (s *Store) ImportPushBatch(ctx context.Context, rows []PushImport, now time.Time) (created int, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(rows); start += pushImportChunk {
			n, err := s.importPushChunk(ctx, tx, rows[start:min(start+pushImportChunk, len(rows))], now)
			if err != nil {
				return err
			}
			created += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("import push subscriptions: %w", err)
	}
	return created, nil
}

func (s *Store) importPushChunk(ctx context.Context, tx *sql.Tx, rows []PushImport, now time.Time) (int, error) {
	// Which endpoints are known decides what "created" counts; both
	// dialects can say it this way (RETURNING cannot tell an insert from
	// an update on SQLite).
	var b strings.Builder
	args := make([]any, 0, len(rows)*6)
	b.WriteString("SELECT endpoint FROM push_subscriptions WHERE endpoint IN (")
	for i, r := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('?')
		args = append(args, r.Sub.Endpoint)
	}
	b.WriteByte(')')
	known := map[string]bool{}
	q, err := tx.QueryContext(ctx, s.rebind(b.String()), args...)
	if err != nil {
		return 0, err
	}
	for q.Next() {
		var ep string
		if err := q.Scan(&ep); err != nil {
			q.Close()
			return 0, err
		}
		known[ep] = true
	}
	if err := q.Close(); err != nil {
		return 0, err
	}

	b.Reset()
	args = args[:0]
	b.WriteString("INSERT INTO push_subscriptions (endpoint, p256dh, auth, lang, created_at, updated_at) VALUES ")
	for i, r := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?, ?, ?, ?, ?, ?)")
		at := r.CreatedAt
		if at.IsZero() || at.After(now) {
			at = now
		}
		args = append(args, r.Sub.Endpoint, r.Sub.P256dh, r.Sub.Auth, string(r.Sub.Lang), ms(at), ms(now))
	}
	b.WriteString(" ON CONFLICT (endpoint) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth, lang = excluded.lang, updated_at = excluded.updated_at RETURNING id, endpoint")
	q, err = tx.QueryContext(ctx, s.rebind(b.String()), args...)
	if err != nil {
		return 0, err
	}
	ids := make(map[string]int64, len(rows))
	for q.Next() {
		var id int64
		var ep string
		if err := q.Scan(&id, &ep); err != nil {
			q.Close()
			return 0, err
		}
		ids[ep] = id
	}
	if err := q.Close(); err != nil {
		return 0, err
	}

	// Topics are replaced on a known endpoint, as the API replaces them.
	var replaced []int64
	for ep := range known {
		replaced = append(replaced, ids[ep])
	}
	if err := s.execIn(ctx, tx, "DELETE FROM push_subscription_topics WHERE subscription_id", nil, replaced); err != nil {
		return 0, err
	}
	pairs := make([]any, 0, 2*len(rows))
	for _, r := range rows {
		for _, t := range r.TopicIDs {
			pairs = append(pairs, ids[r.Sub.Endpoint], t)
		}
	}
	// 500 pairs a statement: a reader may follow many topics.
	for start := 0; start < len(pairs); start += 1000 {
		chunk := pairs[start:min(start+1000, len(pairs))]
		q := "INSERT INTO push_subscription_topics (subscription_id, topic_id) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?),", len(chunk)/2), ",") + " ON CONFLICT DO NOTHING"
		if _, err := tx.ExecContext(ctx, s.rebind(q), chunk...); err != nil {
			return 0, err
		}
	}
	return len(rows) - len(known), nil
}
