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
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/crieur/crieur/internal/testenv"
)

// EnvURL names the variable that points the tests at an existing server
// (a URL whose user may CREATE DATABASE).
const EnvURL = "CRIEUR_TEST_DATABASE_URL"

var (
	mu      sync.Mutex
	local   *cluster // the throwaway cluster, once started
	errMiss error    // why it could not start, remembered
	seq     atomic.Int64
)

// errNoServer means there are no PostgreSQL server binaries.
var errNoServer = errors.New("no PostgreSQL server binaries")

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
		local.stop()
		os.RemoveAll(local.dir)
		local = nil
	}
}

// URL returns the URL of a new, empty database that is dropped when the
// test ends.
func URL(tb testing.TB) string {
	tb.Helper()
	server, err := serverURL()
	if errors.Is(err, errNoServer) {
		testenv.Missing(tb, "PostgreSQL server")
	}
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	name := fmt.Sprintf("crieur_test_%d_%d", os.Getpid(), seq.Add(1))
	if err := admin(server, `CREATE DATABASE "`+name+`"`); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		// WITH (FORCE) ends connections a killed daemon may have left.
		_ = admin(server, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`)
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
	c.stop()
	if err := c.start(); err != nil {
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
		return local.url(), nil
	}
	if errMiss != nil {
		return "", errMiss
	}
	c, err := newCluster()
	if err != nil {
		errMiss = err
		return "", err
	}
	local = c
	return c.url(), nil
}

func admin(server, stmt string) error {
	db, err := sql.Open("pgx", server)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

// cluster is a PostgreSQL server in a temporary directory.
type cluster struct {
	bin  string // directory of initdb and postgres
	dir  string // holds data/ and the unix socket
	port int
	cred *syscall.Credential // the postgres user's, when we are root

	proc *os.Process
	done chan struct{} // closed when proc exited
}

func (c *cluster) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// findBin returns the newest server binary directory.
func findBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && isExec(filepath.Join(filepath.Dir(p), "postgres")) {
		return filepath.Dir(p), nil
	}
	return "", errNoServer
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&0o111 != 0
}

func newCluster() (*cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	c := &cluster{bin: bin}
	dir, err := os.MkdirTemp("", "crieur-pg-")
	if err != nil {
		return nil, err
	}
	c.dir = dir
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root needs a postgres system user to run the server: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres",
		"--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGKILL}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if c.port, err = freePort(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := c.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start runs postgres and waits until it accepts connections.
func (c *cluster) start() error {
	cmd := exec.Command(filepath.Join(c.bin, "postgres"),
		"-D", filepath.Join(c.dir, "data"), "-k", c.dir, "-p", strconv.Itoa(c.port), "-h", "127.0.0.1", "-F",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=64MB", "-c", "log_min_messages=warning")
	cmd.Dir = c.dir
	logf, err := os.OpenFile(filepath.Join(c.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// The parent-death signal is tied to the thread that forks, so fork
	// from a goroutine locked to its thread that lives as long as the
	// server: when the test binary dies, for whatever reason, so does
	// postgres (its backends follow their postmaster).
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	started := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with this goroutine, after
		// postgres has exited.
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
		err := ping(c.url())
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
			c.stop()
			return fmt.Errorf("postgres not ready after 60s: %w", err)
		}
		time.Sleep(30 * time.Millisecond)
	}
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

// stop asks for a fast shutdown (connections are cut, no checkpoint wait
// beyond the shutdown one) and kills the server if it lingers.
func (c *cluster) stop() {
	if c.proc == nil {
		return
	}
	_ = c.proc.Signal(syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		// Kill the whole process group: postmaster and backends.
		_ = syscall.Kill(-c.proc.Pid, syscall.SIGKILL)
		<-c.done
	}
	c.proc = nil
}

// postmaster returns the pid of the running throwaway server, 0 when none.
func postmaster() int {
	mu.Lock()
	defer mu.Unlock()
	if local == nil || local.proc == nil {
		return 0
	}
	return local.proc.Pid
}
