package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/storetest"
)

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) *store.Store {
		return openMigrated(t, "sqlite:"+filepath.Join(t.TempDir(), "crieur.db"))
	})
}

// openMigrated opens and migrates the store at url, closing it when the
// test ends.
func openMigrated(t *testing.T, url string) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}
