package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/crieur/crieur/internal/alert"
	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/digest"
	"github.com/crieur/crieur/internal/dispatch"
	"github.com/crieur/crieur/internal/feed"
	"github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/netguard"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/schedule"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/internal/web/site"
	"github.com/crieur/crieur/templates"
)

// App is the wired daemon. Main builds one per command; end-to-end tests
// build one on 127.0.0.1:0 and call Run.
type App struct {
	cfg   Config
	log   *slog.Logger
	loc   *time.Location
	owner string

	Store     *store.Store
	Subscribe *subscribe.Service
	Composer  *compose.Composer
	Mailer    *dispatch.Mailer
	Pusher    *dispatch.Pusher
	Alerts    *alert.Service
	Digests   *digest.Runner
	Poller    *feed.Poller
	Metrics   *web.Metrics
	Handler   *web.Server
	VAPIDPub  string

	ln       net.Listener
	migrated int    // migrations NewApp applied
	host     string // this machine's name, the end of a.owner

	metLn net.Listener // CRIEUR_METRICS_LISTEN, when set
}

// NewApp opens and migrates the database, loads or creates the secrets and
// builds every service. It binds nothing.
func NewApp(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	a := &App{cfg: cfg, log: log}
	a.loc, _ = time.LoadLocation(cfg.Timezone)
	host, _ := os.Hostname()
	a.host = host
	a.owner = ownerName(host, os.Getpid())

	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{MaxConns: cfg.DBMaxConns})
	if err != nil {
		return nil, err
	}
	a.Store = st
	a.migrated, err = st.Migrate(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	if a.migrated > 0 {
		log.Info("applied migrations", "count", a.migrated)
	}
	secret := cfg.SecretKey
	if secret == "" {
		secret, err = st.SettingOrCreate(ctx, "secret_key", func() (string, error) { return randomHex(32), nil })
		if err != nil {
			st.Close()
			return nil, err
		}
	}
	if len(secret) < 32 {
		st.Close()
		return nil, errors.New("CRIEUR_SECRET_KEY must be at least 32 characters")
	}
	tokens, err := subscribe.NewTokens(derive(secret, "link-tokens"), nil)
	if err != nil {
		st.Close()
		return nil, err
	}
	vpriv, vpub := cfg.VAPIDPrivateKey, cfg.VAPIDPublicKey
	if vpriv == "" || vpub == "" {
		vpriv, vpub, err = vapidKeys(ctx, st)
		if err != nil {
			st.Close()
			return nil, err
		}
	}
	a.VAPIDPub = vpub

	siteURL := strings.TrimRight(cfg.BaseURL, "/")
	a.Composer, err = compose.New(templates.FS, compose.Site{Name: cfg.SiteName, URL: siteURL, ListID: "digest." + domainOf(cfg.mailAddress())})
	if err != nil {
		st.Close()
		return nil, err
	}
	a.Metrics = web.NewMetrics(st)

	var transport mail.Transport
	if cfg.SMTPURL == "" {
		transport = mail.NewFileTransport(cfg.MailOutbox)
	} else {
		transport, err = mail.NewSMTP(cfg.SMTPURL, mail.SMTPOptions{Logger: log, Timeout: cfg.SMTPTimeout})
		if err != nil {
			st.Close()
			return nil, err
		}
	}
	var dkim *mail.DKIM
	if cfg.DKIMDomain != "" {
		dkim, err = mail.LoadDKIM(cfg.DKIMDomain, cfg.DKIMSelector, cfg.DKIMKeyFile)
		if err != nil {
			st.Close()
			return nil, err
		}
	}

	var mailerWake, pushWake func()
	wakeMail := func() { mailerWake() }
	wakePush := func() { pushWake() }
	a.Subscribe = subscribe.New(subscribe.Config{Store: st, Tokens: tokens, HashKey: derive(secret, "suppression"),
		BaseURL: siteURL, Log: log, Wake: wakeMail})
	builder := &dispatch.MessageBuilder{Store: st, Composer: a.Composer, Subscribe: a.Subscribe, DKIM: dkim, From: cfg.MailFrom,
		ListID: cfg.SiteName + " <digest." + domainOf(cfg.mailAddress()) + ">", FeedbackBrand: "crieur", Location: a.loc}
	obs := metricsObserver{a.Metrics}
	a.Mailer = dispatch.NewMailer(dispatch.MailConfig{Store: st, Transport: transport, Builder: builder, Bouncer: a.Subscribe,
		Observer: obs, Log: log, EnvelopeFrom: cfg.mailAddress(), Owner: a.owner, Connections: cfg.SMTPConnections,
		RatePerSecond: cfg.SMTPRate, RetryBase: cfg.RetryBase, Lease: cfg.Lease})
	mailerWake = a.Mailer.Wake

	pushPolicy := netguard.Policy{AllowPrivate: cfg.PushAllowPrivate}
	pushHosts, err := push.NewHosts(cfg.PushHosts)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("CRIEUR_PUSH_HOSTS: %w", err)
	}
	subject := cfg.VAPIDSubject
	if subject == "" {
		subject = "mailto:" + cfg.mailAddress()
	}
	sender, err := push.NewSender(push.Config{PrivateKey: vpriv, PublicKey: vpub, Subject: subject, Client: push.NewHTTPClient(pushPolicy, cfg.PushTimeout, cfg.PushConcurrency), Timeout: cfg.PushTimeout})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("push sender: %w (check CRIEUR_VAPID_SUBJECT, CRIEUR_VAPID_PRIVATE_KEY and CRIEUR_VAPID_PUBLIC_KEY)", err)
	}
	a.Pusher = dispatch.NewPusher(dispatch.PushConfig{Store: st, Sender: sender, Observer: obs, Log: log, Owner: a.owner,
		Concurrency: cfg.PushConcurrency, Icon: cfg.PushIcon, RetryBase: cfg.RetryBase, Lease: cfg.Lease})
	pushWake = a.Pusher.Wake
	a.Alerts = alert.New(st, log, nil, wakePush, wakeMail)
	a.Alerts.CheckPushWith(a.Pusher.CheckPayload)
	a.Alerts.OnCancel(func(id int64) {
		a.Pusher.Cancelled(id)
		builder.AlertCancelled(id)
	})
	a.Digests = digest.NewRunner(st, log, nil, wakeMail)

	feedPolicy := netguard.Policy{AllowPrivate: cfg.FeedsAllowPriv}
	fetcher := &feed.Fetcher{Client: feedPolicy.HTTPClient(30 * time.Second), UserAgent: "crieur/1 (+" + siteURL + ")"}
	a.Poller = feed.NewPoller(feedStore{st}, fetcher, cfg.Feeds, cfg.FeedInterval, log, nil)
	a.Poller.Extra = func(ctx context.Context) ([]string, error) {
		fs, err := st.Feeds(ctx)
		urls := make([]string, 0, len(fs))
		for _, f := range fs {
			urls = append(urls, f.URL)
		}
		return urls, err
	}

	origins := cfg.AllowedOrigins
	if len(origins) == 0 {
		origins = []string{web.OriginOf(siteURL)}
	}
	a.Handler, err = site.New(web.Deps{Store: st, Subscribe: a.Subscribe, Alerts: a.Alerts, Digests: a.Digests, Feeds: a.Poller,
		Composer: a.Composer, Metrics: a.Metrics, Log: log, BaseURL: siteURL, AllowedOrigins: origins, VAPIDPublicKey: vpub,
		PushAllowPrivate: cfg.PushAllowPrivate, CheckEndpoint: push.EndpointChecker(pushPolicy, pushHosts), ValidateKeys: push.ValidateSubscriptionKeys,
		TrustedProxies: cfg.proxies(), MetricsElsewhere: cfg.MetricsListen != "", SiteName: cfg.SiteName, WakeMail: wakeMail, Location: a.loc})
	if err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}

