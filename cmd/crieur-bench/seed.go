package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// topicSlugs are the 8 topics every scenario seeds.
var topicSlugs = []string{"politique", "international", "economie", "sport", "culture", "sciences", "societe", "planete"}

// seeder writes rows with direct SQL, in multi-row INSERTs inside batched
// transactions: far faster than the one-row-at-a-time store methods, and
// enough to build a million readers in seconds.
type seeder struct {
	st  *store.Store
	db  *sql.DB
	rng *rand.Rand
}

func newSeeder(st *store.Store) *seeder {
	return &seeder{st: st, db: st.DB(), rng: rand.New(rand.NewPCG(1, 2))}
}

// rebind turns ? into $n for PostgreSQL.
func (s *seeder) rebind(q string) string {
	if s.st.Dialect() != store.Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// insertRows writes rows (each len(cols) values) into table, chunk rows
// per statement, txRows rows per transaction.
func (s *seeder) insertRows(ctx context.Context, table string, cols []string, rows int, row func(i int, dst []any) []any) error {
	const txRows = 20000
	chunk := max(1, 4000/len(cols))
	stmtFor := func(n int) string {
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(one)
		}
		return s.rebind(b.String())
	}
	full := stmtFor(chunk)
	args := make([]any, 0, chunk*len(cols))
	for start := 0; start < rows; start += txRows {
		end := min(start+txRows, rows)
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, full)
		if err != nil {
			tx.Rollback()
			return err
		}
		for i := start; i < end; i += chunk {
			n := min(chunk, end-i)
			args = args[:0]
			for j := range n {
				args = row(i+j, args)
			}
			if n == chunk {
				_, err = stmt.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, stmtFor(n), args...)
			}
			if err != nil {
				stmt.Close()
				tx.Rollback()
				return fmt.Errorf("seed %s: %w", table, err)
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("seed %s: %w", table, err)
		}
	}
	return nil
}

// topics creates the 8 topics and returns their ids in topicSlugs order.
func (s *seeder) topics(ctx context.Context) ([]int64, error) {
	ids := make([]int64, len(topicSlugs))
	for i, slug := range topicSlugs {
		t, err := s.st.CreateTopic(ctx, slug, strings.ToUpper(slug[:1])+slug[1:])
		if err != nil {
			return nil, err
		}
		ids[i] = t.ID
	}
	return ids, nil
}

// subscribers writes n confirmed daily readers with ids 1..n (the database
// must have none), each following 2 to 4 of the topics, 80% in French.
func (s *seeder) subscribers(ctx context.Context, n int, topicIDs []int64) error {
	now := time.Now().Add(-48 * time.Hour).UnixMilli()
	err := s.insertRows(ctx, "subscribers",
		[]string{"id", "email", "status", "frequency", "lang", "alerts", "paused", "digest_cursor", "created_at", "confirmed_at", "updated_at"},
		n, func(i int, dst []any) []any {
			lang := news.French
			if i%5 == 4 {
				lang = news.English
			}
			return append(dst, int64(i+1), "reader"+strconv.Itoa(i+1)+"@example.org", string(news.Confirmed), string(news.Daily),
				string(lang), int64(1), int64(0), int64(0), now, now, now)
		})
	if err != nil {
		return err
	}
	// 2 to 4 distinct topics per reader.
	type pair struct{ sub, topic int64 }
	var pairs []pair
	perm := make([]int, len(topicIDs))
	for i := range n {
		k := 2 + s.rng.IntN(3)
		for j := range perm {
			perm[j] = j
		}
		for j := range k {
			r := j + s.rng.IntN(len(perm)-j)
			perm[j], perm[r] = perm[r], perm[j]
			pairs = append(pairs, pair{int64(i + 1), topicIDs[perm[j]]})
		}
		if len(pairs) >= 200000 || i == n-1 {
			err := s.insertRows(ctx, "subscriber_topics", []string{"subscriber_id", "topic_id"}, len(pairs),
				func(i int, dst []any) []any { return append(dst, pairs[i].sub, pairs[i].topic) })
			if err != nil {
				return err
			}
			pairs = pairs[:0]
		}
	}
	return s.fixSequence(ctx, "subscribers")
}

// fixSequence moves a PostgreSQL identity past the ids written by hand.
func (s *seeder) fixSequence(ctx context.Context, table string) error {
	if s.st.Dialect() != store.Postgres {
		return nil
	}
	_, err := s.db.ExecContext(ctx, "SELECT setval(pg_get_serial_sequence('"+table+"', 'id'), (SELECT MAX(id) FROM "+table+"))")
	return err
}

// articles saves n articles published over the last 20 hours through the
// store (as the feed poller does), each in one topic, every fifth in two.
func (s *seeder) articles(ctx context.Context, n int) error {
	now := time.Now()
	for i := range n {
		topics := []string{topicSlugs[i%len(topicSlugs)]}
		if i%5 == 0 {
			topics = append(topics, topicSlugs[(i+3)%len(topicSlugs)])
		}
		a := news.Article{
			GUID:  "bench-" + strconv.Itoa(i),
			URL:   "https://news.example.com/articles/" + strconv.Itoa(i) + "-un-titre-assez-long-pour-une-url-realiste",
			Title: fmt.Sprintf("Article %d : un titre de longueur habituelle pour un quotidien en ligne", i),
			Summary: "Un chapeau de deux phrases qui résume l'article et donne envie de le lire. " +
				"Il fait à peu près la longueur de ceux qu'écrivent les rédactions.",
			ImageURL:    "https://news.example.com/images/" + strconv.Itoa(i) + ".jpg",
			Author:      "Jeanne Dupont",
			Topics:      topics,
			PublishedAt: now.Add(-time.Duration(n-i) * 20 * time.Hour / time.Duration(n)),
			CreatedAt:   now.Add(-time.Duration(n-i) * 20 * time.Hour / time.Duration(n)),
		}
		if _, _, err := s.st.SaveArticle(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// pushSubscriptions writes n browser subscriptions with endpoints on the
// stub at origin, following no topic (they get every alert). Keys cycle
// through keys, real P-256 public keys and auth secrets.
func (s *seeder) pushSubscriptions(ctx context.Context, n int, origin string, keys [][2]string) error {
	now := time.Now().UnixMilli()
	err := s.insertRows(ctx, "push_subscriptions", []string{"id", "endpoint", "p256dh", "auth", "lang", "created_at", "updated_at"},
		n, func(i int, dst []any) []any {
			k := keys[i%len(keys)]
			return append(dst, int64(i+1), origin+"/push/"+strconv.Itoa(i+1), k[0], k[1], string(news.French), now, now)
		})
	if err != nil {
		return err
	}
	return s.fixSequence(ctx, "push_subscriptions")
}
