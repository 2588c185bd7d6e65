package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/crieur/crieur/internal/news"
)

func scanUser(r rowScanner) (news.User, error) {
	var u news.User
	var role string
	var created, disabled sql.NullInt64
	if err := r.Scan(&u.ID, &u.Email, &role, &u.PasswordHash, &created, &disabled); err != nil {
		return u, err
	}
	u.Role, u.CreatedAt, u.DisabledAt = news.Role(role), fromMS(created), fromMS(disabled)
	return u, nil
}

// CreateUser adds a login; ErrConflict when the address exists.
func (s *Store) CreateUser(ctx context.Context, email string, role news.Role, passwordHash string) (int64, error) {
	if _, err := s.db.ExecContext(ctx, s.query("InsertUser"), email, string(role), passwordHash, ms(time.Now())); err != nil {
		if isUnique(err) {
			return 0, fmt.Errorf("user %s: %w", email, ErrConflict)
		}
		return 0, fmt.Errorf("create user: %w", err)
	}
	u, err := s.UserByEmail(ctx, email)
	return u.ID, err
}

// UserByEmail finds a login by address.
func (s *Store) UserByEmail(ctx context.Context, email string) (news.User, error) {
	return s.user(ctx, "UserByEmail", email)
}

// UserByID finds a login by id.
func (s *Store) UserByID(ctx context.Context, id int64) (news.User, error) {
	return s.user(ctx, "UserByID", id)
}

func (s *Store) user(ctx context.Context, q string, arg any) (news.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.query(q), arg))
	if errors.Is(err, sql.ErrNoRows) {
		return u, ErrNotFound
	}
	if err != nil {
		return u, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// Users lists the logins.
func (s *Store) Users(ctx context.Context) ([]news.User, error) {
	rows, err := s.db.QueryContext(ctx, s.query("ListUsers"))
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []news.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// SetUserPassword replaces a login's password hash and ends its sessions.
func (s *Store) SetUserPassword(ctx context.Context, id int64, hash string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.query("SetUserPassword"), hash, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.query("DeleteUserSessions"), id)
		return err
	})
}

// SetUserRole changes a login's role.
func (s *Store) SetUserRole(ctx context.Context, id int64, role news.Role) error {
	_, err := s.db.ExecContext(ctx, s.query("SetUserRole"), string(role), id)
	return err
}

// DisableUser blocks a login and ends its sessions.
func (s *Store) DisableUser(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.query("DisableUser"), ms(time.Now()), id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.query("DeleteUserSessions"), id)
		return err
	})
}

// CreateSession stores a session by the hash of its cookie value.
func (s *Store) CreateSession(ctx context.Context, hash string, userID int64, csrf string, expires time.Time) error {
	if _, err := s.db.ExecContext(ctx, s.query("InsertSession"), hash, userID, csrf, ms(time.Now()), ms(expires)); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByHash returns a live session; ErrNotFound when unknown, expired
// or its user is disabled.
func (s *Store) SessionByHash(ctx context.Context, hash string, now time.Time) (news.Session, error) {
	var ss news.Session
	var role string
	var exp, disabled sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.query("SessionByHash"), hash).Scan(&ss.UserID, &ss.CSRF, &exp, &ss.Email, &role, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return ss, ErrNotFound
	}
	if err != nil {
		return ss, fmt.Errorf("get session: %w", err)
	}
	ss.Role, ss.ExpiresAt = news.Role(role), fromMS(exp)
	if disabled.Valid || ss.ExpiresAt.Before(now) {
		return ss, ErrNotFound
	}
	return ss, nil
}

// DeleteSession logs a session out.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	_, err := s.db.ExecContext(ctx, s.query("DeleteSession"), hash)
	return err
}

// DeleteExpiredSessions removes sessions past their expiry.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) error {
	_, err := s.db.ExecContext(ctx, s.query("DeleteExpiredSessions"), ms(now))
	return err
}
