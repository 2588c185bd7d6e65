package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/crieur/crieur/internal/store"
)

// SQLite opens a fresh, migrated SQLite store in a temporary directory,
// closed when the test ends: the store of the tests of the packages that
// use one (dispatch, alert, digest...), where which dialect is beside the
// point.
func SQLite(tb testing.TB) *store.Store {
	tb.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(tb.TempDir(), "c.db"), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return st
}
