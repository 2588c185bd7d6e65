// Package dovecottest runs a real Dovecot IMAP server (Debian's
// dovecot-imapd) for a test, as pgtest runs PostgreSQL: its own
// configuration and Maildir storage in a temp dir, one user, plain IMAP on
// a loopback port. Without Dovecot the test is skipped, and fails under
// CI.
package dovecottest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/testenv"
)

// Server is one running Dovecot.
type Server struct {
	Addr string // 127.0.0.1:PORT, plain IMAP (tls=none is allowed on loopback only)
	User string
	Pass string
	dir  string
}

// Start runs `dovecot -F` with its own configuration, one user
// (reader / a random password) and Maildir storage; it is stopped at the
// end of the test. Without Dovecot the test is skipped (failed under CI).
func Start(t *testing.T) *Server {
	t.Helper()
	bin := testenv.LookPath(t, "dovecot", "/usr/sbin/dovecot")
	// Not t.TempDir: the mail processes run as an unprivileged user who
	// must reach the home directory.
	dir, err := os.MkdirTemp("", "crieur-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mailUser, mailGroup := "nobody", "nogroup"
	if os.Getuid() != 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		g, err := user.LookupGroupId(u.Gid)
		if err != nil {
			t.Fatal(err)
		}
		mailUser, mailGroup = u.Username, g.Name
	}
	home := filepath.Join(dir, "home")
	for _, d := range []string{"run", "state", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if os.Getuid() == 0 {
		u, err := user.Lookup(mailUser)
		if err != nil {
			testenv.Missing(t, "the user nobody (for Dovecot's mail processes)")
		}
		var uid, gid int
		fmt.Sscan(u.Uid, &uid)
		fmt.Sscan(u.Gid, &gid)
		if err := os.Chown(home, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	d := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir, User: "reader", Pass: fmt.Sprintf("pw-%d", time.Now().UnixNano())}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(d.User+":{PLAIN}"+d.Pass+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 1
mail_location = maildir:~/Maildir
default_internal_user = %[2]s
default_internal_group = %[3]s
default_login_user = %[2]s
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/passwd
}
userdb {
  driver = static
  args = uid=%[2]s gid=%[3]s home=%[4]s/%%u
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = %[5]d
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
`, dir, mailUser, mailGroup, home, port)
	confPath := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-F", "-c", confPath)
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dovecot: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		out.Close()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.Addr, time.Second)
		if err == nil {
			c.Close()
			return d
		}
		if time.Now().After(deadline) {
			logs, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			so, _ := os.ReadFile(filepath.Join(dir, "stdout.log"))
			t.Fatalf("dovecot did not listen on %s: %v\n%s\n%s", d.Addr, err, logs, so)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL is a CRIEUR_BOUNCE_MAILBOX for this server's INBOX, logging in
// with pass, polled every 50 ms.
func (d *Server) URL(pass string) string {
	return "imap://" + d.User + ":" + pass + "@" + d.Addr + "/INBOX?tls=none&interval=50ms"
}

// Logs is Dovecot's log so far.
func (d *Server) Logs() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
	return strings.TrimSpace(string(b))
}
