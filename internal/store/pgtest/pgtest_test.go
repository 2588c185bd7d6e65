package pgtest_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/crieur/crieur/internal/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t *testing.T, u string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestURLGivesFreshDatabases(t *testing.T) {
	ctx := context.Background()
	a, b := pgtest.URL(t), pgtest.URL(t)
	if a == b {
		t.Fatalf("two calls gave the same database %s", a)
	}
	dba, dbb := open(t, a), open(t, b)
	if _, err := dba.ExecContext(ctx, `CREATE TABLE x (id BIGINT)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := dbb.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'x'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("second database is not empty")
	}
}

func TestRestartKeepsData(t *testing.T) {
	if os.Getenv(pgtest.EnvURL) != "" {
		t.Skip("needs the throwaway cluster")
	}
	ctx := context.Background()
	u := pgtest.URL(t)
	db := open(t, u)
	if _, err := db.ExecContext(ctx, `CREATE TABLE x (id BIGINT); INSERT INTO x VALUES (7)`); err != nil {
		t.Fatal(err)
	}
	before := pgtest.Postmaster()
	pgtest.Restart(t)
	if after := pgtest.Postmaster(); after == before || after == 0 {
		t.Fatalf("postmaster pid %d before restart, %d after", before, after)
	}
	if alive(before) {
		t.Fatalf("old postmaster %d still alive", before)
	}
	var v int
	// The pool's old connections were cut; database/sql retries on a new one.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := db.QueryRowContext(ctx, `SELECT id FROM x`).Scan(&v)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	if v != 7 {
		t.Fatalf("got %d after restart, want 7", v)
	}
}

// alive reports whether pid runs (a zombie waiting for its reaper does not).
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// TestNoServerLeftWhenBinaryDies starts a cluster in a child test binary
// that then dies without cleaning up (as a panic or a go test timeout
// would): its postgres must die with it.
func TestNoServerLeftWhenBinaryDies(t *testing.T) {
	if os.Getenv(pgtest.EnvURL) != "" {
		t.Skip("needs the throwaway cluster")
	}
	if os.Getenv("PGTEST_CHILD") == "1" {
		pgtest.URL(t)
		fmt.Printf("dir=%s\npostmaster=%d\n", pgtest.Dir(), pgtest.Postmaster())
		os.Exit(3) // no Main, no cleanup
	}
	pgtest.URL(t) // skips here rather than in the child when there is no server
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoServerLeftWhenBinaryDies$")
	cmd.Env = append(os.Environ(), "PGTEST_CHILD=1")
	out, _ := cmd.Output()
	if _, d, ok := strings.Cut(string(out), "dir="); ok {
		if d, _, _ = strings.Cut(d, "\n"); strings.Contains(d, "crieur-pg-") {
			t.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	_, rest, ok := strings.Cut(string(out), "postmaster=")
	if !ok {
		t.Fatalf("child said %q", out)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(rest, "\n", 2)[0]))
	if err != nil || pid == 0 {
		t.Fatalf("child said %q", out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("postgres %d outlived its test binary", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
