package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
		{"CRIEUR_BOUNCE_LISTEN", "127.0.0.1:2526"}, // without a bounce domain
		{"CRIEUR_BOUNCE_DOMAIN", "not a domain"},
		{"CRIEUR_BOUNCE_DOMAIN", "bounces.localhost"},
		{"CRIEUR_BOUNCE_DOMAIN", "user@bounces.example.com"},
		{"CRIEUR_BOUNCE_LISTEN", "2526", "CRIEUR_BOUNCE_DOMAIN", "bounces.example.com"},
		{"CRIEUR_BOUNCE_LISTEN", "127.0.0.1:8080", "CRIEUR_BOUNCE_DOMAIN", "bounces.example.com"},
		{"CRIEUR_BOUNCE_MAILBOX", "pop3://u:p@mail.example.com/INBOX"},
		{"CRIEUR_BOUNCE_MAILBOX", "imap://u:p@mail.example.com/INBOX?tls=none"},
		{"CRIEUR_WEBHOOKS_ALLOW_PRIVATE", "maybe"},
		{"CRIEUR_TRACK_READERS", "yes please"},
		{"CRIEUR_SUNSET_AFTER", "180d"}, // without CRIEUR_TRACK_READERS
		{"CRIEUR_SUNSET_AFTER", "soon", "CRIEUR_TRACK_READERS", "true"},
		{"CRIEUR_SUNSET_AFTER", "-5d", "CRIEUR_TRACK_READERS", "true"},
		{"CRIEUR_DIGEST_LOCAL", "maybe"},
		// A spec read on each reader's clock cannot name a zone of its own.
		{"CRIEUR_DIGEST_LOCAL", "true", "CRIEUR_DIGEST_DAILY", "CRON_TZ=Europe/Paris 0 7 * * *"},
		{"CRIEUR_DIGEST_LOCAL", "true", "CRIEUR_DIGEST_WEEKLY", "CRON_TZ=Europe/Paris 0 7 * * 1"},
		{"CRIEUR_ALERT_APPROVAL", "yes please"},
		{"CRIEUR_VAPID_SUBJECT", "alerts@journal.example"},
		{"CRIEUR_VAPID_SUBJECT", "mailto:newsletter@localhost"},
		{"CRIEUR_VAPID_SUBJECT", "https://localhost"},
		{"CRIEUR_VAPID_SUBJECT", "http://journal.example"},
	}
	for _, b := range bad {
		_, err := daemon.Load("", envOf(b...))
		if err == nil || !strings.Contains(err.Error(), strings.SplitN(b[0], "_", 3)[1]) && !strings.Contains(err.Error(), b[0]) {
			t.Errorf("%s=%s: error %v", b[0], b[1], err)
		}
	}
}

// TestConfigDigestLocal: CRIEUR_DIGEST_LOCAL=true is read (no longer
// refused as a setting of a later version).
func TestConfigDigestLocal(t *testing.T) {
	t.Parallel()
	cfg, err := daemon.Load("", envOf("CRIEUR_DIGEST_LOCAL", "true", "CRIEUR_TIMEZONE", "Europe/Paris"))
	if err != nil || !cfg.DigestLocal {
		t.Fatalf("CRIEUR_DIGEST_LOCAL=true: %+v, %v", cfg.DigestLocal, err)
	}
	if cfg, err := daemon.Load("", envOf()); err != nil || cfg.DigestLocal {
		t.Fatalf("default: %v, %v", cfg.DigestLocal, err)
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

// TestBounceSettings: the ways bounces come in are read when given
// together as the README shows them.
func TestBounceSettings(t *testing.T) {
	t.Parallel()
	cfg, err := daemon.Load("", envOf("CRIEUR_BOUNCE_DOMAIN", "bounces.example.com", "CRIEUR_BOUNCE_LISTEN", "127.0.0.1:2526",
		"CRIEUR_BOUNCE_MAILBOX", "imaps://bounces%40example.com:pw@imap.example.com/INBOX"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BounceDomain != "bounces.example.com" || cfg.BounceListen != "127.0.0.1:2526" || cfg.BounceMailbox == "" {
		t.Errorf("config = %+v", cfg)
	}
	if _, err := daemon.Load("", envOf("CRIEUR_BOUNCE_MAILBOX", "imap://u:pw@127.0.0.1:1143/INBOX?tls=none")); err != nil {
		t.Errorf("plain IMAP on loopback: %v", err)
	}
}

// CRIEUR_WEBHOOKS_ALLOW_PRIVATE is read (it was refused as not built).
func TestWebhooksAllowPrivate(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{"": false, "false": false, "true": true} {
		c, err := daemon.Load("", envOf("CRIEUR_WEBHOOKS_ALLOW_PRIVATE", v))
		if err != nil || c.WebhooksAllowPrivate != want {
			t.Errorf("%q: %v %v", v, c.WebhooksAllowPrivate, err)
		}
	}
}

// TestConfigTrackReaders: CRIEUR_TRACK_READERS is read (off by default).
func TestConfigTrackReaders(t *testing.T) {
	t.Parallel()
	cfg, err := daemon.Load("", envOf())
	if err != nil || cfg.TrackReaders {
		t.Fatalf("default: %v, tracking %v", err, cfg.TrackReaders)
	}
	cfg, err = daemon.Load("", envOf("CRIEUR_TRACK_READERS", "true"))
	if err != nil || !cfg.TrackReaders {
		t.Fatalf("true: %v, tracking %v", err, cfg.TrackReaders)
	}
}

// TestConfigSunsetAfter: days or a Go duration, with readers tracked.
func TestConfigSunsetAfter(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]time.Duration{"180d": 180 * 24 * time.Hour, "4320h": 4320 * time.Hour} {
		cfg, err := daemon.Load("", envOf("CRIEUR_SUNSET_AFTER", v, "CRIEUR_TRACK_READERS", "true"))
		if err != nil || cfg.SunsetAfter != want {
			t.Errorf("%s: %v, %v", v, cfg.SunsetAfter, err)
		}
	}
	if cfg, err := daemon.Load("", envOf()); err != nil || cfg.SunsetAfter != 0 {
		t.Errorf("default: %v, %v", cfg.SunsetAfter, err)
	}
}
