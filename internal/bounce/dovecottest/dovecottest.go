// Package dovecottest runs a real Dovecot IMAP server (Debian's
// dovecot-imapd) for a test, as pgtest runs PostgreSQL: its own
// configuration and Maildir storage in a temp dir, one user, plain IMAP on
// a loopback port. Without Dovecot the test is skipped, and fails under
// CI.
package dovecottest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
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
	Addr string // 127.0.0.1:PORT, plain IMAP (tls=none is allowed on loopback only); STARTTLS too with WithTLS
	// TLSAddr is the imaps:// port and RootCAs trusts its certificate
	// (for 127.0.0.1), with WithTLS only.
	TLSAddr string
	RootCAs *x509.CertPool
	User    string
	Pass    string
	dir     string
}

// Start runs `dovecot -F` with its own configuration, one user
// (reader / a random password) and Maildir storage; it is stopped at the
// end of the test. Without Dovecot the test is skipped (failed under CI).
func Start(t *testing.T, opts ...Option) *Server {
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
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	port, tlsPort := freePort(t), 0
	d := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir, User: "reader", Pass: fmt.Sprintf("pw-%d", time.Now().UnixNano())}
	sslConf := "ssl = no"
	if o.tls {
		tlsPort = freePort(t)
		d.TLSAddr = fmt.Sprintf("127.0.0.1:%d", tlsPort)
		var cert, key string
		cert, key, d.RootCAs = selfSigned(t, dir)
		sslConf = "ssl = yes\nssl_cert = <" + cert + "\nssl_key = <" + key
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(d.User+":{PLAIN}"+d.Pass+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
%[6]s
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
    address = 127.0.0.1
    port = %[7]d
  }
}
service anvil {
  chroot =
}
`, dir, mailUser, mailGroup, home, port, sslConf, tlsPort)
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

// Option changes what Start runs.
type Option func(*options)

type options struct{ tls bool }

// WithTLS serves imaps:// on TLSAddr and STARTTLS on Addr, with a
// certificate for 127.0.0.1 made for the test.
func WithTLS() Option { return func(o *options) { o.tls = true } }

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certPath, keyPath string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dovecottest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certPath, keyPath, pool
}
