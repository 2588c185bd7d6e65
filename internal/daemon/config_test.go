package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/daemon"
)

// envOf is an environment of the given KEY, VALUE pairs only.
func envOf(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	bad := [][]string{
		{"CRIEUR_BASE_URL", "ftp://x"},
		{"CRIEUR_MAIL_FROM", "not an address"},
		{"CRIEUR_TIMEZONE", "Mars/Olympus"},
		{"CRIEUR_DIGEST_DAILY", "every morning"},
		{"CRIEUR_FEED_INTERVAL", "soon"},
		{"CRIEUR_LOG_FORMAT", "xml"},
		{"CRIEUR_FEEDS", "file:///etc/passwd"},
		{"CRIEUR_DKIM_DOMAIN", "example.com"},
		{"CRIEUR_PUSH_ALLOW_PRIVATE", "maybe"},
		{"CRIEUR_PUSH_HOSTS", "push.example.net *.com"},
		{"CRIEUR_PUSH_HOSTS", "https://push.example.net"},
		{"CRIEUR_PUSH_HOSTS", "203.0.113.7"},
		{"CRIEUR_LOG_LEVEL", "verbose"},
		{"CRIEUR_SITE_NAME", "Le Journal\r\nBcc: x@example.com"},
		{"CRIEUR_SITE_NAME", " "},
		{"CRIEUR_BASE_URL", "http://localhost:8080/path?x=1"},
		{"CRIEUR_BASE_URL", "http://localhost:8080/#frag"},
		{"CRIEUR_DIGEST_DAILY", "@every 1m"},
		{"CRIEUR_DIGEST_DAILY", "CRON_TZ=UTC @every 1m"},
		{"CRIEUR_DIGEST_WEEKLY", "@hourly"},
		{"CRIEUR_VAPID_PRIVATE_KEY", "garbage"}, // without its public key
		{"CRIEUR_VAPID_PRIVATE_KEY", "garbage", "CRIEUR_VAPID_PUBLIC_KEY", "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"},
		{"CRIEUR_LOG_LEVEL", "loud"},
		{"CRIEUR_TRUSTED_PROXIES", "10.0.0.0/8 nginx"},
		{"CRIEUR_METRICS_LISTEN", "127.0.0.1:9", "CRIEUR_LISTEN", "127.0.0.1:9"},
		{"CRIEUR_ALERT_APPROVAL", "yes please"},
		{"CRIEUR_VAPID_SUBJECT", "alerts@journal.example"},
		{"CRIEUR_VAPID_SUBJECT", "mailto:newsletter@localhost"},
		{"CRIEUR_VAPID_SUBJECT", "https://localhost"},
		{"CRIEUR_VAPID_SUBJECT", "http://journal.example"},
		{"CRIEUR_BOUNCE_LISTEN", "127.0.0.1:2526"},
	}
	for _, b := range bad {
		_, err := daemon.Load("", envOf(b...))
		if err == nil || !strings.Contains(err.Error(), strings.SplitN(b[0], "_", 3)[1]) && !strings.Contains(err.Error(), b[0]) {
			t.Errorf("%s=%s: error %v", b[0], b[1], err)
		}
	}
}

// TestConfigFileKeys: a misspelt CRIEUR_ setting in the file is refused
// with its line (it would be ignored without a word); other names, as in an
// environment file shared with other programs, and "export" lines are fine.
func TestConfigFileKeys(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		body string
		ok   bool
		says string
	}{
		{"# digests\nCRIEUR_DIGET_DAILY=0 6 * * *\n", false, "line 2: unknown setting CRIEUR_DIGET_DAILY"},
		{"OTHER_PROGRAM=1\nexport CRIEUR_DIGEST_DAILY=\"0 6 * * *\"\n", true, ""},
		// An export line is read: its bad value is refused.
		{"export CRIEUR_LOG_LEVEL=verbose\n", false, "CRIEUR_LOG_LEVEL"},
	} {
		dir := t.TempDir()
		file := filepath.Join(dir, "crieur.conf")
		if err := os.WriteFile(file, []byte(c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := daemon.Load(file, envOf())
		if (err == nil) != c.ok || err != nil && !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q: error %v, want ok %v saying %q", c.body, err, c.ok, c.says)
		}
		if c.ok && cfg.DigestDaily != "0 6 * * *" {
			t.Errorf("%q: CRIEUR_DIGEST_DAILY = %q", c.body, cfg.DigestDaily)
		}
	}
}
