// Package daemon is crieur wired once. From a Config, New opens and
// migrates the store, loads or creates the secrets and builds every service
// (subscribe, compose, the mail and push pipelines, alerts, digests and
// their schedule, the feed poller, the janitor) and the HTTP handler; Run
// serves until its context ends, then drains. cmd/crieur, cmd/crieur-bench
// and the in-process end-to-end tests all build the daemon here, so what is
// tested and measured is what ships.
//
// It sits above every other internal package and none may import it;
// flags, signals and the command table stay in cmd/crieur.
package daemon

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
	"strings"
	"sync"
	"time"

	"github.com/crieur/crieur/internal/alert"
	"github.com/crieur/crieur/internal/bounce"
	"github.com/crieur/crieur/internal/bounce/imapin"
	"github.com/crieur/crieur/internal/bounce/smtpin"
	"github.com/crieur/crieur/internal/click"
	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/digest"
	"github.com/crieur/crieur/internal/dispatch"
	"github.com/crieur/crieur/internal/feed"
	"github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/netguard"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/schedule"
	"github.com/crieur/crieur/internal/startstop"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/internal/web/site"
	"github.com/crieur/crieur/internal/webhook"
	"github.com/crieur/crieur/templates"
)

// Option changes what New builds.
type Option func(*sides)

// sides are the halves of the delivery path New builds; the HTTP side and
// the feed poller come with both.
type sides struct{ mail, push bool }

// MailOnly builds the mail side alone: the subscribe service, the mail
// pipeline (MessageBuilder, the SMTP or file transport, the metrics
// observer), the digest runner and its schedule, and the janitor. No push
// pipeline, no alert service, no feed poller, no HTTP server: a digest
// worker, as the bench's instances run it.
func MailOnly() Option { return func(s *sides) { s.mail, s.push = true, false } }

// PushOnly builds the push side alone: the push sender and pipeline (with
// its payload check, cancel hook and metrics observer), the alert service
// and the janitor. No mail pipeline, no digests, no feed poller, no HTTP
// server. An alert that asks for email leaves its email deliveries in the
// queue for an instance with the mail side.
func PushOnly() Option { return func(s *sides) { s.mail, s.push = false, true } }

// Daemon is crieur wired. New builds one; commands use its services
// directly, `crieur serve` calls Run.
type Daemon struct {
	cfg   Config
	log   *slog.Logger
	loc   *time.Location
	owner string
	host  string // this machine's name, the end of owner

	// The services; those of a side not built (MailOnly, PushOnly) are nil.
	Store     *store.Store
	Subscribe *subscribe.Service
	Composer  *compose.Composer
	Mailer    *dispatch.Mailer
	Pusher    *dispatch.Pusher
	Alerts    *alert.Service
	Digests   *digest.Runner
	Scheduler *schedule.Scheduler // the digests at one hour for all (nil with CRIEUR_DIGEST_LOCAL)
	Zoned     *schedule.Zoned     // the digests at each reader's hour (CRIEUR_DIGEST_LOCAL)
	Poller    *feed.Poller
	Janitor   *dispatch.Janitor
	Bounces   bounce.Recorder      // acts on bounces and complaints, whichever way they come in
	Clicks    *click.Service       // tracked links: made by the mail side, followed and counted by the HTTP side
	Sunset    *subscribe.Sunsetter // CRIEUR_SUNSET_AFTER; nil when off
	// BounceListener (CRIEUR_BOUNCE_LISTEN) and BouncePoller
	// (CRIEUR_BOUNCE_MAILBOX) are the ways reports come in; nil when off.
	BounceListener *smtpin.Listener
	BouncePoller   *imapin.Poller
	Metrics        *web.Metrics
	Handler        *web.Server
	// VAPIDPublicKey is the key browsers subscribe with ("" without the
	// push side).
	VAPIDPublicKey string
	// CheckPushEndpoint is the check a browser's push endpoint passes
	// before it is stored, by the API or `crieur push import`.
	CheckPushEndpoint func(ctx context.Context, endpoint string) error

	// Webhooks posts events to the endpoints admins registered (serve
	// only); WebhookAdmin registers, lists, deletes and tests them.
	Webhooks     *webhook.Deliverer
	WebhookAdmin *webhook.Service

	ln    net.Listener
	metLn net.Listener // CRIEUR_METRICS_LISTEN, when set
	// subjectErr: the VAPID subject made from CRIEUR_MAIL_FROM would be
	// refused by Apple's push service.
	subjectErr error
	migrated   int // migrations New applied
}

