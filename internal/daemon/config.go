package daemon

import (
	"bufio"
	"fmt"
	"log/slog"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/schedule"
	"github.com/crieur/crieur/internal/web"
)

// Config is every setting of the daemon: Defaults, then the --config file,
// then CRIEUR_* environment variables (Load). A program that builds a
// daemon without the CLI (the bench, tests) starts from Defaults.
type Config struct {
	DatabaseURL      string
	Listen           string
	BaseURL          string
	SMTPURL          string
	MailFrom         string
	MailOutbox       string
	Timezone         string
	DigestDaily      string
	DigestWeekly     string
	DigestLocal      bool
	Feeds            []string
	FeedInterval     time.Duration
	FeedsAllowPriv   bool
	PushAllowPrivate bool
	PushHosts        []string
	AllowedOrigins   []string
	VAPIDSubject     string
	VAPIDPrivateKey  string
	VAPIDPublicKey   string
	SecretKey        string
	LogFormat        string
	LogLevel         string
	SiteName         string
	SMTPConnections  int
	SMTPRate         float64
	PushConcurrency  int
	PushIcon         string
	DKIMDomain       string
	DKIMSelector     string
	DKIMKeyFile      string
	Lease            time.Duration
	TrustProxy       bool
	TrustedProxies   []netip.Prefix
	MetricsListen    string
	ShutdownGrace    time.Duration
	RetryBase        time.Duration
	DBMaxConns       int
	SMTPTimeout      time.Duration
	PushTimeout      time.Duration
	// The ways bounces and complaints come back (see bounce.go).
	BounceDomain  string
	BounceListen  string
	BounceMailbox string
	Health        ListHealth

	// WebhooksAllowPrivate lets webhook URLs reach loopback and private
	// addresses over plain http (tests and development only).
	WebhooksAllowPrivate bool
	// TrackReaders keeps clicks per reader (CRIEUR_TRACK_READERS).
	TrackReaders bool
	// SunsetAfter (CRIEUR_SUNSET_AFTER, 0: off) asks readers quiet that
	// long whether they still want the newsletter; needs TrackReaders.
	SunsetAfter time.Duration
	// AlertApproval: every alert waits for a second person's approval.
	AlertApproval bool
}

// Defaults is the configuration with nothing set.
func Defaults() Config {
	return Config{
		DatabaseURL:     "sqlite:crieur.db",
		Listen:          "127.0.0.1:8080",
		BaseURL:         "http://localhost:8080",
		MailFrom:        "Newsletter <newsletter@localhost>",
		MailOutbox:      "mail-outbox",
		Timezone:        "UTC",
		DigestDaily:     "0 7 * * *",
		DigestWeekly:    "0 7 * * 1",
		FeedInterval:    5 * time.Minute,
		LogFormat:       "text",
		LogLevel:        "info",
		SiteName:        "Newsletter",
		SMTPConnections: 4,
		PushConcurrency: 1024,
		Lease:           2 * time.Minute,
		ShutdownGrace:   8 * time.Second,
		SMTPTimeout:     30 * time.Second,
		PushTimeout:     15 * time.Second,
		Health:          defaultListHealth(),
	}
}

