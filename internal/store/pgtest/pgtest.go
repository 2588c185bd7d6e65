// Package pgtest gives tests a fresh, empty PostgreSQL database.
//
// With CRIEUR_TEST_DATABASE_URL set, every database is created on that
// server. Otherwise the first call starts one throwaway cluster per test
// binary from the server binaries under /usr/lib/postgresql/*/bin (initdb
// into a temporary directory, durability off), and every call creates a
// uniquely named database in it. A test binary that uses the cluster should
// run its tests through Main, which stops the cluster and removes its
// directory at the end. Even without Main, or when the binary panics or is
// killed, the server dies with it: postgres is started with a parent-death
// signal from a thread that lives exactly as long as the server.
//
// Without server binaries (and without CRIEUR_TEST_DATABASE_URL) the test
// is skipped locally and fails under CI (internal/testenv).
//
// It is for tests only and must not import store, so that any package's
// tests can use it.
package pgtest

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/crieur/crieur/internal/store/pgcluster"
	"github.com/crieur/crieur/internal/testenv"
)

// EnvURL names the variable that points the tests at an existing server
// (a URL whose user may CREATE DATABASE).
const EnvURL = "CRIEUR_TEST_DATABASE_URL"

var (
	mu      sync.Mutex
	local   *pgcluster.Cluster // the throwaway cluster, once started
	errMiss error              // why it could not start, remembered
	seq     atomic.Int64
)

// Main runs the tests of a package and then stops the throwaway cluster
// (if one was started) and removes its files. Use it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	stop()
	os.Exit(code)
}

func stop() {
	mu.Lock()
	defer mu.Unlock()
	if local != nil {
		local.Remove()
		local = nil
	}
}

// URL returns the URL of a new, empty database that is dropped when the
// test ends.
func URL(tb testing.TB) string {
	tb.Helper()
	server, err := serverURL()
	if errors.Is(err, pgcluster.ErrNoServer) {
		testenv.Missing(tb, "PostgreSQL server")
	}
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	name := fmt.Sprintf("crieur_test_%d_%d", os.Getpid(), seq.Add(1))
	if err := pgcluster.Exec(server, `CREATE DATABASE "`+name+`"`); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		// WITH (FORCE) ends connections a killed daemon may have left.
		_ = pgcluster.Exec(server, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`)
	})
	u, err := url.Parse(server)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Restart stops the throwaway cluster (fast shutdown: connections are cut)
// and starts it again on the same port, as a database failover or an
// operator's restart would. It needs the throwaway cluster: with
// CRIEUR_TEST_DATABASE_URL set the test is skipped.
func Restart(tb testing.TB) {
	tb.Helper()
	if os.Getenv(EnvURL) != "" {
		tb.Skip("pgtest.Restart needs the throwaway cluster; " + EnvURL + " is set")
	}
	mu.Lock()
	c := local
	mu.Unlock()
	if c == nil {
		tb.Fatal("pgtest.Restart: no cluster started (call URL first)")
	}
	c.Stop()
	if err := c.Start(); err != nil {
		tb.Fatalf("pgtest: restart: %v", err)
	}
}

// serverURL returns the maintenance URL (database "postgres") of the
// server to create databases on, starting the throwaway cluster once.
func serverURL() (string, error) {
	if u := os.Getenv(EnvURL); u != "" {
		return u, nil
	}
	mu.Lock()
	defer mu.Unlock()
	if local != nil {
		return local.URL("postgres"), nil
	}
	if errMiss != nil {
		return "", errMiss
	}
	c, err := pgcluster.New("shared_buffers=64MB")
	if err != nil {
		errMiss = err
		return "", err
	}
	local = c
	return c.URL("postgres"), nil
}

// postmaster returns the pid of the running throwaway server, 0 when none.
func postmaster() int {
	mu.Lock()
	defer mu.Unlock()
	if local == nil {
		return 0
	}
	return local.Pid()
}
