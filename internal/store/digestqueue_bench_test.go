package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/pgtest"
)

// BenchmarkDigestQueuePostgres measures what PostgreSQL spends on a
// digest's queue work alone, through the store's own calls in the order
// the daemon makes them: the enqueuer's batches (EligibleBatch,
// EnqueueDigestBatch), then the mail pipeline's claims of 160 with their
// readers (ClaimDeliveries, SubscribersByID) and its outcomes recorded
// sent in groups of 80 (RecordDeliveries), then the run closed
// (CloseFinishedRuns). It reports the server's CPU (postmaster and every
// process of it, from /proc) and WAL bytes per message for each phase;
// run with -benchtime=1x on a quiet machine.
func BenchmarkDigestQueuePostgres(b *testing.B) {
	ctx := context.Background()
	s := benchStore(b, pgtest.URL(b), store.Options{MaxConns: 20})
	pm := postmasterOf(b, s.DB())
	n := 30_000
	if v, err := strconv.Atoi(os.Getenv("CRIEUR_BENCH_READERS")); err == nil && v > 0 {
		n = v
	}
	db := s.DB()
	for _, q := range []string{
		"INSERT INTO topics (slug, name, created_at) SELECT 't' || g, 'T' || g, 0 FROM generate_series(1, 8) g",
		fmt.Sprintf(`INSERT INTO subscribers (email, status, frequency, lang, created_at, confirmed_at, updated_at)
			SELECT 'reader' || g || '@example.com', 'confirmed', 'daily', 'fr', 0, 0, 0 FROM generate_series(1, %d) g`, n),
		`INSERT INTO subscriber_topics (subscriber_id, topic_id)
			SELECT s.id, t.id FROM subscribers s JOIN topics t ON (s.id + t.id) % 3 = 0`,
		"ANALYZE",
		"CHECKPOINT",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	run, err := s.Run(ctx, mustRun(b, s))
	if err != nil {
		b.Fatal(err)
	}
	run.MaxArticleID = 100 // no articles are stored: the cursors move to this
	b.ResetTimer()

	phase := startPhase(b, db, pm)
	after := int64(0)
	for {
		subs, err := s.EligibleBatch(ctx, news.Daily, after, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if len(subs) == 0 {
			break
		}
		items := make([]store.DigestItem, len(subs))
		ids := make([]int64, len(subs))
		for i, e := range subs {
			items[i] = store.DigestItem{SubscriberID: e.ID, Articles: []int64{100, 99, 98, 97, 96, 95}, More: 2}
			ids[i] = e.ID
		}
		last := subs[len(subs)-1].ID
		if ok, err := s.EnqueueDigestBatch(ctx, run, after, last, items, ids, 0, time.Now()); err != nil || !ok {
			b.Fatal(ok, err)
		}
		after = last
	}
	if err := s.FinishEnqueue(ctx, run.ID); err != nil {
		b.Fatal(err)
	}
	phase.end("enqueue", n)

	phase = startPhase(b, db, pm)
	sent := 0
	for {
		ds, err := s.ClaimDeliveries(ctx, "bench", time.Now(), 160)
		if err != nil {
			b.Fatal(err)
		}
		if len(ds) == 0 {
			break
		}
		ids := make([]int64, len(ds))
		for i, d := range ds {
			ids[i] = d.SubscriberID
		}
		if _, err := s.SubscribersByID(ctx, ids); err != nil {
			b.Fatal(err)
		}
		for start := 0; start < len(ds); start += 80 {
			end := min(start+80, len(ds))
			rs := make([]store.Result, 0, end-start)
			for _, d := range ds[start:end] {
				rs = append(rs, d.Outcome(store.Result{State: news.DeliverySent}))
			}
			if _, err := s.RecordDeliveries(ctx, rs, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
		sent += len(ds)
	}
	if closed, err := s.CloseFinishedRuns(ctx, time.Now()); err != nil || len(closed) != 1 {
		b.Fatal(closed, err)
	}
	phase.end("claim+record", sent)
	if sent != n {
		b.Fatalf("sent %d of %d", sent, n)
	}
}

func mustRun(b *testing.B, s *store.Store) int64 {
	b.Helper()
	id, _, err := s.CreateRun(context.Background(), news.Daily, time.Now(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	return id
}

// pgPhase is one measured stretch of a benchmark on PostgreSQL.
type pgPhase struct {
	b   *testing.B
	db  *sql.DB
	pm  int
	cpu time.Duration
	lsn string
}

func startPhase(b *testing.B, db *sql.DB, pm int) *pgPhase {
	p := &pgPhase{b: b, db: db, pm: pm, cpu: serverCPU(b, pm)}
	if err := db.QueryRow("SELECT pg_current_wal_lsn()::text").Scan(&p.lsn); err != nil {
		b.Fatal(err)
	}
	return p
}

// end reports the server's CPU and WAL per message since the phase began.
func (p *pgPhase) end(name string, msgs int) {
	cpu := serverCPU(p.b, p.pm) - p.cpu
	var wal int64
	if err := p.db.QueryRow("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint", p.lsn).Scan(&wal); err != nil {
		p.b.Fatal(err)
	}
	p.b.ReportMetric(float64(cpu.Microseconds())/float64(msgs), name+"-pg-µs/msg")
	p.b.ReportMetric(float64(wal)/float64(msgs), name+"-wal-B/msg")
}

// postmasterOf finds the pid of the local server behind db (its data
// directory's postmaster.pid); the benchmark is skipped when it cannot.
func postmasterOf(b *testing.B, db *sql.DB) int {
	var dir string
	if err := db.QueryRow("SHOW data_directory").Scan(&dir); err != nil {
		b.Skip("server CPU unreadable:", err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		b.Skip("server CPU unreadable:", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0]))
	return pid
}

// serverCPU is the user+system time of the postmaster, its reaped
// children and its live ones.
func serverCPU(b *testing.B, pm int) time.Duration {
	ticks := func(pid int) (ppid int, self, reaped int64) {
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return 0, 0, 0
		}
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
		v := func(k int) int64 { x, _ := strconv.ParseInt(f[k-3], 10, 64); return x }
		return int(v(4)), v(14) + v(15), v(16) + v(17)
	}
	_, self, reaped := ticks(pm)
	total := self + reaped
	ents, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == pm {
			continue
		}
		if ppid, self, _ := ticks(pid); ppid == pm {
			total += self
		}
	}
	return time.Duration(total) * 10 * time.Millisecond
}
