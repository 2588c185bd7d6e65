// Package store is crieur's database: one concrete type over database/sql
// that speaks SQLite (modernc.org/sqlite, the embedded default) or
// PostgreSQL (pgx), with the SQL kept in named queries under queries/.
//
// Times are stored as Unix milliseconds so that both dialects compare them
// the same way. Every method takes a context and returns wrapped errors;
// "not found" is ErrNotFound.
//
// It must not import any package that uses it (alert, digest, subscribe,
// dispatch, web): what it shares with them is in news, and it implements
// the contract dispatch declares (dispatch.Claimed, keyed by
// news.ClaimKey) without importing dispatch.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/crieur/crieur/internal/redact"
	"github.com/crieur/crieur/migrations"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a row would break a uniqueness rule.
var ErrConflict = errors.New("conflict")

// Dialect names the SQL dialect of a store.
type Dialect string

// The dialects crieur supports.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Store is the database. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect Dialect
	q       map[string]string
	// stmts caches prepared hot-path statements: database/sql does not, and
	// SQLite parsing a statement costs more than running it.
	stmts sync.Map // name → *sql.Stmt
}

// Options tune a store.
type Options struct {
	// MaxConns caps PostgreSQL connections (default 20).
	MaxConns int
	// StatementTimeout bounds every PostgreSQL statement (default 30s).
	StatementTimeout time.Duration
}

// Open connects to the database named by rawURL ("sqlite:PATH" or
// "postgres://…"), without migrating it.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	var (
		db      *sql.DB
		dialect Dialect
		err     error
	)
	switch {
	case strings.HasPrefix(rawURL, "sqlite:"):
		dialect = SQLite
		db, err = openSQLite(strings.TrimPrefix(rawURL, "sqlite:"))
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		dialect = Postgres
		db, err = openPostgres(rawURL, opts)
	default:
		return nil, fmt.Errorf("database url %q: want sqlite:PATH or postgres://", redact.URL(rawURL))
	}
	if err != nil {
		return nil, err
	}
	q, err := loadQueries(dialect)
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{db: db, dialect: dialect, q: q}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s database: %w", dialect, err)
	}
	return s, nil
}

func openSQLite(path string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("database url: sqlite: needs a path")
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	// Create the file ourselves so that it is 0600: it holds secrets.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open database file: %w", err)
	}
	f.Close()
	v := url.Values{}
	v.Add("_pragma", "journal_mode(WAL)")
	v.Add("_pragma", "synchronous(NORMAL)")
	v.Add("_pragma", "foreign_keys(ON)")
	v.Add("_pragma", "busy_timeout(10000)")
	// A 16 MiB page cache. SQLite counts a cached page as its 4 KiB plus
	// a header, but modernc's allocator serves that from an 8 KiB slot,
	// outside the Go heap: the cache costs twice its size in RSS, so the
	// former 64 MiB grew to ~105 MB over a 100,000-reader digest run and
	// was half of the daemon's peak RSS. At 16 MiB (~32 MB resident) the
	// same run's peak fell by ~45 MB with no CPU cost measurable a digest
	// (3 interleaved pairs, README): the pages it no longer keeps are
	// re-read from the OS's page cache.
	v.Add("_pragma", "cache_size(-16384)")
	v.Add("_pragma", "temp_store(MEMORY)")
	v.Add("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+v.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	// One writer: SQLite serialises writes anyway, and one connection
	// removes SQLITE_BUSY between our own goroutines.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	return db, nil
}

func openPostgres(rawURL string, opts Options) (*sql.DB, error) {
	if opts.MaxConns <= 0 {
		opts.MaxConns = 20
	}
	if opts.StatementTimeout <= 0 {
		opts.StatementTimeout = 30 * time.Second
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", errors.New("cannot parse postgres url"))
	}
	q := u.Query()
	if q.Get("statement_timeout") == "" {
		q.Set("statement_timeout", strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10))
	}
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(opts.MaxConns)
	db.SetMaxIdleConns(opts.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// Dialect reports which SQL dialect the store speaks.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB exposes the handle for tests and benchmarks that need raw access.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error {
	s.stmts.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	return s.db.Close()
}

