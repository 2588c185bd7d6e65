package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// CreateRun creates the digest run of a frequency for one scheduled time,
// or returns the existing one: several instances whose cron fired at the
// same tick get one run, and while a run of the frequency is unfinished,
// every request for another (a "run now" on any instance, the next tick)
// gets that run. created reports whether this call made it.
func (s *Store) CreateRun(ctx context.Context, f news.Frequency, scheduledAt time.Time, createdBy string) (id int64, created bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var maxID int64
		if err := tx.QueryRowContext(ctx, s.query("MaxArticleID")).Scan(&maxID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.query("InsertRun"), string(f), ms(scheduledAt), maxID, createdBy, ms(time.Now()))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		created = n > 0
		err = tx.QueryRowContext(ctx, s.query("RunByKey"), string(f), ms(scheduledAt)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			// Not this tick's run: a run of f is still unfinished, and a
			// second one would send its readers the same articles again.
			err = tx.QueryRowContext(ctx, s.query("OpenRunOf"), string(f)).Scan(&id)
		}
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("create digest run: %w", err)
	}
	return id, created, nil
}

// RunInfo is a digest run with what the enqueuer needs.
type RunInfo struct {
	news.DigestRun
	MaxArticleID int64
	EnqueueAfter int64
	Enqueued     bool
	// Zoned runs (CRIEUR_DIGEST_LOCAL) take the readers of their zones
	// whose ledger is below the zone's firing (EligibleZonedBatch).
	Zoned bool
}

func scanRun(r rowScanner) (RunInfo, error) {
	var ri RunInfo
	var freq, state string
	var sched, created, finished sql.NullInt64
	var enq, zoned int64
	if err := r.Scan(&ri.ID, &freq, &sched, &state, &ri.MaxArticleID, &ri.EnqueueAfter, &enq, &ri.Recipients, &ri.SkippedEmpty, &ri.Error, &created, &finished, &zoned); err != nil {
		return ri, err
	}
	ri.Frequency, ri.State, ri.Enqueued, ri.Zoned = news.Frequency(freq), news.RunState(state), enq != 0, zoned != 0
	ri.ScheduledAt, ri.CreatedAt, ri.FinishedAt = fromMS(sched), fromMS(created), fromMS(finished)
	return ri, nil
}