// Load reads the optional KEY=VALUE file, then the environment (env is
// os.LookupEnv in the daemon), over Defaults, and validates the result.
func Load(file string, env func(string) (string, bool)) (Config, error) {
	c := Defaults()
	vals := map[string]string{}
	lines := map[string]int{} // where each key of the file is
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return c, fmt.Errorf("config file: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		n := 0
		for sc.Scan() {
			n++
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
			if !ok {
				return c, fmt.Errorf("config file %s line %d: want KEY=VALUE", file, n)
			}
			k = strings.TrimSpace(k)
			vals[k] = strings.Trim(strings.TrimSpace(v), `"'`)
			lines[k] = n
		}
		if err := sc.Err(); err != nil {
			return c, fmt.Errorf("config file: %w", err)
		}
	}
	known := map[string]bool{}
	get := func(k string) (string, bool) {
		known[k] = true
		if v, ok := env(k); ok {
			return v, true
		}
		v, ok := vals[k]
		return v, ok
	}
	var errs []string
	str := func(k string, dst *string) {
		if v, ok := get(k); ok {
			*dst = v
		}
	}
	boolean := func(k string, dst *bool) {
		if v, ok := get(k); ok && v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, k+" must be true or false")
			}
			*dst = b
		}
	}
	dur := func(k string, dst *time.Duration) {
		if v, ok := get(k); ok && v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, k+" must be a positive duration such as 5m")
			}
			*dst = d
		}
	}
	integer := func(k string, dst *int) {
		if v, ok := get(k); ok && v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				errs = append(errs, k+" must be a positive integer")
			}
			*dst = n
		}
	}
	str("CRIEUR_DATABASE_URL", &c.DatabaseURL)
	str("CRIEUR_LISTEN", &c.Listen)
	str("CRIEUR_BASE_URL", &c.BaseURL)
	str("CRIEUR_SMTP_URL", &c.SMTPURL)
	str("CRIEUR_MAIL_FROM", &c.MailFrom)
	str("CRIEUR_MAIL_OUTBOX", &c.MailOutbox)
	str("CRIEUR_TIMEZONE", &c.Timezone)
	str("CRIEUR_DIGEST_DAILY", &c.DigestDaily)
	str("CRIEUR_DIGEST_WEEKLY", &c.DigestWeekly)
	boolean("CRIEUR_DIGEST_LOCAL", &c.DigestLocal)
	if v, ok := get("CRIEUR_FEEDS"); ok {
		c.Feeds = strings.Fields(v)
	}
	dur("CRIEUR_FEED_INTERVAL", &c.FeedInterval)
	boolean("CRIEUR_FEEDS_ALLOW_PRIVATE", &c.FeedsAllowPriv)
	boolean("CRIEUR_PUSH_ALLOW_PRIVATE", &c.PushAllowPrivate)
	boolean("CRIEUR_WEBHOOKS_ALLOW_PRIVATE", &c.WebhooksAllowPrivate)
	if v, ok := get("CRIEUR_PUSH_HOSTS"); ok {
		c.PushHosts = strings.Fields(v)
	}
	if v, ok := get("CRIEUR_ALLOWED_ORIGINS"); ok {
		c.AllowedOrigins = strings.Fields(v)
	}
	str("CRIEUR_VAPID_SUBJECT", &c.VAPIDSubject)
	str("CRIEUR_VAPID_PRIVATE_KEY", &c.VAPIDPrivateKey)
	str("CRIEUR_VAPID_PUBLIC_KEY", &c.VAPIDPublicKey)
	str("CRIEUR_SECRET_KEY", &c.SecretKey)
	str("CRIEUR_LOG_FORMAT", &c.LogFormat)
	str("CRIEUR_LOG_LEVEL", &c.LogLevel)
	str("CRIEUR_SITE_NAME", &c.SiteName)
	integer("CRIEUR_SMTP_CONNECTIONS", &c.SMTPConnections)
	if v, ok := get("CRIEUR_SMTP_RATE"); ok && v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			errs = append(errs, "CRIEUR_SMTP_RATE must be messages per second (0: no limit)")
		}
		c.SMTPRate = f
	}
	integer("CRIEUR_PUSH_CONCURRENCY", &c.PushConcurrency)
	str("CRIEUR_PUSH_ICON", &c.PushIcon)
	str("CRIEUR_DKIM_DOMAIN", &c.DKIMDomain)
	str("CRIEUR_DKIM_SELECTOR", &c.DKIMSelector)
	str("CRIEUR_DKIM_KEY_FILE", &c.DKIMKeyFile)
	dur("CRIEUR_LEASE", &c.Lease)
	boolean("CRIEUR_TRUST_PROXY", &c.TrustProxy)
	boolean("CRIEUR_TRACK_READERS", &c.TrackReaders)
	if v, ok := get("CRIEUR_SUNSET_AFTER"); ok && v != "" {
		d, err := parseDays(v)
		if err != nil {
			errs = append(errs, "CRIEUR_SUNSET_AFTER: "+err.Error())
		}
		c.SunsetAfter = d
	}
	boolean("CRIEUR_ALERT_APPROVAL", &c.AlertApproval)
	if v, ok := get("CRIEUR_TRUSTED_PROXIES"); ok {
		ps, err := parsePrefixes(v)
		if err != nil {
			errs = append(errs, "CRIEUR_TRUSTED_PROXIES: "+err.Error())
		}
		c.TrustedProxies = ps
	}
	str("CRIEUR_METRICS_LISTEN", &c.MetricsListen)
	dur("CRIEUR_SHUTDOWN_GRACE", &c.ShutdownGrace)
	dur("CRIEUR_RETRY_BASE", &c.RetryBase)
	integer("CRIEUR_DB_MAX_CONNS", &c.DBMaxConns)
	dur("CRIEUR_SMTP_TIMEOUT", &c.SMTPTimeout)
	dur("CRIEUR_PUSH_TIMEOUT", &c.PushTimeout)
	str("CRIEUR_BOUNCE_DOMAIN", &c.BounceDomain)
	str("CRIEUR_BOUNCE_LISTEN", &c.BounceListen)
	str("CRIEUR_BOUNCE_MAILBOX", &c.BounceMailbox)
	errs = append(errs, loadListHealth(get, &c.Health)...)
	// A misspelt setting would be ignored without a word; other names
	// (an environment file shared with other programs) are left alone.
	for k, n := range lines {
		if strings.HasPrefix(k, "CRIEUR_") && !known[k] {
			errs = append(errs, fmt.Sprintf("config file %s line %d: unknown setting %s", file, n, k))
		}
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return c, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return c, c.Validate()
}