// stmt returns the named query prepared once on the database handle.
func (s *Store) stmt(ctx context.Context, name string) (*sql.Stmt, error) {
	if v, ok := s.stmts.Load(name); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, s.query(name))
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", name, err)
	}
	if v, loaded := s.stmts.LoadOrStore(name, st); loaded {
		st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// txStmt returns the named statement for use in tx: the cached prepared
// one when there is one, else prepared on tx's own connection. It must
// never prepare through s.db: on SQLite the pool's one connection is the
// one tx holds, so that would wait forever.
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, name string) (*sql.Stmt, error) {
	if v, ok := s.stmts.Load(name); ok {
		return tx.StmtContext(ctx, v.(*sql.Stmt)), nil
	}
	return tx.PrepareContext(ctx, s.query(name))
}

// hotStatements are prepared once the schema exists, so that workers and
// transactions find them cached.
var hotStatements = []string{
	"ClaimDeliveries", "ClaimPush", "GetSubscriberWithTopics",
	"MarkDeliveryRetry", "MarkDeliveryFailed", "ReleaseDelivery",
	"MarkPushRetry", "MarkPushFailed", "ReleasePush",
	"ClaimPushWindows", "RecordPushWindow", "InsertPushOutcome",
	"MarkDeliveriesSent", "MarkPushSent", "PushKeys", "AddAlertCounts", "AddRunCounts",
}

// warm prepares the hot statements.
func (s *Store) warm(ctx context.Context) error {
	for _, name := range hotStatements {
		if _, err := s.stmt(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Migrate applies the migrations not yet applied, each in its own
// transaction, and returns how many it applied.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	files, err := MigrationFiles(s.dialect)
	if err != nil {
		return 0, err
	}
	fsys := migrationFS(s.dialect)
	applied := 0
	for _, m := range files {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if s.dialect == Postgres {
				// Several instances may start at once: one migrates, the
				// others wait here and then find nothing to do.
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(727272)`); err != nil {
					return err
				}
			}
			var n int
			if err := tx.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			body, err := fs.ReadFile(fsys, m.Path)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), m.Version, ms(time.Now())); err != nil {
				return err
			}
			applied++
			return nil
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.Path, err)
		}
	}
	return applied, s.warm(ctx)
}

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Path    string
}

func migrationFS(d Dialect) fs.FS {
	if d == Postgres {
		sub, _ := fs.Sub(migrations.Postgres, "postgres")
		return sub
	}
	sub, _ := fs.Sub(migrations.SQLite, "sqlite")
	return sub
}

// MigrationFiles lists a dialect's migrations in version order.
func MigrationFiles(d Dialect) ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS(d), ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and _", name)
		}
		out = append(out, Migration{Version: v, Path: name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// tx runs fn in a transaction, committing when it returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// query returns the named query in this store's dialect. A missing name is
// a programming error caught by the conformance tests.
func (s *Store) query(name string) string {
	q, ok := s.q[name]
	if !ok {
		panic("store: no query named " + name)
	}
	return q
}

// rebind turns ? placeholders into $n for PostgreSQL.
func (s *Store) rebind(q string) string {
	if s.dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	inString := false
	for _, r := range q {
		switch {
		case r == '\'':
			inString = !inString
			b.WriteRune(r)
		case r == '?' && !inString:
			n++
			b.WriteString("$" + strconv.Itoa(n))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// execIn runs `head id IN (?,…)` for ids, 500 at a time (under every
// dialect's parameter limit), with args bound before the ids.
func (s *Store) execIn(ctx context.Context, q querier, head string, args []any, ids []int64) error {
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		var b strings.Builder
		b.WriteString(head)
		b.WriteString(" IN (")
		all := append(make([]any, 0, len(args)+len(chunk)), args...)
		for i, id := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('?')
			all = append(all, id)
		}
		b.WriteByte(')')
		if _, err := q.ExecContext(ctx, s.rebind(b.String()), all...); err != nil {
			return err
		}
	}
	return nil
}

// ms converts a time to stored Unix milliseconds.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS converts stored Unix milliseconds back to a time; 0 and NULL give
// the zero time.
func fromMS(v sql.NullInt64) time.Time {
	if !v.Valid || v.Int64 == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}

func nullMS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
