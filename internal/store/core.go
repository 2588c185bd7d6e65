package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/crieur/crieur/internal/news"
)

// Setting returns a stored setting, or ErrNotFound.
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, s.query("GetSetting"), key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("get setting %s: %w", key, err)
	}
	return v, nil
}

// SettingOrCreate returns the stored value of key, storing the value made
// by gen first when there is none. Concurrent callers (several instances
// starting at once) all get the one value that won.
func (s *Store) SettingOrCreate(ctx context.Context, key string, gen func() (string, error)) (string, error) {
	v, err := s.Setting(ctx, key)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return "", err
	}
	nv, err := gen()
	if err != nil {
		return "", fmt.Errorf("generate setting %s: %w", key, err)
	}
	if _, err := s.db.ExecContext(ctx, s.query("InsertSettingIfAbsent"), key, nv); err != nil {
		return "", fmt.Errorf("store setting %s: %w", key, err)
	}
	return s.Setting(ctx, key)
}

// CreateTopic adds a topic; ErrConflict when the slug exists. Every
// feed's validators (ETag, Last-Modified) are forgotten with it: articles
// polled before the topic existed, whose feed now answers 304, are read
// again at the next poll and join the topic when their category names it
// (a known article's topics are corrected as its other fields are).
func (s *Store) CreateTopic(ctx context.Context, slug, name string) (news.Topic, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.query("InsertTopic"), slug, name, ms(time.Now())); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.query("ForgetFeedValidators"))
		return err
	})
	if err != nil {
		if isUnique(err) {
			return news.Topic{}, fmt.Errorf("topic %s: %w", slug, ErrConflict)
		}
		return news.Topic{}, fmt.Errorf("create topic: %w", err)
	}
	for _, t := range mustTopics(s.Topics(ctx)) {
		if t.Slug == slug {
			return t, nil
		}
	}
	return news.Topic{}, fmt.Errorf("create topic %s: %w", slug, ErrNotFound)
}

func mustTopics(ts []news.Topic, err error) []news.Topic {
	if err != nil {
		return nil
	}
	return ts
}

// Topics lists every topic by name.
func (s *Store) Topics(ctx context.Context) ([]news.Topic, error) {
	rows, err := s.db.QueryContext(ctx, s.query("ListTopics"))
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	defer rows.Close()
	var out []news.Topic
	for rows.Next() {
		var t news.Topic
		if err := rows.Scan(&t.ID, &t.Slug, &t.Name); err != nil {
			return nil, fmt.Errorf("list topics: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// TopicIDs maps slugs to topic ids; unknown slugs are returned apart.
func (s *Store) TopicIDs(ctx context.Context, slugs []string) (ids []int64, unknown []string, err error) {
	all, err := s.Topics(ctx)
	if err != nil {
		return nil, nil, err
	}
	bySlug := make(map[string]int64, len(all))
	for _, t := range all {
		bySlug[t.Slug] = t.ID
	}
	seen := map[int64]bool{}
	for _, sl := range slugs {
		id, ok := bySlug[sl]
		if !ok {
			unknown = append(unknown, sl)
			continue
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, unknown, nil
}

// CreateAPIToken stores the hash of a new token.
func (s *Store) CreateAPIToken(ctx context.Context, name string, role news.Role, hash string) (int64, error) {
	if _, err := s.db.ExecContext(ctx, s.query("InsertToken"), name, string(role), hash, ms(time.Now())); err != nil {
		return 0, fmt.Errorf("create token: %w", err)
	}
	tok, err := s.LookupAPIToken(ctx, hash)
	return tok.ID, err
}

// LookupAPIToken finds a token by its hash; ErrNotFound when unknown.
func (s *Store) LookupAPIToken(ctx context.Context, hash string) (news.APIToken, error) {
	var t news.APIToken
	var revoked sql.NullInt64
	var role string
	err := s.db.QueryRowContext(ctx, s.query("LookupToken"), hash).Scan(&t.ID, &t.Name, &role, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("lookup token: %w", err)
	}
	t.Role = news.Role(role)
	t.RevokedAt = fromMS(revoked)
	return t, nil
}

// RevokeAPIToken revokes a token by id.
func (s *Store) RevokeAPIToken(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, s.query("RevokeToken"), ms(time.Now()), id)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// APITokens lists tokens, newest first.
func (s *Store) APITokens(ctx context.Context) ([]news.APIToken, error) {
	rows, err := s.db.QueryContext(ctx, s.query("ListTokens"))
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []news.APIToken
	for rows.Next() {
		var t news.APIToken
		var role string
		var created, revoked, used sql.NullInt64
		if err := rows.Scan(&t.ID, &t.Name, &role, &created, &revoked, &used); err != nil {
			return nil, err
		}
		t.Role, t.CreatedAt, t.RevokedAt, t.LastUsedAt = news.Role(role), fromMS(created), fromMS(revoked), fromMS(used)
		out = append(out, t)
	}
	return out, rows.Err()
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID     int64
	At     time.Time
	Actor  string
	Action string
	Target string
	Detail string
}

// Audit records who did what.
func (s *Store) Audit(ctx context.Context, actor, action, target, detail string) error {
	_, err := s.db.ExecContext(ctx, s.query("InsertAudit"), ms(time.Now()), actor, action, target, detail)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// AuditLog returns the latest entries.
func (s *Store) AuditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	rows, err := s.db.QueryContext(ctx, s.query("ListAudit"), limit)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at sql.NullInt64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, err
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// isUnique reports whether err is a unique-constraint violation in either
// dialect, by the drivers' error codes.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return false
}
