package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/daemon"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/push/pushtest"
)

// runPushScale measures one alert from a `crieur serve` process to
// -scale-n browsers on a push service that speaks HTTP/2 over TLS and
// answers after -push-latency, as the browsers' push services do from
// across the internet. The browsers are written into the database before
// the daemon starts (registering a million through the API would measure
// the API, which the serve scenario does apart); everything after is the
// daemon's own work, driven by its API.
func runPushScale(ctx context.Context, o options) (*section, error) {
	latency := o.pushLatency
	if latency == 0 {
		latency = 50 * time.Millisecond
	}
	certFile := filepath.Join(o.tmp, "push-stub.pem")
	stub, err := startChild("-push-stub-tls", "-push-latency", latency.String(), "-push-cert", certFile,
		"-push-streams", strconv.Itoa(o.stubStreams))
	if err != nil {
		return nil, err
	}
	defer stub.Stop()

	st, err := openDB(ctx, o, "scale")
	if err != nil {
		return nil, err
	}
	browsers := make([]*pushtest.Browser, 512)
	keys := make([][2]string, len(browsers))
	for i := range keys {
		browsers[i] = pushtest.NewBrowser()
		keys[i] = [2]string{browsers[i].P256dh, browsers[i].Auth}
	}
	t := time.Now()
	err = newSeeder(st).pushSubscriptions(ctx, o.scaleN, "https://"+stub.Addr, keys)
	pm := o.postmaster
	if pm == 0 && o.db != "" {
		pm = findPostmaster(ctx, st.DB())
	}
	st.Close()
	if err != nil {
		return nil, err
	}
	progress("seeded %d push subscriptions in %v", o.scaleN, dur(time.Since(t)))

	vpriv, vpub, err := push.GenerateVAPIDKeys()
	if err != nil {
		return nil, err
	}
	vars := map[string]string{
		"CRIEUR_DATABASE_URL":       dbURL(o, "scale"),
		"CRIEUR_PUSH_ALLOW_PRIVATE": "true", // the stub is on loopback
		"CRIEUR_VAPID_PRIVATE_KEY":  vpriv,
		"CRIEUR_VAPID_PUBLIC_KEY":   vpub,
		"SSL_CERT_FILE":             certFile, // the stub's certificate is the only root the daemon trusts
	}
	if o.pushConcSet {
		vars["CRIEUR_PUSH_CONCURRENCY"] = strconv.Itoa(o.pushConc)
	}
	d, err := startDaemon(ctx, o, "scale", vars)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	tok, err := d.cli(ctx, "token", "create", "--name", "bench", "--role", "admin")
	if err != nil {
		return nil, err
	}
	d.token = strings.TrimSpace(tok)

	if err := stub.Reset(); err != nil {
		return nil, err
	}
	rssReset := d.resetRSS()
	c0, err := sampleCPU(d, pm)
	if err != nil {
		return nil, err
	}
	stub0 := procCPU(stub.cmd.Process.Pid)
	t0 := time.Now()
	var started struct {
		ID string `json:"id"`
	}
	if err := d.call(ctx, http.MethodPost, "/api/v1/alerts", map[string]any{"title": benchAlert.Title, "body": benchAlert.Body,
		"url": benchAlert.URL, "image_url": benchAlert.ImageURL}, &started); err != nil {
		return nil, err
	}
	// Every 250 ms: the alert's counts, for when its last browser was
	// queued (targeted reaches n) and when it is done.
	var (
		a struct {
			State     string `json:"state"`
			Targeted  int64  `json:"targeted"`
			Delivered int64  `json:"delivered"`
			Failed    int64  `json:"failed"`
			Expired   int64  `json:"expired"`
		}
		queuedAt time.Duration
		cQueued  procSample
	)
	err = waitFor(ctx, 30*time.Minute, func() (bool, error) {
		if err := d.call(ctx, http.MethodGet, "/api/v1/alerts/"+started.ID, nil, &a); err != nil {
			return false, err
		}
		if queuedAt == 0 && a.Targeted >= int64(o.scaleN) {
			queuedAt = time.Since(t0)
			cQueued, _ = sampleCPU(d, pm)
		}
		switch a.State {
		case "done":
			return true, nil
		case "failed", "cancelled":
			return false, fmt.Errorf("alert %s: %s", started.ID, a.State)
		}
		time.Sleep(250 * time.Millisecond)
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, d.logTail())
	}
	wall := time.Since(t0)
	c1, err := sampleCPU(d, pm)
	if err != nil {
		return nil, err
	}
	ss, err := stub.Stats()
	if err != nil {
		return nil, err
	}
	stubCPU := procCPU(stub.cmd.Process.Pid) - stub0
	rss := d.rss()
	n := time.Duration(max(a.Delivered, 1))
	first := time.Duration(ss.FirstNS - t0.UnixNano())
	last := time.Duration(ss.LastNS - t0.UnixNano())
	progress("%d pushes in %v (last at the stub after %v, first after %v), %d connections, %d streams at most on one",
		a.Delivered, dur(wall), dur(last), dur(first), ss.Conns, ss.PeakStreams)

	// The baseline, on the same stub once the daemon has stopped (its
	// idle connections closed, its CPU out of the way), as many requests
	// in flight as the daemon had.
	d.stop()
	inFlight := daemon.Defaults().PushConcurrency
	if o.pushConcSet {
		inFlight = o.pushConc
	}
	baseN := o.baseN
	if baseN <= 0 {
		baseN = min(o.scaleN, 50_000)
	}
	progress("webpush-go v1.4.0 on the same stub: %d pushes, %d in flight…", baseN, inFlight)
	base, err := runScaleBaseline(ctx, stub, certFile, browsers, vpriv, vpub, started.ID, baseN, inFlight)
	if err != nil {
		return nil, err
	}
	progress("webpush-go: %.0f/s, %.1f µs CPU a push, %d connections (%d used), %d errors",
		base.stats.MsgsPerSec(), us(base.stats.CPUPerMsg()), base.stub.Conns, base.stub.UsedConns, base.stats.Errors)

	sec := &section{title: fmt.Sprintf("G. Internet scale: one alert to %d browsers on an HTTP/2 push service %v away", o.scaleN, latency)}
	conc := "the daemon's default"
	if o.pushConcSet {
		conc = strconv.Itoa(o.pushConc)
	}
	sec.setup = []string{
		fmt.Sprintf("A `crieur serve` process (database %s), CRIEUR_PUSH_CONCURRENCY %s, its VAPID pair given; %d browser subscriptions (512 real P-256 key pairs, cycled, no topic) written into its database before it starts.", dbName(o), conc, o.scaleN),
		fmt.Sprintf("The push service stub is a separate process: Go's net/http server, HTTP/2 over TLS 1.3 (a self-signed certificate the daemon trusts through SSL_CERT_FILE), at most %d concurrent streams per connection, answering 201 after %v without decrypting.", o.stubStreams, latency),
		fmt.Sprintf("Baseline, after the alert and with the daemon stopped, on the same stub process: a webpush-go v1.4.0 loop in the bench process, %d pushes, %d in flight (the daemon's), same VAPID pair, the daemon's JSON payload for the alert, TTL 1 h, urgency high, a Topic; its client is net/http's own transport trusting the stub's certificate, with ForceAttemptHTTP2 (as a webpush-go user sets it up), no connection open before the loop (nor had the daemon before its alert). Its CPU is getrusage of the bench process over the loop; the stub's apart.", baseN, inFlight),
		"One alert: POST /api/v1/alerts (no topics: every browser), then GET /api/v1/alerts/{id} every 250 ms until done. Queued: the first answer whose `targeted` is every browser. CPU: /proc of the daemon (and PostgreSQL's processes when used) and of the stub, from just before the POST to done; everything shares this machine's cores.",
	}
	ok := a.Delivered == int64(o.scaleN) && ss.Count == a.Delivered
	sec.row("delivered / failed / expired (API); received by the stub", fmt.Sprintf("%d / %d / %d; %d", a.Delivered, a.Failed, a.Expired, ss.Count), "", ptr(ok))
	sec.row("**wall time, POST → done**", fmt.Sprintf("%.1f s", wall.Seconds()), "≤ 90 s (issue 14)", ptr(wall <= 90*time.Second))
	sec.row("  first push at the stub / last push at the stub", fmt.Sprintf("%v / %.1f s", first.Round(time.Millisecond), last.Seconds()), "", nil)
	sec.row("  every browser queued (targeted = n)", fmt.Sprintf("%.1f s after the POST", queuedAt.Seconds()), "", nil)
	sec.row("pushes per second, POST → last push", fmt.Sprintf("%.0f", float64(a.Delivered)/last.Seconds()), "", nil)
	sec.row("connections the daemon opened / most streams on one / most requests in flight", fmt.Sprintf("%d / %d / %d", ss.Conns, ss.PeakStreams, ss.PeakInFlight), "", nil)
	sec.row("crieur CPU per push (whole alert)", fmt.Sprintf("%.1f µs", us((c1.crieur-c0.crieur)/n)), "", nil)
	if queuedAt > 0 {
		sec.row("  of which until every browser was queued", fmt.Sprintf("%.1f s of CPU (%.1f µs a browser)", (cQueued.crieur-c0.crieur).Seconds(), us((cQueued.crieur-c0.crieur)/n)), "", nil)
	}
	if pm != 0 {
		sec.row("PostgreSQL CPU per push", fmt.Sprintf("%.1f µs", us((c1.db-c0.db)/n)), "", nil)
	}
	sec.row("push stub CPU per push (TLS, HTTP/2; shares the cores)", fmt.Sprintf("%.1f µs", us(stubCPU/n)), "", nil)
	wCPU, cCPU := us(base.stats.CPUPerMsg()), us((c1.crieur-c0.crieur)/n)
	bok := base.stats.Errors == 0 && base.stub.Count == int64(baseN)
	sec.row("webpush-go v1.4.0: sent / errors; received by the stub", fmt.Sprintf("%d / %d; %d", baseN, base.stats.Errors, base.stub.Count), "", ptr(bok))
	sec.row("webpush-go v1.4.0, net/http HTTP/2 client: pushes per second", fmt.Sprintf("%.0f", base.stats.MsgsPerSec()), "", nil)
	sec.row("webpush-go connections opened / most streams on one / most requests in flight", fmt.Sprintf("%d / %d / %d", base.stub.Conns, base.stub.PeakStreams, base.stub.PeakInFlight), "", nil)
	sec.row("  of its connections, those that carried a push", fmt.Sprintf("%d (net/http dials one for each request no connection has a stream for, and closes those it ends up not needing)", base.stub.UsedConns), "", nil)
	sec.row("webpush-go CPU per push (bench process)", fmt.Sprintf("%.1f µs", wCPU), "", nil)
	sec.row("  push stub CPU per push during it", fmt.Sprintf("%.1f µs", us(base.stubCPU/time.Duration(max(base.stub.Count, 1)))), "", nil)
	less := wCPU / cCPU
	sec.row("**webpush-go CPU / crieur CPU** per push, HTTP/2", fmt.Sprintf("%.2f× less", less), "≥ 2× (issue 14)", ptr(less >= 2))
	sec.row("peak RSS of crieur serve", fmt.Sprintf("%.0f MB%s", float64(rss)/(1<<20), resetNote(rssReset)), "", nil)
	return sec, nil
}
