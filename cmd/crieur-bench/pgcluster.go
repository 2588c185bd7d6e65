package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// pgCluster is a throwaway PostgreSQL server in a temporary directory, as
// internal/store/pgtest starts for the tests (same settings: durability
// off), for `-db postgres`. It dies with the bench (parent-death signal).
type pgCluster struct {
	bin  string // directory of initdb and postgres
	dir  string // holds data/, the unix socket and postgres.log
	port int
	cred *syscall.Credential // the postgres system user's, when we are root
	proc *os.Process
	done chan struct{} // closed when postgres exited
}

// startPgCluster runs initdb (as the postgres system user when we are
// root: the server refuses root) and starts postgres on a free loopback
// port.
func startPgCluster() (*pgCluster, error) {
	bin, err := findPgBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "crieur-bench-pg-")
	if err != nil {
		return nil, err
	}
	c := &pgCluster{bin: bin, dir: dir}
	fail := func(err error) (*pgCluster, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fail(fmt.Errorf("running as root needs a postgres system user to run the server: %w", err))
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return fail(err)
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres",
		"--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGKILL}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %w\n%s", err, out))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if err := c.start(); err != nil {
		return fail(err)
	}
	return c, nil
}

// findPgBin returns the newest /usr/lib/postgresql/*/bin with initdb and
// postgres, or the directory of initdb on PATH.
func findPgBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	ver := func(d string) int { v, _ := strconv.Atoi(filepath.Base(filepath.Dir(d))); return v }
	sort.Slice(dirs, func(i, j int) bool { return ver(dirs[i]) > ver(dirs[j]) })
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("-db postgres: no PostgreSQL server binaries (initdb, postgres) under /usr/lib/postgresql/*/bin or on PATH")
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&0o111 != 0
}

// URL is the cluster's maintenance database.
func (c *pgCluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// Pid is the postmaster's process id.
func (c *pgCluster) Pid() int { return c.proc.Pid }

func (c *pgCluster) start() error {
	cmd := exec.Command(filepath.Join(c.bin, "postgres"),
		"-D", filepath.Join(c.dir, "data"), "-k", c.dir, "-p", strconv.Itoa(c.port), "-h", "127.0.0.1", "-F",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=256MB", "-c", "log_min_messages=warning",
		"-c", "shared_preload_libraries=pg_stat_statements", "-c", "pg_stat_statements.track=all")
	cmd.Dir = c.dir
	logf, err := os.OpenFile(filepath.Join(c.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// The parent-death signal is tied to the forking thread: fork from a
	// goroutine locked to a thread that lives as long as the server.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	started := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends after postgres
		if err := cmd.Start(); err != nil {
			started <- err
			close(done)
			return
		}
		started <- nil
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	if err := <-started; err != nil {
		logf.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	c.proc, c.done = cmd.Process, done
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := pgExec(c.URL("postgres"), "SELECT 1")
		if err == nil {
			return nil
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
			return fmt.Errorf("postgres exited at start:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			c.Stop()
			return fmt.Errorf("postgres not ready after 60s: %w", err)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// Stop shuts the server down fast, kills it if it lingers, and removes
// its files.
func (c *pgCluster) Stop() {
	if c.proc != nil {
		_ = c.proc.Signal(syscall.SIGINT)
		select {
		case <-c.done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-c.proc.Pid, syscall.SIGKILL)
			<-c.done
		}
		c.proc = nil
	}
	os.RemoveAll(c.dir)
}

// pgExec runs one statement on a fresh connection.
func pgExec(url, stmt string) error {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = db.ExecContext(ctx, stmt)
	return err
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