// Validate names the first bad setting.
func (c Config) Validate() error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("CRIEUR_BASE_URL must be an absolute http(s) URL")
	}
	if strings.ContainsAny(c.BaseURL, "?#") {
		// Links are made by appending paths to it.
		return fmt.Errorf("CRIEUR_BASE_URL must not have a query or a fragment")
	}
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		return fmt.Errorf("CRIEUR_MAIL_FROM is not an address: %v", err)
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		return fmt.Errorf("CRIEUR_TIMEZONE: unknown time zone %q", c.Timezone)
	}
	if _, err := schedule.Parse(c.DigestDaily); err != nil {
		return fmt.Errorf("CRIEUR_DIGEST_DAILY: %v", err)
	}
	if _, err := schedule.Parse(c.DigestWeekly); err != nil {
		return fmt.Errorf("CRIEUR_DIGEST_WEEKLY: %v", err)
	}
	if c.DigestLocal {
		if _, err := schedule.ParseLocal(c.DigestDaily); err != nil {
			return fmt.Errorf("CRIEUR_DIGEST_DAILY: %v", err)
		}
		if _, err := schedule.ParseLocal(c.DigestWeekly); err != nil {
			return fmt.Errorf("CRIEUR_DIGEST_WEEKLY: %v", err)
		}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("CRIEUR_LOG_FORMAT must be text or json")
	}
	var lvl slog.Level // as the CLI's logger reads it
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("CRIEUR_LOG_LEVEL must be debug, info, warn or error")
	}
	if strings.TrimSpace(c.SiteName) == "" || strings.ContainsFunc(c.SiteName, unicode.IsControl) {
		return fmt.Errorf("CRIEUR_SITE_NAME must be a name on one line")
	}
	if (c.VAPIDPrivateKey == "") != (c.VAPIDPublicKey == "") {
		return fmt.Errorf("set both CRIEUR_VAPID_PRIVATE_KEY and CRIEUR_VAPID_PUBLIC_KEY, or neither (a pair is then generated and kept in the database)")
	}
	if c.VAPIDSubject != "" {
		if err := push.CheckSubject(c.VAPIDSubject); err != nil {
			return fmt.Errorf("CRIEUR_VAPID_SUBJECT %q: %v (Apple's push service refuses every alert signed with it: 403 BadJwtToken)", c.VAPIDSubject, err)
		}
	}
	if c.VAPIDPrivateKey != "" {
		if err := push.ValidateVAPIDKeys(c.VAPIDPrivateKey, c.VAPIDPublicKey); err != nil {
			return fmt.Errorf("CRIEUR_VAPID_PRIVATE_KEY and CRIEUR_VAPID_PUBLIC_KEY: %v", err)
		}
	}
	for _, f := range c.Feeds {
		fu, err := url.Parse(f)
		if err != nil || (fu.Scheme != "http" && fu.Scheme != "https") || fu.Host == "" {
			return fmt.Errorf("CRIEUR_FEEDS: %q is not an http(s) URL", f)
		}
	}
	if _, err := push.NewHosts(c.PushHosts); err != nil {
		return fmt.Errorf("CRIEUR_PUSH_HOSTS: %v", err)
	}
	if (c.DKIMDomain != "" || c.DKIMSelector != "" || c.DKIMKeyFile != "") && (c.DKIMDomain == "" || c.DKIMSelector == "" || c.DKIMKeyFile == "") {
		return fmt.Errorf("DKIM needs CRIEUR_DKIM_DOMAIN, CRIEUR_DKIM_SELECTOR and CRIEUR_DKIM_KEY_FILE together")
	}
	if c.SMTPConnections == 0 {
		return fmt.Errorf("CRIEUR_SMTP_CONNECTIONS must be at least 1")
	}
	if c.Lease < 3*time.Second {
		// Claims are renewed every third of the lease.
		return fmt.Errorf("CRIEUR_LEASE must be at least 3s")
	}
	if c.PushConcurrency == 0 {
		return fmt.Errorf("CRIEUR_PUSH_CONCURRENCY must be at least 1")
	}
	if c.MetricsListen != "" && c.MetricsListen == c.Listen {
		return fmt.Errorf("CRIEUR_METRICS_LISTEN must differ from CRIEUR_LISTEN")
	}
	if c.SunsetAfter > 0 && !c.TrackReaders {
		// Without per-reader clicks every reader looks quiet.
		return fmt.Errorf("CRIEUR_SUNSET_AFTER needs CRIEUR_TRACK_READERS=true: without clicks kept per reader every reader looks quiet")
	}
	return c.validateBounces()
}

// mailAddress is the bare address of CRIEUR_MAIL_FROM.
func (c Config) mailAddress() string {
	a, err := mail.ParseAddress(c.MailFrom)
	if err != nil {
		return "newsletter@localhost"
	}
	return a.Address
}

// proxies are the reverse proxies whose X-Forwarded-For is believed:
// CRIEUR_TRUSTED_PROXIES, else with CRIEUR_TRUST_PROXY=true the private
// ranges a proxy in front of the daemon connects from.
func (c Config) proxies() []netip.Prefix {
	if len(c.TrustedProxies) > 0 {
		return c.TrustedProxies
	}
	if c.TrustProxy {
		return web.PrivateProxies
	}
	return nil
}

// parsePrefixes reads space- or comma-separated CIDRs; a bare address is
// its own /32 or /128.
func parsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
