package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// userTests cover the desk's users and sessions, API tokens and the
// audit log.
var userTests = []test{
	{"UsersAndSessions", testUsers},
	{"Tokens", testTokens},
	{"Audit", testAudit},
}

func testUsers(t *testing.T, s *store.Store) {
	t0 := now()
	id, err := s.CreateUser(ctx, "ed@x.test", news.RoleEditor, "hash")
	check(t, err)
	if _, err := s.CreateUser(ctx, "Ed@X.test", news.RoleAdmin, "h"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate user in another case: %v", err)
	}
	// A login is found whatever the case it was created or typed in.
	mixed, err := s.CreateUser(ctx, "Chef@X.test", news.RoleAdmin, "h2")
	check(t, err)
	if u, err := s.UserByEmail(ctx, "chef@x.test"); err != nil || u.ID != mixed || u.Email != "chef@x.test" {
		t.Fatalf("login created as Chef@X.test, looked up as chef@x.test: %+v %v", u, err)
	}
	u, err := s.UserByEmail(ctx, "ED@x.test")
	check(t, err)
	if u.ID != id || u.Role != news.RoleEditor || u.PasswordHash != "hash" || u.CreatedAt.IsZero() {
		t.Fatalf("user %+v", u)
	}
	check(t, s.SetUserRole(ctx, id, news.RoleAdmin))
	check(t, s.CreateSession(ctx, "s1", id, "csrf", t0.Add(time.Hour)))
	check(t, s.CreateSession(ctx, "old", id, "csrf", t0.Add(-time.Hour)))
	ss, err := s.SessionByHash(ctx, "s1", t0)
	check(t, err)
	if ss.UserID != id || ss.Role != news.RoleAdmin || ss.Email != "ed@x.test" || ss.CSRF != "csrf" {
		t.Fatalf("session %+v", ss)
	}
	if _, err := s.SessionByHash(ctx, "old", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired session: %v", err)
	}
	check(t, s.DeleteExpiredSessions(ctx, t0))
	check(t, s.SetUserPassword(ctx, id, "hash2"))
	if _, err := s.SessionByHash(ctx, "s1", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session after password change: %v", err)
	}
	check(t, s.CreateSession(ctx, "s2", id, "csrf", t0.Add(time.Hour)))
	check(t, s.DeleteSession(ctx, "s2"))
	if _, err := s.SessionByHash(ctx, "s2", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted session: %v", err)
	}
	check(t, s.CreateSession(ctx, "s3", id, "csrf", t0.Add(time.Hour)))
	check(t, s.DisableUser(ctx, id))
	if _, err := s.SessionByHash(ctx, "s3", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session of a disabled user: %v", err)
	}
	u, err = s.UserByID(ctx, id)
	check(t, err)
	if u.DisabledAt.IsZero() || u.PasswordHash != "hash2" {
		t.Fatalf("user %+v", u)
	}
	if _, err := s.UserByID(ctx, 999999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	list, err := s.Users(ctx)
	check(t, err)
	if len(list) != 2 {
		t.Fatalf("users %+v", list)
	}
}

func testTokens(t *testing.T, s *store.Store) {
	id, err := s.CreateAPIToken(ctx, "cms", news.RoleEditor, "hash1")
	check(t, err)
	tok, err := s.LookupAPIToken(ctx, "hash1")
	check(t, err)
	if tok.ID != id || tok.Name != "cms" || tok.Role != news.RoleEditor || !tok.RevokedAt.IsZero() {
		t.Fatalf("token %+v", tok)
	}
	if _, err := s.LookupAPIToken(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	check(t, s.RevokeAPIToken(ctx, id))
	if err := s.RevokeAPIToken(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}
	tok, err = s.LookupAPIToken(ctx, "hash1")
	check(t, err)
	if tok.RevokedAt.IsZero() {
		t.Fatal("revoked token has no revoked_at")
	}
	list, err := s.APITokens(ctx)
	check(t, err)
	if len(list) != 1 || list[0].CreatedAt.IsZero() {
		t.Fatalf("tokens %+v", list)
	}
}

func testAudit(t *testing.T, s *store.Store) {
	check(t, s.Audit(ctx, "token:cms", "alert.send", "alert/1", "{}"))
	check(t, s.Audit(ctx, "user:ed", "topic.add", "sport", ""))
	log, err := s.AuditLog(ctx, 10)
	check(t, err)
	if len(log) != 2 || log[0].Action != "topic.add" || log[1].Actor != "token:cms" || log[1].At.IsZero() {
		t.Fatalf("audit %+v", log)
	}
}