// Listen binds the HTTP address (":0" in tests) before Run.
func (a *App) Listen() (net.Addr, error) {
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", a.cfg.Listen, err)
	}
	a.ln = ln
	if a.cfg.MetricsListen != "" {
		if a.metLn, err = net.Listen("tcp", a.cfg.MetricsListen); err != nil {
			ln.Close()
			return nil, fmt.Errorf("listen on %s (CRIEUR_METRICS_LISTEN): %w", a.cfg.MetricsListen, err)
		}
	}
	return ln.Addr(), nil
}

// Run serves until ctx is done, then drains: the HTTP server stops taking
// requests, the schedulers stop, in-flight sends finish (or go back to the
// queue) and every outcome is recorded.
func (a *App) Run(ctx context.Context) error {
	if a.ln == nil {
		if _, err := a.Listen(); err != nil {
			return err
		}
	}
	if a.cfg.SMTPURL == "" {
		a.log.Warn("CRIEUR_SMTP_URL is not set: no email leaves this machine; messages are written as .eml files", "dir", a.cfg.MailOutbox)
	}
	if err := a.rescueDeadOwners(ctx); err != nil {
		return err
	}
	sched, err := schedule.New(a.cfg.DigestDaily, a.cfg.DigestWeekly, a.loc, a.Digests, a.log)
	if err != nil {
		return err
	}
	// A morning digest is not lost because no instance ran at 07:00.
	if err := sched.CatchUp(ctx, time.Now(), 6*time.Hour, a.Store.LastScheduled); err != nil {
		a.log.Error("catch up missed digests", "err", err)
	}
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	a.Mailer.Start(work)
	a.Pusher.Start(work)
	a.Alerts.Start(work)
	a.Digests.Start(work)
	a.Poller.Start(work)
	sched.Start()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.janitor(work)
	}()

	srv := &http.Server{Handler: a.Handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(a.ln) }()
	var metSrv *http.Server
	if a.metLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.Metrics.Handler())
		metSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 60 * time.Second,
			ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
		go func() { serveErr <- metSrv.Serve(a.metLn) }()
		a.log.Info("metrics serving", "addr", a.metLn.Addr().String())
	}
	a.log.Info("crieur serving", "addr", a.ln.Addr().String(), "base_url", a.cfg.BaseURL, "database", a.Store.Dialect(), "next_digests", fmt.Sprint(sched.Next()))

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = err
	}
	a.log.Info("shutting down")
	shCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The HTTP server drains while the workers stop claiming: a SIGTERM
	// should not let the queue run on for the seconds a slow client takes.
	httpDone := make(chan struct{})
	go func() {
		defer close(httpDone)
		if metSrv != nil {
			_ = metSrv.Shutdown(shCtx)
		}
		_ = srv.Shutdown(shCtx)
	}()
	sched.Stop()
	a.Poller.Stop()
	a.Alerts.Stop()
	a.Digests.Stop()
	var stops sync.WaitGroup
	for _, stop := range []func(time.Duration){a.Mailer.Stop, a.Pusher.Stop} {
		stops.Add(1)
		go func() {
			defer stops.Done()
			stop(a.cfg.ShutdownGrace)
		}()
	}
	stops.Wait()
	<-httpDone
	stopWork()
	wg.Wait()
	a.log.Info("stopped")
	return runErr
}

