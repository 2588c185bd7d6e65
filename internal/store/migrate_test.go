package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/crieur/crieur/internal/store"
)

func TestMigrationTreesHaveSameVersions(t *testing.T) {
	t.Parallel()
	lite, err := store.MigrationFiles(store.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := store.MigrationFiles(store.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 || len(lite) != len(pg) {
		t.Fatalf("sqlite has %d migrations, postgres %d", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].Version != pg[i].Version {
			t.Errorf("migration %d: sqlite version %d, postgres %d", i, lite[i].Version, pg[i].Version)
		}
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "c.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, err := s.Migrate(ctx)
	if err != nil || n == 0 {
		t.Fatalf("first migrate: %d, %v", n, err)
	}
	n, err = s.Migrate(ctx)
	if err != nil || n != 0 {
		t.Fatalf("second migrate: %d, %v", n, err)
	}
}
