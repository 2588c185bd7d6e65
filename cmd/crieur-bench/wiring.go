package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"time"

	"github.com/crieur/crieur/internal/daemon"
)

const siteURL = "https://news.example.com"

// The bench builds crieur through internal/daemon, as `crieur serve` does,
// with one side (daemon.MailOnly or daemon.PushOnly) and the settings a
// publisher would give: what it measures is the shipped pipeline with
// everything the daemon adds (the metrics observer, the push payload check
// and cancel hook, the janitor), not a copy of it wired by hand.

// benchConfig is the daemon's configuration for database url: the
// publisher "Le Quotidien" in Paris, SMTP connections and push concurrency
// from the command line. Push goes to the loopback stub, so private
// addresses are allowed, as CRIEUR_PUSH_ALLOW_PRIVATE=true does.
func benchConfig(o options, url string) daemon.Config {
	cfg := daemon.Defaults()
	cfg.DatabaseURL = url
	cfg.BaseURL = siteURL
	cfg.SiteName = "Le Quotidien"
	cfg.MailFrom = "Le Quotidien <newsletter@news.example.com>"
	cfg.Timezone = "Europe/Paris"
	cfg.MailOutbox = filepath.Join(os.TempDir(), "crieur-bench-outbox") // unused: SMTPURL is set where mail is sent
	cfg.SMTPConnections = max(o.smtpConns, 1)
	cfg.PushConcurrency = max(o.pushConc, 1)
	cfg.PushAllowPrivate = true
	cfg.VAPIDSubject = "mailto:ops@news.example.com"
	return cfg
}

// newDaemon builds one side of crieur on url with cfg's settings (see
// benchConfig) changed by set.
func newDaemon(ctx context.Context, o options, url string, side daemon.Option, set func(*daemon.Config)) (*daemon.Daemon, error) {
	cfg := benchConfig(o, url)
	if set != nil {
		set(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return daemon.New(ctx, cfg, o.logger(), side)
}

// dkimKey writes a fresh RSA-2048 key to dir for CRIEUR_DKIM_KEY_FILE and
// returns its path.
func dkimKey(dir string) (string, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "dkim.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	return path, os.WriteFile(path, b, 0o600)
}

// withDKIM signs every message with the key at path, as a production setup
// does (-dkim).
func withDKIM(path string) func(*daemon.Config) {
	return func(c *daemon.Config) {
		c.DKIMDomain, c.DKIMSelector, c.DKIMKeyFile = "news.example.com", "crieur", path
	}
}

// stopDaemon drains d, giving messages in flight up to grace.
func stopDaemon(d *daemon.Daemon, grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	d.Stop(ctx)
}
