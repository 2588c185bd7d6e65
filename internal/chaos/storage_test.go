package chaos_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/store/pgtest"
)

// storageScenarios take the database away mid-run.
var storageScenarios = []scenario{
	{name: "storage SQLite disk full", run: sqliteFull},
	{name: "storage PostgreSQL restart", run: postgresRestart},
}

// fullFor is how long the disk stays full: longer than the recorder's
// retries (about 3 s), so the failure path that leaves rows claimed for
// the rescuer is taken, not only the retry.
const fullFor = 5 * time.Second

// sqliteFull puts the SQLite database on a small tmpfs, fills the file
// system a quarter of the way through a digest, frees it 5 s later, and
// checks that the daemon said so clearly, that the database is intact and
// that the digest finished with at most the in-flight messages twice.
//
// Why not a read-only directory: the daemon runs as root here, and root
// ignores permission bits (CAP_DAC_OVERRIDE); a read-only remount is
// refused while the database files are open for writing (EBUSY), and a
// read-only bind mount taken after the files were opened does not stop
// writes through the descriptors already open. A full file system is what
// an unprivileged test cannot fake but a root one can, and it is the
// common production failure.
func sqliteFull(t *testing.T, sz sizes, v *verdict) {
	mnt := filepath.Join(t.TempDir(), "db")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=48m,mode=0700"); err != nil {
		v.notRun("cannot mount a tmpfs for the database (needs root or CAP_SYS_ADMIN): " + err.Error())
	}
	// Cleanups run last-registered first: the daemon (registered later) is
	// killed before the file system goes away.
	t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })

	n := sz.faults * 2
	s := newSink(t, sinkFaults{delay: killMailDelay})
	f := newFixture(t, mnt, map[string]string{"CRIEUR_SMTP_URL": s.URL(), "CRIEUR_SMTP_CONNECTIONS": "4"})
	addrs := f.readers(n)
	f.start()
	f.articles()
	begin := time.Now()
	id := f.runDigest()
	if !waitUntil(time.Minute, func() bool { return s.n() >= n/4 }) {
		v.fail("only %d messages before filling the disk", s.n())
	}
	filler := filepath.Join(mnt, "filler")
	if err := fill(filler); err != nil {
		t.Fatalf("fill the file system: %v", err)
	}
	full := time.Now()
	atFull := s.n()
	// Keep writing: a WAL that a checkpoint has reset is rewritten in place
	// and needs no new block, so the first writes may still succeed.
	waitUntil(fullFor, func() bool { return strings.Contains(f.p.Logs(), "full") })
	time.Sleep(time.Until(full.Add(fullFor)))
	duringFull := s.n() - atFull
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	logs := f.p.Logs()
	sawFull := strings.Contains(logs, "database or disk is full") || strings.Contains(logs, "SQLITE_FULL") || strings.Contains(logs, "no space left")
	if !sawFull {
		v.fail("the log never said the disk was full")
	}
	r := waitRun(f, v, id, 3*time.Minute)
	checkRun(v, r, n, 0)
	d, dup, lost := tally(s.accepted(), addrs)
	v.counts(n, d, dup, lost, emailBound)
	if first := s.firstAfter(freed); !first.IsZero() {
		v.row.Recovery = first.Sub(freed)
	}
	v.row.Total = s.last().Sub(begin)
	if err, took := f.p.Term(15 * time.Second); err != nil {
		v.fail("SIGTERM after the run: %v after %v", err, took)
	}
	var check string
	db := f.openDB()
	defer db.Close()
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		v.fail("PRAGMA integrity_check = %q, %v", check, err)
	}
	errLines := logLines(t, logs, "full")
	v.note("48 MB tmpfs full for %v: %d log lines about it, %d messages went out meanwhile; integrity_check %s",
		fullFor, errLines, duringFull, check)
}

// fill writes path until the file system is full.
func fill(path string) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	buf := make([]byte, 1<<20)
	for {
		if _, err := fh.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			return err
		}
	}
	// The last partial megabyte.
	small := buf[:4096]
	for {
		if _, err := fh.Write(small); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil
			}
			return err
		}
	}
}

// postgresRestart runs a digest on PostgreSQL and restarts the server (fast
// shutdown: connections cut) a quarter of the way through.
func postgresRestart(t *testing.T, sz sizes, v *verdict) {
	dbURL := pgtest.URL(t)
	n := sz.faults * 2
	s := newSink(t, sinkFaults{delay: killMailDelay})
	f := newFixture(t, "", map[string]string{"CRIEUR_DATABASE_URL": dbURL, "CRIEUR_SMTP_URL": s.URL(), "CRIEUR_SMTP_CONNECTIONS": "4"})
	addrs := f.readers(n)
	f.start()
	f.articles()
	begin := time.Now()
	id := f.runDigest()
	if !waitUntil(time.Minute, func() bool { return s.n() >= n/4 }) {
		v.fail("only %d messages before the restart", s.n())
	}
	down := time.Now()
	pgtest.Restart(t)
	up := time.Now()
	at := s.n()
	r := waitRun(f, v, id, 3*time.Minute)
	checkRun(v, r, n, 0)
	d, dup, lost := tally(s.accepted(), addrs)
	v.counts(n, d, dup, lost, emailBound)
	if first := s.firstAfter(up); !first.IsZero() {
		v.row.Recovery = first.Sub(up)
	}
	v.row.Total = s.last().Sub(begin)
	logs := f.p.Logs()
	errLines := logLines(t, logs, "level=ERROR")
	v.note("restarted at %d of %d, down %v; %d error lines in the log", at, n, up.Sub(down).Round(time.Millisecond), errLines)
}

// logLines counts the log lines containing s and shows the first three.
func logLines(t *testing.T, logs, s string) int {
	n := 0
	for line := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(line, s) {
			n++
			if n <= 3 {
				t.Logf("log: %s", line)
			}
		}
	}
	return n
}
