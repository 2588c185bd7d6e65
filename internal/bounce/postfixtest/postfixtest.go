// Package postfixtest runs a real Postfix (Debian's) for a test: its own
// configuration, queue and data directories in a temp dir, one SMTP
// listener on a loopback port, relaying to loopback next hops named by a
// transport map, and writing its own delivery status notifications. The
// end-to-end bounce test makes it the relay crieur sends through, so the
// bounces crieur reads are ones a real MTA wrote.
//
// Postfix's master must start as root (it binds, then drops to the
// postfix user); without root or without Postfix the test is skipped,
// and fails under CI.
package postfixtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/testenv"
)

// MTA is one running Postfix.
type MTA struct {
	Addr string // host:port of its SMTP listener
	dir  string
}

// Start runs Postfix with transport, a map from a recipient domain to a
// Postfix next hop ("smtp:[127.0.0.1]:2525", "error:5.1.1 No such user"),
// and stops it at the end of the test. Mail for any other domain is
// deferred, never sent anywhere: DNS is off. Temporary failures are
// returned at once (maximal_queue_lifetime = 0), so a test sees the
// DSN a mailer writes when it gives up without waiting days.
func Start(t *testing.T, transport map[string]string) *MTA {
	t.Helper()
	bin := testenv.LookPath(t, "postfix", "/usr/sbin/postfix")
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (Postfix's master starts as root)")
	}
	pu, err := user.Lookup("postfix")
	if err != nil {
		testenv.Missing(t, "the postfix user (the Debian package creates it)")
	}
	uid, _ := strconv.Atoi(pu.Uid)
	dir, err := os.MkdirTemp("", "crieur-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"conf", "queue", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(filepath.Join(dir, "data"), uid, -1); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &MTA{Addr: ln.Addr().String(), dir: dir}
	ln.Close()

	var tr strings.Builder
	for domain, hop := range transport {
		fmt.Fprintf(&tr, "%s %s\n", domain, hop)
	}
	conf := filepath.Join(dir, "conf")
	files := map[string]string{
		"transport": tr.String(),
		"main.cf": fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
daemon_directory = /usr/lib/postfix/sbin
command_directory = /usr/sbin
mail_owner = postfix
setgid_group = postdrop
myhostname = mta.test
mydomain = mta.test
myorigin = mta.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_reject_unlisted_recipient = no
transport_maps = texthash:%[1]s/conf/transport
smtp_dns_support_level = disabled
maillog_file_prefixes = %[1]s
maillog_file = %[1]s/maillog
maximal_queue_lifetime = 0
bounce_queue_lifetime = 0
alias_maps =
alias_database =
local_recipient_maps =
biff = no
`, dir),
		"master.cf": m.Addr + ` inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(bin, "-c", conf, "start").CombinedOutput(); err != nil {
		t.Fatalf("postfix start: %v\n%s\n%s", err, out, m.Log())
	}
	t.Cleanup(func() {
		exec.Command(bin, "-c", conf, "stop").Run()
		// stop returns once master is told; its children leave within a
		// moment, and the queue files with them.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(filepath.Join(dir, "data", "master.lock")); err != nil {
				break
			}
			if exec.Command(bin, "-c", conf, "status").Run() != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.Addr, time.Second)
		if err == nil {
			c.Close()
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix did not listen on %s: %v\n%s", m.Addr, err, m.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log is Postfix's log so far (maillog_file).
func (m *MTA) Log() string {
	b, _ := os.ReadFile(filepath.Join(m.dir, "maillog"))
	return string(b)
}
