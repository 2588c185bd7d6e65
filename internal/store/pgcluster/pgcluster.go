// Package pgcluster runs a throwaway PostgreSQL server in a temporary
// directory from the server binaries on this machine (initdb, postgres),
// for the tests (internal/store/pgtest) and the benchmarks. Durability is
// off; the server listens on a free loopback port; it dies with the
// process that started it (a parent-death signal from a thread that lives
// exactly as long as the server). As root, the server runs as the
// `postgres` system user: postgres refuses root.
//
// It imports no other crieur package (the benchmarks use it too).
package pgcluster

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
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// ErrNoServer means there are no PostgreSQL server binaries.
var ErrNoServer = errors.New("no PostgreSQL server binaries (initdb, postgres) under /usr/lib/postgresql/*/bin or on PATH")

// Cluster is a running (or stopped) throwaway server.
type Cluster struct {
	bin   string   // directory of initdb and postgres
	dir   string   // holds data/, the unix socket and postgres.log
	port  int      //
	extra []string // more "-c name=value" settings
	cred  *syscall.Credential

	proc *os.Process
	done chan struct{} // closed when postgres exited
}

// New runs initdb and starts the server; settings are extra
// "name=value" server settings.
func New(settings ...string) (*Cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "crieur-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, dir: dir}
	for _, s := range settings {
		c.extra = append(c.extra, "-c", s)
	}
	fail := func(err error) (*Cluster, error) {
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
	if err := c.Start(); err != nil {
		return fail(err)
	}
	return c, nil
}

// findBin returns the newest /usr/lib/postgresql/*/bin with initdb and
// postgres, or the directory of initdb on PATH.
func findBin() (string, error) {
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
	return "", ErrNoServer
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&0o111 != 0
}

// URL is the URL of database db on the server, as the superuser.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// Pid is the postmaster's process id, 0 when stopped.
func (c *Cluster) Pid() int {
	if c.proc == nil {
		return 0
	}
	return c.proc.Pid
}

// Start runs postgres (again, on the same port after Stop) and waits until
// it accepts connections.
func (c *Cluster) Start() error {
	args := append([]string{"-D", filepath.Join(c.dir, "data"), "-k", c.dir, "-p", strconv.Itoa(c.port), "-h", "127.0.0.1", "-F",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "log_min_messages=warning"}, c.extra...)
	cmd := exec.Command(filepath.Join(c.bin, "postgres"), args...)
	cmd.Dir = c.dir
	logf, err := os.OpenFile(filepath.Join(c.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// The parent-death signal is tied to the thread that forks, so fork
	// from a goroutine locked to its thread that lives as long as the
	// server: when our process dies, for whatever reason, so does postgres
	// (its backends follow their postmaster).
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
		err := ping(c.URL("postgres"))
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

// Exec runs one statement on a fresh connection to url (CREATE DATABASE
// and the like, which cannot run inside a pool's transaction), bounded to
// 30 s.
func Exec(url, stmt string) error {
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

func ping(u string) error {
	db, err := sql.Open("pgx", u)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// Stop asks for a fast shutdown (connections are cut) and kills the whole
// process group if it lingers. The files stay: Start runs it again.
func (c *Cluster) Stop() {
	if c.proc == nil {
		return
	}
	_ = c.proc.Signal(syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-c.proc.Pid, syscall.SIGKILL)
		<-c.done
	}
	c.proc = nil
}

// Remove stops the server and deletes its files.
func (c *Cluster) Remove() {
	c.Stop()
	os.RemoveAll(c.dir)
}

// Dir is the directory holding the server's data and log.
func (c *Cluster) Dir() string { return c.dir }

// Version is the server's major version, from its binaries' directory
// (/usr/lib/postgresql/15/bin → "PostgreSQL 15").
func (c *Cluster) Version() string {
	return "PostgreSQL " + filepath.Base(filepath.Dir(c.bin))
}

// Available reports whether server binaries exist on this machine.
func Available() bool {
	_, err := findBin()
	return err == nil
}
