package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// AllZones, as a zone of a zoned run, takes the readers of every zone
// without reading or moving their ledger: a "run now" while digests are
// sent at each reader's hour.
const AllZones = "*"

// CreateZonedRun creates the run of one slot of local digests
// (CRIEUR_DIGEST_LOCAL): frequency f at the instant at, for the readers of
// zones (zone name, "" for CRIEUR_TIMEZONE, to the wall time of that
// zone's firing as WallKey gives it; AllZones with key 0 for everyone).
// Several instances firing the same slot get one run; unlike CreateRun,
// it may be open beside other zoned runs of f (migration 0016).
func (s *Store) CreateZonedRun(ctx context.Context, f news.Frequency, at time.Time, zones map[string]int64, createdBy string) (id int64, created bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var maxID int64
		if err := tx.QueryRowContext(ctx, s.query("MaxArticleID")).Scan(&maxID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.query("InsertZonedRun"), string(f), ms(at), maxID, createdBy, ms(time.Now()))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		created = n > 0
		if err := tx.QueryRowContext(ctx, s.query("RunByKey"), string(f), ms(at)).Scan(&id); err != nil {
			return err
		}
		if !created {
			return nil
		}
		for zone, key := range zones {
			if _, err := tx.ExecContext(ctx, s.query("InsertRunZone"), id, zone, key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("create zoned digest run: %w", err)
	}
	return id, created, nil
}

// DigestZones returns the zones the confirmed, unpaused readers of f live
// in ("" for those who chose none: CRIEUR_TIMEZONE).
func (s *Store) DigestZones(ctx context.Context, f news.Frequency) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.query("DigestZones"), string(f))
	if err != nil {
		return nil, fmt.Errorf("digest zones: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var z string
		if err := rows.Scan(&z); err != nil {
			return nil, fmt.Errorf("digest zones: %w", err)
		}
		out = append(out, z)
	}
	sort.Strings(out)
	return out, rows.Err()
}

// EligibleZonedBatch is EligibleBatch for a zoned run: up to limit readers
// of the run's zones, above afterID in id order, whose ledger is below
// their zone's firing, each with that firing as Key. A run of AllZones
// takes every eligible reader, with Key 0.
func (s *Store) EligibleZonedBatch(ctx context.Context, run RunInfo, afterID int64, limit int) ([]Eligible, error) {
	var all int
	if err := s.db.QueryRowContext(ctx, s.query("RunHasZone"), run.ID, AllZones).Scan(&all); err != nil {
		return nil, fmt.Errorf("eligible subscribers: %w", err)
	}
	if all > 0 {
		return s.EligibleBatch(ctx, run.Frequency, afterID, limit)
	}
	rows, err := s.db.QueryContext(ctx, s.query("EligibleZonedBatch"), string(run.Frequency), afterID, run.ID, limit)
	if err != nil {
		return nil, fmt.Errorf("eligible subscribers: %w", err)
	}
	defer rows.Close()
	var out []Eligible
	for rows.Next() {
		var id, cursor, key int64
		var topic sql.NullInt64
		if err := rows.Scan(&id, &cursor, &key, &topic); err != nil {
			return nil, fmt.Errorf("eligible subscribers: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].ID != id {
			out = append(out, Eligible{ID: id, Cursor: cursor, Key: key})
		}
		if topic.Valid {
			e := &out[len(out)-1]
			e.TopicIDs = append(e.TopicIDs, topic.Int64)
		}
	}
	return out, rows.Err()
}

// EnqueueZonedBatch is EnqueueDigestBatch for a zoned run, where other
// runs of the frequency may be enqueuing at once: a reader of seen is
// taken only if their cursor is still the one they were read with and
// their ledger still below the run's key for them, both moved in the same
// statement; the deliveries of readers another run took are dropped. ok
// is false, and nothing written, when another instance wrote the batch.
func (s *Store) EnqueueZonedBatch(ctx context.Context, run RunInfo, prevAfter, lastID int64, items []DigestItem, seen []Eligible, now time.Time) (ok bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.query("AdvanceRun"), lastID, 0, 0, run.ID, prevAfter)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		ok = true
		taken, err := s.takeReaders(ctx, tx, run.MaxArticleID, seen)
		if err != nil {
			return err
		}
		kept := make([]DigestItem, 0, len(items))
		for _, it := range items {
			if taken[it.SubscriberID] {
				kept = append(kept, it)
			}
		}
		if err := s.insertDigestDeliveries(ctx, tx, run.ID, kept, now); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.query("AddRunRecipients"), len(taken), len(taken)-len(kept), run.ID)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("enqueue zoned digest batch: %w", err)
	}
	return ok, nil
}

// takeReaders moves the cursor (to maxID) and the ledger (to Key, when
// not 0) of the readers of seen no other run moved since they were read,
// and returns them. Readers read together mostly share a cursor and a key:
// one statement per pair.
func (s *Store) takeReaders(ctx context.Context, tx *sql.Tx, maxID int64, seen []Eligible) (map[int64]bool, error) {
	type group struct{ cursor, key int64 }
	groups := map[group][]int64{}
	for _, e := range seen {
		g := group{e.Cursor, e.Key}
		groups[g] = append(groups[g], e.ID)
	}
	taken := make(map[int64]bool, len(seen))
	for g, ids := range groups {
		for start := 0; start < len(ids); start += 500 {
			chunk := ids[start:min(start+500, len(ids))]
			var b strings.Builder
			// The casts let PostgreSQL type the parameters as the columns.
			b.WriteString(`UPDATE subscribers SET digest_cursor = CASE WHEN digest_cursor < CAST(? AS BIGINT) THEN CAST(? AS BIGINT) ELSE digest_cursor END,
    digest_key = CASE WHEN digest_key < CAST(? AS BIGINT) THEN CAST(? AS BIGINT) ELSE digest_key END
WHERE digest_cursor = CAST(? AS BIGINT) AND (CAST(? AS BIGINT) = 0 OR digest_key < CAST(? AS BIGINT)) AND id IN (`)
			args := []any{maxID, maxID, g.key, g.key, g.cursor, g.key, g.key}
			for i, id := range chunk {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteByte('?')
				args = append(args, id)
			}
			b.WriteString(") RETURNING id")
			rows, err := tx.QueryContext(ctx, s.rebind(b.String()), args...)
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return nil, err
				}
				taken[id] = true
			}
			if err := errors.Join(rows.Err(), rows.Close()); err != nil {
				return nil, err
			}
		}
	}
	return taken, nil
}
