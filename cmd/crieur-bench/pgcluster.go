package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/crieur/crieur/internal/store/pgcluster"
)

// startPgCluster starts the throwaway server `-db postgres` runs on:
// internal/store/pgcluster, with pg_stat_statements loaded so the report
// can name the statements the database spent its time on. The test
// clusters run without fsync; the bench's is durable, as a publisher's
// server is (its WAL flushes and full-page images are part of what a
// digest costs the database), so those settings are put back.
func startPgCluster() (*pgcluster.Cluster, error) {
	return pgcluster.New("fsync=on", "synchronous_commit=on", "full_page_writes=on",
		"shared_buffers=256MB", "shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all")
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times (100 on Linux).
const clockTick = 10 * time.Millisecond

// procStat returns fields 14–17 of /proc/PID/stat (utime, stime, cutime,
// cstime) and field 4 (ppid).
func procStat(pid int) (ppid int, utime, stime, cutime, cstime int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, 0, 0, 0, err
	}
	// The command name may contain spaces: fields start after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, 0, 0, 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3 (state)
	if len(f) < 15 {
		return 0, 0, 0, 0, 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	n := func(k int) int64 { v, _ := strconv.ParseInt(f[k-3], 10, 64); return v }
	return int(n(4)), n(14), n(15), n(16), n(17), nil
}

// procCPU is one live process's user+system time.
func procCPU(pid int) time.Duration {
	_, u, s, _, _, err := procStat(pid)
	if err != nil {
		return 0
	}
	return time.Duration(u+s) * clockTick
}

// clusterCPU is the CPU time of a PostgreSQL server so far: the
// postmaster's own and that of its reaped children (cutime, cstime: the
// backends of closed connections), plus every live child's (backends,
// checkpointer, WAL writer, autovacuum…).
func clusterCPU(postmaster int) (time.Duration, error) {
	_, u, s, cu, cs, err := procStat(postmaster)
	if err != nil {
		return 0, fmt.Errorf("postmaster %d: %w", postmaster, err)
	}
	ticks := u + s + cu + cs
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == postmaster {
			continue
		}
		ppid, u, s, _, _, err := procStat(pid)
		if err != nil || ppid != postmaster {
			continue
		}
		ticks += u + s
	}
	return time.Duration(ticks) * clockTick, nil
}

// findPostmaster finds the pid of the server behind url when it runs on
// this machine and we may read its data directory (superuser, or
// pg_read_all_settings); 0 otherwise.
func findPostmaster(ctx context.Context, db *sql.DB) int {
	var dir string
	if err := db.QueryRowContext(ctx, "SHOW data_directory").Scan(&dir); err != nil {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if _, _, _, _, _, err := procStat(pid); err != nil {
		return 0
	}
	return pid
}

// topStatements returns the n statements that took the most execution time
// since the last pg_stat_statements_reset(), as "mean µs × calls: query"
// lines; nil when the extension is not there.
func topStatements(ctx context.Context, db *sql.DB, n int) []string {
	rows, err := db.QueryContext(ctx, `SELECT calls, total_exec_time, query FROM pg_stat_statements
		WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT $1`, n)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var calls int64
		var total float64
		var q string
		if err := rows.Scan(&calls, &total, &q); err != nil {
			return out
		}
		q = strings.Join(strings.Fields(q), " ")
		if len(q) > 110 {
			q = q[:110] + "…"
		}
		out = append(out, fmt.Sprintf("%.0f ms in %d calls (%.0f µs each): `%s`", total, calls, 1000*total/float64(max(calls, 1)), q))
	}
	return out
}