// Run returns a digest run with live counts.
func (s *Store) Run(ctx context.Context, id int64) (RunInfo, error) {
	ri, err := scanRun(s.db.QueryRowContext(ctx, s.query("GetRun"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return ri, ErrNotFound
	}
	if err != nil {
		return ri, fmt.Errorf("get run: %w", err)
	}
	return ri, s.fillRunCounts(ctx, &ri)
}

// fillRunCounts reads the run's outcome counts, kept by the transactions
// that record outcomes.
func (s *Store) fillRunCounts(ctx context.Context, ri *RunInfo) error {
	if err := s.db.QueryRowContext(ctx, s.query("RunCounts"), ri.ID).Scan(&ri.Sent, &ri.Failed); err != nil {
		return fmt.Errorf("run counts: %w", err)
	}
	return nil
}

// Runs lists the latest runs with their counts.
func (s *Store) Runs(ctx context.Context, limit int) ([]RunInfo, error) {
	rows, err := s.db.QueryContext(ctx, s.query("ListRuns"), limit)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var out []RunInfo
	for rows.Next() {
		ri, err := scanRun(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, ri)
	}
	rows.Close()
	for i := range out {
		if err := s.fillRunCounts(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LastScheduled returns the scheduled time of the latest run of f.
func (s *Store) LastScheduled(ctx context.Context, f news.Frequency) (time.Time, error) {
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, s.query("LastRunOf"), string(f)).Scan(&v); err != nil {
		return time.Time{}, fmt.Errorf("last run: %w", err)
	}
	return fromMS(v), nil
}

// RunsToEnqueue lists runs whose deliveries are not all written yet.
func (s *Store) RunsToEnqueue(ctx context.Context) ([]int64, error) {
	return s.ids(ctx, "RunsToEnqueue")
}

func (s *Store) ids(ctx context.Context, name string, args ...any) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, s.query(name), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// Eligible is a subscriber due a digest, as the enqueuer sees it.
type Eligible struct {
	ID       int64
	Cursor   int64
	TopicIDs []int64
	// Key is, in a zoned run, the wall time of the firing of the reader's
	// zone the run stands for (0: none, the reader's ledger is left alone).
	Key int64
}

// EligibleBatch returns up to limit subscribers of f due a digest, with id
// above afterID, in id order.
func (s *Store) EligibleBatch(ctx context.Context, f news.Frequency, afterID int64, limit int) ([]Eligible, error) {
	rows, err := s.db.QueryContext(ctx, s.query("EligibleBatch"), string(f), afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("eligible subscribers: %w", err)
	}
	defer rows.Close()
	var out []Eligible
	for rows.Next() {
		var id, cursor int64
		var topic sql.NullInt64
		if err := rows.Scan(&id, &cursor, &topic); err != nil {
			return nil, fmt.Errorf("eligible subscribers: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].ID != id {
			out = append(out, Eligible{ID: id, Cursor: cursor})
		}
		if topic.Valid {
			e := &out[len(out)-1]
			e.TopicIDs = append(e.TopicIDs, topic.Int64)
		}
	}
	return out, rows.Err()
}

// DigestItem is one digest to queue.
type DigestItem struct {
	SubscriberID int64
	Articles     []int64
	More         int
}

// EnqueueDigestBatch writes one batch of a run in one transaction: the
// deliveries, each listed subscriber's cursor (so no article is ever
// chosen for them twice) and the run's progress. prevAfter must be the
// progress the batch was computed from; if another instance moved it, the
// batch is dropped and ok is false.
func (s *Store) EnqueueDigestBatch(ctx context.Context, run RunInfo, prevAfter, lastID int64, items []DigestItem, cursorIDs []int64, skipped int, now time.Time) (ok bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.query("AdvanceRun"), lastID, len(items)+skipped, skipped, run.ID, prevAfter)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		ok = true
		if err := s.insertDigestDeliveries(ctx, tx, run.ID, items, now); err != nil {
			return err
		}
		return s.advanceCursors(ctx, tx, cursorIDs, run.MaxArticleID)
	})
	if err != nil {
		return false, fmt.Errorf("enqueue digest batch: %w", err)
	}
	return ok, nil
}

const insertChunk = 200

func (s *Store) insertDigestDeliveries(ctx context.Context, tx *sql.Tx, runID int64, items []DigestItem, now time.Time) error {
	if len(items) == 0 {
		return nil
	}
	if s.dialect == Postgres {
		// One statement of three arrays: no 1,200-parameter statement to
		// plan per 200 rows.
		subs, arts, more := make([]int64, len(items)), make([]string, len(items)), make([]int64, len(items))
		for i, it := range items {
			subs[i], arts[i], more[i] = it.SubscriberID, joinIDs(it.Articles), int64(it.More)
		}
		_, err := tx.ExecContext(ctx, s.query("InsertDigestDeliveries"), runID, ms(now), ms(now), subs, arts, more, runID)
		return err
	}
	for start := 0; start < len(items); start += insertChunk {
		end := min(start+insertChunk, len(items))
		var b strings.Builder
		b.WriteString("INSERT INTO deliveries (kind, run_id, subscriber_id, articles, more, priority, state, next_attempt_at, created_at) VALUES ")
		args := make([]any, 0, (end-start)*5)
		for i, it := range items[start:end] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("('digest', ?, ?, ?, ?, 1, 'pending', ?, ?)")
			args = append(args, runID, it.SubscriberID, joinIDs(it.Articles), it.More, ms(now), ms(now))
		}
		b.WriteString(" ON CONFLICT DO NOTHING")
		if _, err := tx.ExecContext(ctx, s.rebind(b.String()), args...); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) advanceCursors(ctx context.Context, tx *sql.Tx, ids []int64, cursor int64) error {
	if s.dialect == Postgres {
		_, err := tx.ExecContext(ctx, s.query("AdvanceCursors"), cursor, cursor, ids)
		return err
	}
	return s.execIn(ctx, tx, "UPDATE subscribers SET digest_cursor = ? WHERE digest_cursor < ? AND id", []any{cursor, cursor}, ids)
}

// FinishEnqueue marks a run's deliveries all written.
func (s *Store) FinishEnqueue(ctx context.Context, runID int64) error {
	if _, err := s.db.ExecContext(ctx, s.query("FinishEnqueue"), runID); err != nil {
		return fmt.Errorf("finish enqueue: %w", err)
	}
	return nil
}

// FailRun records why a run cannot go on (for example the SMTP server
// refused our credentials). Its queued deliveries stay queued: when the
// cause is fixed they go out and the run completes.
func (s *Store) FailRun(ctx context.Context, runID int64, reason string) error {
	if _, err := s.db.ExecContext(ctx, s.query("FailRun"), reason, runID); err != nil {
		return fmt.Errorf("fail run: %w", err)
	}
	return nil
}

// CloseFinishedRuns marks done every fully enqueued run with nothing left
// to send, and returns their ids.
func (s *Store) CloseFinishedRuns(ctx context.Context, now time.Time) ([]int64, error) {
	ids, err := s.ids(ctx, "ActiveRuns")
	if err != nil {
		return nil, err
	}
	var closed []int64
	for _, id := range ids {
		var busy bool
		if err := s.db.QueryRowContext(ctx, s.query("RunBusy"), id, id).Scan(&busy); err != nil {
			return closed, fmt.Errorf("run busy: %w", err)
		}
		if busy {
			continue
		}
		var changed bool
		err := s.stateChangeTx(ctx, "CloseRun", []any{string(news.RunDone), ms(now), id}, func(tx *sql.Tx) error {
			changed = true
			return s.emitDigestDone(ctx, tx, id, now)
		})
		if err != nil {
			return closed, fmt.Errorf("close run: %w", err)
		}
		if changed {
			closed = append(closed, id)
		}
	}
	return closed, nil
}

// Enqueuing kinds for LockEnqueue.
const (
	LockRun   = 1
	LockAlert = 2
)

// LockEnqueue lets one instance at a time write the deliveries of a run
// (kind LockRun) or an alert (LockAlert); the others go on sending. It
// returns ok=false when another instance holds it. On PostgreSQL it is a
// session advisory lock, released by release or when the holder's
// connection dies; SQLite has one process, so it is always granted.
func (s *Store) LockEnqueue(ctx context.Context, kind int, id int64) (release func(), ok bool, err error) {
	if s.dialect != Postgres {
		return func() {}, true, nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock enqueue: %w", err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1, $2)", kind, id).Scan(&got); err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("lock enqueue: %w", err)
	}
	if !got {
		conn.Close()
		return nil, false, nil
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1, $2)", kind, id); err != nil {
			// A session that cannot unlock must not go back to the pool
			// still holding the lock.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}, true, nil
}