// janitor rescues deliveries whose worker died (after their lease),
// expires unconfirmed addresses, old sessions and alert idempotency keys.
func (a *App) janitor(ctx context.Context) {
	t := time.NewTicker(max(a.cfg.Lease/4, time.Second))
	defer t.Stop()
	lastExpire := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := a.Store.RescueDeliveries(ctx, time.Now().Add(-a.cfg.Lease)); err != nil {
			a.log.Error("rescue deliveries", "err", err)
		} else if n > 0 {
			a.log.Info("rescued deliveries from a dead worker", "count", n)
			a.Mailer.Wake()
			a.Pusher.Wake()
		}
		if time.Since(lastExpire) > time.Hour {
			lastExpire = time.Now()
			if err := a.Subscribe.ExpirePending(ctx); err != nil {
				a.log.Error("expire pending", "err", err)
			}
			_ = a.Store.DeleteExpiredSessions(ctx, time.Now())
			if _, err := a.Store.DeleteExpiredIdempotencyKeys(ctx, time.Now()); err != nil {
				a.log.Error("delete expired idempotency keys", "err", err)
			}
		}
	}
}

// Close releases the database.
func (a *App) Close() error { return a.Store.Close() }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// derive gives each use of the master secret its own key.
func derive(secret, purpose string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

func domainOf(addr string) string {
	_, d, ok := strings.Cut(addr, "@")
	if !ok {
		return "localhost"
	}
	return d
}

// vapidKeys loads the VAPID pair from the database, creating it once.
func vapidKeys(ctx context.Context, st *store.Store) (string, string, error) {
	pair, err := st.SettingOrCreate(ctx, "vapid_keys", func() (string, error) {
		priv, pub, err := push.GenerateVAPIDKeys()
		return priv + " " + pub, err
	})
	if err != nil {
		return "", "", err
	}
	priv, pub, ok := strings.Cut(pair, " ")
	if !ok {
		return "", "", errors.New("stored VAPID keys are malformed")
	}
	return priv, pub, nil
}

// metricsObserver feeds delivery outcomes to Prometheus.
type metricsObserver struct{ m *web.Metrics }

func (o metricsObserver) EmailSent(k news.MailKind) { o.m.EmailsSent.WithLabelValues(string(k)).Inc() }
func (o metricsObserver) EmailFailed(k news.MailKind, reason string) {
	o.m.EmailsFail.WithLabelValues(string(k), reason).Inc()
}
func (o metricsObserver) PushDone(outcome string) {
	if outcome == "delivered" {
		o.m.PushSent.Inc()
		return
	}
	o.m.PushFail.WithLabelValues(outcome).Inc()
}

// feedStore adapts the store to the poller's view of it.
type feedStore struct{ st *store.Store }

func (f feedStore) Topics(ctx context.Context) ([]news.Topic, error) { return f.st.Topics(ctx) }
func (f feedStore) SaveArticle(ctx context.Context, a news.Article) (int64, bool, error) {
	return f.st.SaveArticle(ctx, a)
}
func (f feedStore) LeaseFeed(ctx context.Context, url, holder string, now, until time.Time) (feed.State, bool, error) {
	st, ok, err := f.st.LeaseFeed(ctx, url, holder, now, until)
	return feed.State{ETag: st.ETag, LastModified: st.LastModified, LastPolledAt: st.LastPolledAt, NextPollAt: st.NextPollAt,
		LastError: st.LastError, Failures: st.Failures, Items: st.Items}, ok, err
}
func (f feedStore) SaveFeedState(ctx context.Context, url string, s feed.State) error {
	return f.st.SaveFeedState(ctx, url, store.FeedState{URL: url, ETag: s.ETag, LastModified: s.LastModified, LastPolledAt: s.LastPolledAt,
		NextPollAt: s.NextPollAt, LastError: s.LastError, Failures: s.Failures, Items: s.Items})
}

// rescueDeadOwners returns to the queue, now rather than after the lease,
// what processes of this machine that are no longer running left claimed:
// a daemon killed before this start, or a CLI `alert send` killed midway.
// A live process's claims are left alone: another `crieur serve` on the
// same database, or a CLI send running next to this one, keeps sending
// them (taking them back caused duplicates). Owners on other machines, or
// whose process cannot be checked, wait for the lease as before.
func (a *App) rescueDeadOwners(ctx context.Context) error {
	owners, err := a.Store.ClaimOwners(ctx)
	if err != nil {
		return err
	}
	var total int64
	for _, o := range owners {
		if !ownerGone(o, a.host, a.owner) {
			continue
		}
		n, err := a.Store.RescueOwner(ctx, o)
		if err != nil {
			return err
		}
		total += n
	}
	if total > 0 {
		a.log.Info("returned interrupted deliveries to the queue", "count", total)
	}
	return nil
}

// ownerName names this process's workers in the queue: pid-random@host.
// The random part tells apart two processes that got the same pid. The
// host comes last, after the first '@', so that no host name can be read
// as a pid: with host-pid-random, a process on host crieur read the owner
// crieur-7-1234-beef (a live instance on host crieur-7) as pid 7 of its
// own host, and took its claims back when it had no pid 7.
func ownerName(host string, pid int) string {
	return fmt.Sprintf("%d-%s@%s", pid, randomHex(4), host)
}

// parseOwner splits an owner made by ownerName; ok is false for anything
// else (an owner named by an older release, or by a benchmark).
func parseOwner(owner string) (host string, pid int, ok bool) {
	head, host, ok := strings.Cut(owner, "@")
	if !ok {
		return "", 0, false
	}
	pidText, random, ok := strings.Cut(head, "-")
	if !ok || random == "" || pidText == "" || strings.Trim(pidText, "0123456789") != "" {
		return "", 0, false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return "", 0, false
	}
	return host, pid, true
}

// ownerGone reports that owner (as ownerName makes them) was a process of
// this host that is no longer running. Anything else — another host, a
// malformed name, a process that exists — is not known to be gone. Two
// containers with the same host name and separate pid namespaces would
// each see the other's workers as gone: give containers distinct host
// names (the default).
func ownerGone(owner, host, self string) bool {
	if owner == self {
		return false
	}
	ownerHost, pid, ok := parseOwner(owner)
	if !ok || ownerHost != host {
		return false
	}
	if pid == os.Getpid() {
		return true // an earlier process had this pid; this one did not claim it
	}
	// Signal 0 checks existence without signalling: ESRCH means no such
	// process; EPERM means it exists under another user.
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
