package store_test

import (
	"testing"

	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/pgtest"
	"github.com/crieur/crieur/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestPostgres(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) *store.Store {
		return openMigrated(t, pgtest.URL(t))
	})
}
