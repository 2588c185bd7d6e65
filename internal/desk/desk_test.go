package desk_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/crieur/crieur/internal/desk"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/storetest"
)

func setup(tb testing.TB) (*desk.Service, *store.Store) {
	tb.Helper()
	st := storetest.SQLite(tb)
	return desk.New(st, slog.New(slog.DiscardHandler)), st
}

func code(err error) news.Code {
	if e, ok := news.AsError(err); ok {
		return e.Code
	}
	return ""
}

func TestCreateTopic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := setup(t)
	if _, err := d.CreateTopic(ctx, "cli", "afrique", "Afrique"); err != nil {
		t.Fatal(err)
	}
	_, err := d.CreateTopic(ctx, "cli", "afrique", "Encore")
	if !errors.Is(err, store.ErrConflict) || code(err) != news.CodeConflict {
		t.Errorf("slug taken: %v", err)
	}
	for _, bad := range [][2]string{{"", "X"}, {"Afrique", "X"}, {"ok", ""}, {"ok", "a\nb"}} {
		if _, err := d.CreateTopic(ctx, "cli", bad[0], bad[1]); code(err) != news.CodeInvalid {
			t.Errorf("%q: %v, want invalid_input", bad, err)
		}
	}
}

func TestCreateToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, st := setup(t)
	tok, err := d.CreateToken(ctx, "cli", "cms", news.RoleEditor)
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.LookupAPIToken(ctx, desk.HashToken(tok))
	if err != nil || got.Name != "cms" || got.Role != news.RoleEditor {
		t.Errorf("stored token %+v, %v", got, err)
	}
	if _, err := d.CreateToken(ctx, "cli", " ", news.RoleEditor); code(err) != news.CodeInvalid {
		t.Errorf("empty name: %v", err)
	}
	if _, err := d.CreateToken(ctx, "cli", "x", "owner"); code(err) != news.CodeInvalid {
		t.Errorf("unknown role: %v", err)
	}
}

// TestCreateUser: one generated password length for every caller (the
// command line made 20 characters, the desk 24).
func TestCreateUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := setup(t)
	addr, pw, err := d.CreateUser(ctx, "cli", " A@Example.com ", news.RoleAdmin, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(pw) != 24 {
		t.Errorf("generated password %q: %d characters, want 24", pw, len(pw))
	}
	if _, pw, err := d.CreateUser(ctx, "cli", "b@example.com", news.RoleEditor, "correct horse"); err != nil || pw != "" {
		t.Errorf("chosen password: %q, %v", pw, err)
	}
	if _, _, err := d.CreateUser(ctx, "cli", "c@example.com", news.RoleEditor, "short"); code(err) != news.CodeInvalid {
		t.Errorf("short password: %v", err)
	}
	if _, _, err := d.CreateUser(ctx, "cli", "not an address", news.RoleEditor, ""); code(err) != news.CodeInvalidEmail {
		t.Errorf("bad address: %v", err)
	}
	if got, _, err := d.CreateUser(ctx, "cli", addr, news.RoleEditor, ""); !errors.Is(err, store.ErrConflict) || got != addr {
		t.Errorf("address taken: %q, %v", got, err)
	}
}