// New opens and migrates the database, loads or creates the secrets and
// builds every service (or one side's, with MailOnly or PushOnly). It binds
// nothing and starts nothing.
func New(ctx context.Context, cfg Config, log *slog.Logger, opts ...Option) (_ *Daemon, err error) {
	side := sides{mail: true, push: true}
	for _, o := range opts {
		o(&side)
	}
	full := side.mail && side.push
	d := &Daemon{cfg: cfg, log: log}
	d.loc, _ = time.LoadLocation(cfg.Timezone)
	d.host, _ = os.Hostname()
	d.owner = dispatch.OwnerName(d.host, os.Getpid())

	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{MaxConns: cfg.DBMaxConns})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	d.Store = st
	d.migrated, err = st.Migrate(ctx)
	if err != nil {
		return nil, err
	}
	if d.migrated > 0 {
		log.Info("applied migrations", "count", d.migrated)
	}
	secret := cfg.SecretKey
	if secret == "" {
		secret, err = st.SettingOrCreate(ctx, "secret_key", func() (string, error) { return randomHex(32), nil })
		if err != nil {
			return nil, err
		}
	}
	if len(secret) < 32 {
		return nil, errors.New("CRIEUR_SECRET_KEY must be at least 32 characters")
	}
	tokens, err := subscribe.NewTokens(derive(secret, "link-tokens"), nil)
	if err != nil {
		return nil, err
	}
	var vpriv, vpub string
	if side.push {
		vpriv, vpub = cfg.VAPIDPrivateKey, cfg.VAPIDPublicKey
		if vpriv == "" || vpub == "" {
			vpriv, vpub, err = vapidKeys(ctx, st)
			if err != nil {
				return nil, err
			}
		}
	}
	d.VAPIDPublicKey = vpub

	siteURL := strings.TrimRight(cfg.BaseURL, "/")
	if side.mail {
		d.Composer, err = compose.New(templates.FS, compose.Site{Name: cfg.SiteName, URL: siteURL, ListID: "digest." + domainOf(cfg.mailAddress())})
		if err != nil {
			return nil, err
		}
	}
	d.Metrics = web.NewMetrics(st)
	obs := metricsObserver{d.Metrics}

	// The services wake each other through these: a side not built is
	// never woken.
	wakeMail := func() {
		if d.Mailer != nil {
			d.Mailer.Wake()
		}
	}
	wakePush := func() {
		if d.Pusher != nil {
			d.Pusher.Wake()
		}
	}
	d.Subscribe = subscribe.New(subscribe.Config{Store: st, Tokens: tokens, HashKey: derive(secret, "suppression"),
		BaseURL: siteURL, Log: log, Wake: wakeMail, Location: d.loc})
	rec := bounce.NewStore(bounce.StoreConfig{Store: st, Hash: d.Subscribe.Hash, Soft: cfg.Health.SoftBounces, Log: log})
	d.Metrics.MustRegister(rec.Collectors()...)
	d.Bounces = rec
	if d.Clicks, err = newClicks(cfg, st, secret, siteURL, log, d.Metrics); err != nil {
		return nil, err
	}
	if cfg.SunsetAfter > 0 && side.mail {
		d.Sunset = subscribe.NewSunsetter(d.Subscribe, cfg.SunsetAfter)
	}

	var builder *dispatch.MessageBuilder
	refs := bounceTokens(secret)
	if side.mail {
		var transport mail.Transport
		if cfg.SMTPURL == "" {
			transport = mail.NewFileTransport(cfg.MailOutbox)
		} else {
			transport, err = mail.NewSMTP(cfg.SMTPURL, mail.SMTPOptions{Logger: log, Timeout: cfg.SMTPTimeout})
			if err != nil {
				return nil, err
			}
		}
		var dkim *mail.DKIM
		if cfg.DKIMDomain != "" {
			dkim, err = mail.LoadDKIM(cfg.DKIMDomain, cfg.DKIMSelector, cfg.DKIMKeyFile)
			if err != nil {
				return nil, err
			}
		}
		builder = &dispatch.MessageBuilder{Store: st, Composer: d.Composer, Subscribe: d.Subscribe, DKIM: dkim, From: cfg.MailFrom,
			ListID: cfg.SiteName + " <digest." + domainOf(cfg.mailAddress()) + ">", FeedbackBrand: "crieur", Location: d.loc,
			MessageID: messageIDs(refs, domainOf(cfg.mailAddress())), Clicks: d.Clicks}
		d.Mailer = dispatch.NewMailer(dispatch.MailConfig{Store: st, Transport: transport, Builder: builder, Bouncer: d.Bounces,
			Observer: obs, Log: log, EnvelopeFrom: cfg.mailAddress(), ReturnPath: returnPaths(refs, cfg.BounceDomain), Owner: d.owner, Connections: cfg.SMTPConnections,
			RatePerSecond: cfg.SMTPRate, RetryBase: cfg.RetryBase, Lease: cfg.Lease, Drained: d.closeFinished})
		d.Digests = digest.NewRunner(st, log, nil, wakeMail)
		if cfg.DigestLocal {
			d.Digests.SetLocal(true)
			d.Zoned, err = schedule.NewZoned(cfg.DigestDaily, cfg.DigestWeekly, d.loc, d.Digests, st.DigestZones, nil, log)
		} else {
			d.Scheduler, err = schedule.New(cfg.DigestDaily, cfg.DigestWeekly, d.loc, d.Digests, log)
		}
		if err != nil {
			return nil, err
		}
	}

	pushPolicy := netguard.Policy{AllowPrivate: cfg.PushAllowPrivate}
	pushHosts, err := push.NewHosts(cfg.PushHosts)
	if err != nil {
		return nil, fmt.Errorf("CRIEUR_PUSH_HOSTS: %w", err)
	}
	d.CheckPushEndpoint = push.EndpointChecker(pushPolicy, pushHosts)
	if side.push {
		subject := cfg.VAPIDSubject
		if subject == "" {
			subject = "mailto:" + cfg.mailAddress()
			// Not refused: a first start on defaults must work; but Safari
			// and iOS readers get nothing until it is fixed (Run says so).
			d.subjectErr = push.CheckSubject(subject)
		}
		sender, err := push.NewSender(push.Config{PrivateKey: vpriv, PublicKey: vpub, Subject: subject, Client: push.NewHTTPClient(pushPolicy, cfg.PushTimeout, cfg.PushConcurrency), Timeout: cfg.PushTimeout})
		if err != nil {
			return nil, fmt.Errorf("push sender: %w (check CRIEUR_VAPID_SUBJECT, CRIEUR_VAPID_PRIVATE_KEY and CRIEUR_VAPID_PUBLIC_KEY)", err)
		}
		d.Pusher = dispatch.NewPusher(dispatch.PushConfig{Store: st, Sender: sender, Observer: obs, Log: log, Owner: d.owner,
			Concurrency: cfg.PushConcurrency, Icon: cfg.PushIcon, RetryBase: cfg.RetryBase, Lease: cfg.Lease, Location: d.loc, Drained: d.closeFinished})
		d.Alerts = alert.New(st, log, nil, wakePush, wakeMail)
		d.Alerts.RequireApproval(cfg.AlertApproval)
		// An automatic alert's article is fetched as feeds are: through
		// the address guard, private addresses only when feeds may.
		d.Alerts.CheckArticlesWith(alert.Reachable(netguard.Policy{AllowPrivate: cfg.FeedsAllowPriv}.HTTPClient(15*time.Second),
			"crieur/1 (+"+siteURL+")"))
		d.Alerts.CheckPushWith(d.Pusher.CheckPayload)
		d.Alerts.OnCancel(func(id int64) {
			d.Pusher.Cancelled(id)
			if builder != nil {
				builder.AlertCancelled(id)
			}
		})
	}
	var wakes []func()
	if d.Mailer != nil {
		wakes = append(wakes, d.Mailer.Wake)
	}
	if d.Pusher != nil {
		wakes = append(wakes, d.Pusher.Wake)
	}
	d.Janitor = dispatch.NewJanitor(dispatch.JanitorConfig{Store: st, Log: log, Owner: d.owner, Host: d.host, Lease: cfg.Lease,
		Wake: wakes, ExpirePending: d.Subscribe.ExpirePending, PushFailingFor: cfg.Health.PushFailingFor, PushStaleAfter: cfg.Health.PushStaleAfter})
	if !full {
		return d, nil
	}

	if err := d.buildBounceWays(refs); err != nil {
		return nil, err
	}
	hookPolicy := netguard.Policy{AllowPrivate: cfg.WebhooksAllowPrivate}
	d.Webhooks = webhook.New(webhook.Config{Store: st, Client: webhook.NewClient(hookPolicy), Log: log, Owner: d.owner, Host: d.host,
		RetryBase: cfg.RetryBase, Lease: cfg.Lease})
	d.WebhookAdmin = webhook.NewService(st, hookPolicy, d.Webhooks.Wake)

	feedPolicy := netguard.Policy{AllowPrivate: cfg.FeedsAllowPriv}
	fetcher := &feed.Fetcher{Client: feedPolicy.HTTPClient(30 * time.Second), UserAgent: "crieur/1 (+" + siteURL + ")"}
	d.Poller = feed.NewPoller(feedStore{st}, fetcher, cfg.Feeds, cfg.FeedInterval, log, nil)
	d.Poller.Extra = func(ctx context.Context) ([]string, error) {
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
	d.Handler, err = site.New(web.Deps{Store: st, Subscribe: d.Subscribe, Alerts: d.Alerts, Digests: d.Digests, Feeds: d.Poller,
		Composer: d.Composer, Metrics: d.Metrics, Log: log, BaseURL: siteURL, AllowedOrigins: origins, VAPIDPublicKey: vpub,
		PushAllowPrivate: cfg.PushAllowPrivate, CheckEndpoint: d.CheckPushEndpoint, ValidateKeys: push.ValidateSubscriptionKeys,
		TrustedProxies: cfg.proxies(), MetricsElsewhere: cfg.MetricsListen != "", SiteName: cfg.SiteName, WakeMail: wakeMail, Location: d.loc,
		Bounces: d.Bounces, BounceProviders: cfg.Health.providers(refs), Webhooks: d.WebhookAdmin, Clicks: d.Clicks})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Migrated is the number of migrations New applied.
func (d *Daemon) Migrated() int { return d.migrated }

// Listen binds the HTTP address (":0" in tests) before Run, and the
// metrics address when CRIEUR_METRICS_LISTEN is set.
func (d *Daemon) Listen() (net.Addr, error) {
	if d.Handler == nil {
		return nil, errors.New("this daemon was built with one side only: it serves no HTTP")
	}
	ln, err := net.Listen("tcp", d.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", d.cfg.Listen, err)
	}
	if d.BounceListener != nil {
		if _, err := d.BounceListener.Listen(); err != nil {
			ln.Close()
			return nil, err
		}
	}
	d.ln = ln
	if d.cfg.MetricsListen != "" {
		if d.metLn, err = net.Listen("tcp", d.cfg.MetricsListen); err != nil {
			ln.Close()
			return nil, fmt.Errorf("listen on %s (CRIEUR_METRICS_LISTEN): %w", d.cfg.MetricsListen, err)
		}
	}
	return ln.Addr(), nil
}

// producers are the services that only write work: stopped first, so
// nothing new is queued while the pipelines drain.
func (d *Daemon) producers() []startstop.Service {
	var out []startstop.Service
	if d.Scheduler != nil {
		out = append(out, d.Scheduler)
	}
	if d.Sunset != nil {
		out = append(out, d.Sunset)
	}
	if d.Zoned != nil {
		out = append(out, d.Zoned)
	}
	if d.Poller != nil {
		out = append(out, d.Poller)
	}
	if d.Alerts != nil {
		out = append(out, d.Alerts)
	}
	if d.Digests != nil {
		out = append(out, d.Digests)
	}
	if d.BounceListener != nil {
		out = append(out, d.BounceListener)
	}
	if d.BouncePoller != nil {
		out = append(out, d.BouncePoller)
	}
	return out
}

// pipelines are the services that claim and send.
func (d *Daemon) pipelines() []startstop.Service {
	var out []startstop.Service
	if d.Mailer != nil {
		out = append(out, d.Mailer)
	}
	if d.Pusher != nil {
		out = append(out, d.Pusher)
	}
	if d.Webhooks != nil {
		out = append(out, d.Webhooks)
	}
	return out
}

// Start starts every background service built: the janitor first (it
// returns what dead processes of this machine left claimed), a digest tick
// missed while no instance ran, then the pipelines and the producers. They
// run until Stop, not until ctx ends: Stop drains them in order. Run calls
// Start; the bench calls it on a daemon built with one side.
func (d *Daemon) Start(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	if err := d.Janitor.Start(ctx); err != nil {
		return err
	}
	if d.Handler != nil {
		// Only an instance that serves /r/ holds clicks to write.
		if err := d.Clicks.Start(ctx); err != nil {
			return err
		}
	}
	if d.Scheduler != nil {
		// A morning digest is not lost because no instance ran at 07:00.
		if err := d.Scheduler.CatchUp(ctx, time.Now(), 6*time.Hour, d.Store.LastScheduled); err != nil {
			d.log.Error("catch up missed digests", "err", err)
		}
	}
	if d.Zoned != nil {
		if err := d.Zoned.CatchUp(ctx, time.Now(), 6*time.Hour, d.Store.LastScheduled); err != nil {
			d.log.Error("catch up missed digests", "err", err)
		}
	}
	for _, s := range append(d.pipelines(), d.producers()...) {
		if err := s.Start(ctx); err != nil {
			stop, cancel := context.WithTimeout(context.Background(), d.cfg.ShutdownGrace)
			defer cancel()
			d.Stop(stop)
			return err
		}
	}
	return nil
}

// Stop stops claiming and drains, in order: the producers (schedule, feed
// poller, alert and digest enqueuers) stop; the pipelines stop claiming and
// let sends in flight finish until ctx is done (CRIEUR_SHUTDOWN_GRACE in
// Run), the rest going back to the queue, every outcome recorded; then the
// janitor stops. Safe without Start, or twice.
func (d *Daemon) Stop(ctx context.Context) {
	for _, s := range d.producers() {
		s.Stop(ctx)
	}
	var stops sync.WaitGroup
	for _, s := range d.pipelines() {
		stops.Go(func() { s.Stop(ctx) })
	}
	stops.Wait()
	d.Clicks.Stop(ctx)
	d.Janitor.Stop(ctx)
}

// Run serves until ctx is done, then drains: the HTTP server stops taking
// requests while the background services stop (Stop) within
// CRIEUR_SHUTDOWN_GRACE. A daemon built with one side serves no HTTP: Run
// then runs its services until ctx is done.
func (d *Daemon) Run(ctx context.Context) error {
	if d.ln == nil && d.Handler != nil {
		if _, err := d.Listen(); err != nil {
			return err
		}
	}
	if d.subjectErr != nil {
		d.log.Warn("the VAPID subject made from CRIEUR_MAIL_FROM will be refused by Apple's push service (Safari, iOS): set CRIEUR_VAPID_SUBJECT or CRIEUR_MAIL_FROM to an address at your domain", "why", d.subjectErr.Error())
	}
	if d.Mailer != nil && d.cfg.SMTPURL == "" {
		d.log.Warn("CRIEUR_SMTP_URL is not set: no email leaves this machine; messages are written as .eml files", "dir", d.cfg.MailOutbox)
	}
	if err := d.Start(ctx); err != nil {
		return err
	}

	serveErr := make(chan error, 2)
	var srv, metSrv *http.Server
	if d.ln != nil {
		srv = &http.Server{Handler: d.Handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
			ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)}
		go func() { serveErr <- srv.Serve(d.ln) }()
	}
	if d.metLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", d.Metrics.Handler())
		metSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 60 * time.Second,
			ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)}
		go func() { serveErr <- metSrv.Serve(d.metLn) }()
		d.log.Info("metrics serving", "addr", d.metLn.Addr().String())
	}
	if d.ln != nil {
		next := ""
		if d.Scheduler != nil {
			next = fmt.Sprint(d.Scheduler.Next())
		}
		if d.Zoned != nil {
			next = fmt.Sprint(d.Zoned.Next(ctx))
		}
		d.log.Info("crieur serving", "addr", d.ln.Addr().String(), "base_url", d.cfg.BaseURL, "database", d.Store.Dialect(), "next_digests", next)
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = err
	}
	d.log.Info("shutting down")
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
		if srv != nil {
			_ = srv.Shutdown(shCtx)
		}
	}()
	grace, cancelGrace := context.WithTimeout(context.Background(), d.cfg.ShutdownGrace)
	defer cancelGrace()
	d.Stop(grace)
	<-httpDone
	d.log.Info("stopped")
	return runErr
}

// Close releases the database. Stop (or Run) first.
func (d *Daemon) Close() error { return d.Store.Close() }

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
