package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/netguard"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/push/pushtest"
)

// registerInflight is how many subscription requests the bench keeps in
// flight, as a publisher's backend moving its browsers in would.
const registerInflight = 16

// alertRep is one alert sent by the daemon, API call to state done.
type alertRep struct {
	delivered, failed, expired, targeted int64
	atStub                               int64
	wall, toLast, first                  time.Duration
	rate                                 float64 // delivered per second, POST → done
	cpuPer, dbPer, stubPer               time.Duration
	bytesPer                             float64 // request body at the stub
	rss                                  int64
	sender, webpush, floor               pushtest.Stats
}

// runServePush measures alerts sent by a `crieur serve` process to the
// push stub process, -reps times, each next to the push baselines.
func runServePush(ctx context.Context, o options) (*section, error) {
	stub, err := startChild("-push-stub", "-push-latency", o.pushLatency.String())
	if err != nil {
		return nil, err
	}
	defer stub.Stop()
	origin := "http://" + stub.Addr
	dbURL, pm, err := serveDatabase(ctx, o, "serve-push")
	if err != nil {
		return nil, err
	}
	// The VAPID pair is given, so that the baselines sign with the same.
	vpriv, vpub, err := push.GenerateVAPIDKeys()
	if err != nil {
		return nil, err
	}
	d, err := startDaemon(ctx, o, "serve-push", map[string]string{
		"CRIEUR_DATABASE_URL":       dbURL,
		"CRIEUR_PUSH_ALLOW_PRIVATE": "true", // the stub is plain http on loopback
		"CRIEUR_PUSH_CONCURRENCY":   strconv.Itoa(o.pushConc),
		"CRIEUR_VAPID_PRIVATE_KEY":  vpriv,
		"CRIEUR_VAPID_PUBLIC_KEY":   vpub,
	})
	if err != nil {
		return nil, err
	}
	defer d.stop()
	if err := d.setup(ctx); err != nil {
		return nil, err
	}

	// The browsers, registered as the widget registers them (following no
	// topic: they get every alert), by a backend holding an API token, so
	// the per-client limit does not apply. 512 real key pairs, cycled.
	browsers := make([]*pushtest.Browser, 512)
	for i := range browsers {
		browsers[i] = pushtest.NewBrowser()
	}
	type keys struct {
		P256dh string `json:"p256dh"`
		Auth   string `json:"auth"`
	}
	type subscription struct {
		Endpoint string `json:"endpoint"`
		Keys     keys   `json:"keys"`
	}
	type registration struct {
		Subscription subscription `json:"subscription"`
		Lang         string       `json:"lang"`
	}
	regCPU0, t := d.cpu(), time.Now()
	err = d.callMany(ctx, o.pushN, registerInflight, func(i int) (string, string, any) {
		b := browsers[i%len(browsers)]
		return http.MethodPost, "/api/v1/push/subscriptions", registration{
			Subscription: subscription{Endpoint: origin + "/push/" + strconv.Itoa(i+1), Keys: keys{b.P256dh, b.Auth}}, Lang: "fr"}
	})
	if err != nil {
		return nil, err
	}
	regWall, regCPU := time.Since(t), d.cpu()-regCPU0
	progress("registered %d browsers through the API in %v (%.0f/s)", o.pushN, dur(regWall), rate(o.pushN, regWall))

	baseN := o.baseN
	if baseN <= 0 {
		baseN = min(o.pushN, 50_000)
	}
	floorN := min(baseN, 20_000)
	sender, err := push.NewSender(push.Config{PrivateKey: vpriv, PublicKey: vpub, Subject: "mailto:ops@news.example.com",
		Client: push.NewHTTPClient(netguard.Policy{AllowPrivate: true}, 0, o.pushConc)})
	if err != nil {
		return nil, err
	}
	var (
		reps                          []alertRep
		senderSend, wpSend, floorSend func(context.Context, int) error
		payload                       []byte
		rssReset                      = true
	)
	for r := range o.reps {
		if err := stub.Reset(); err != nil {
			return nil, err
		}
		rssReset = d.resetRSS() && rssReset
		stub0 := procCPU(stub.cmd.Process.Pid)
		var a struct {
			Targeted  int64 `json:"targeted"`
			Delivered int64 `json:"delivered"`
			Failed    int64 `json:"failed"`
			Expired   int64 `json:"expired"`
		}
		m, err := d.measure(ctx, pm, stub, "/api/v1/alerts", map[string]any{"title": benchAlert.Title, "body": benchAlert.Body,
			"url": benchAlert.URL, "image_url": benchAlert.ImageURL}, "/api/v1/alerts/", int64(o.pushN), &a)
		if err != nil {
			return nil, err
		}
		rep := alertRep{wall: m.wall, delivered: a.Delivered, failed: a.Failed, expired: a.Expired, targeted: a.Targeted}
		rep.rss = m.rss
		ss := m.helper
		rep.atStub, rep.toLast, rep.first = ss.Count, m.sinceT0(ss.LastNS), m.sinceT0(ss.FirstNS)
		rep.rate = rate(int(a.Delivered), rep.wall)
		rep.cpuPer, rep.dbPer = m.perMsg(a.Delivered)
		rep.stubPer = (procCPU(stub.cmd.Process.Pid) - stub0) / time.Duration(max(a.Delivered, 1))
		rep.bytesPer = ss.avg()

		if r == 0 {
			// The payload the daemon sends for this alert (dispatch.Pusher's
			// JSON: its id, and a Topic of 16 random bytes as alert.Service
			// makes one), for the baselines.
			var topic string
			if payload, topic, err = alertPayload(m.id); err != nil {
				return nil, err
			}
			senderSend, wpSend, floorSend = baselines(ctx, origin, browsers, sender, vpriv, vpub, payload, topic, o.pushConc)
		}
		rep.sender = pushtest.Measure(ctx, baseN, o.pushConc, senderSend)
		rep.webpush = pushtest.Measure(ctx, baseN, o.pushConc, wpSend)
		rep.floor = pushtest.Measure(ctx, floorN, 1, floorSend)
		progress("rep %d/%d: %d pushes in %v: %.0f/s, %.0f µs CPU/msg, first push %v; webpush-go %.0f/s, %.0f µs CPU/msg; floor %.0f µs",
			r+1, o.reps, a.Delivered, dur(rep.wall), rep.rate, us(rep.cpuPer), dur(rep.first),
			rep.webpush.MsgsPerSec(), us(rep.webpush.CPUPerMsg()), us(rep.floor.CPUPerMsg()))
		reps = append(reps, rep)
	}
	sec := pushSection(o, baseN, floorN, len(payload), pm != 0, rssReset, reps)
	sec.rows = append([][4]string{{"browsers registered (POST /api/v1/push/subscriptions, apart)",
		fmt.Sprintf("%d in %v: %.0f/s, %.0f µs of crieur CPU each (%d in flight, admin Bearer token)",
			o.pushN, dur(regWall), rate(o.pushN, regWall), us(regCPU)/float64(o.pushN), registerInflight), "", ""}}, sec.rows...)
	return sec, nil
}

// pushSection is the report of runServePush.
func pushSection(o options, baseN, floorN, payloadLen int, hasDB, rssReset bool, reps []alertRep) *section {
	sec := &section{title: fmt.Sprintf("F. The shipped daemon: one alert to %d browsers through `crieur serve`", o.pushN)}
	sec.setup = []string{
		fmt.Sprintf("A `crieur serve` process built from ./cmd/crieur (`go build`, CGO_ENABLED=0), database %s, CRIEUR_PUSH_ALLOW_PRIVATE=true (the push stub is plain http on loopback), CRIEUR_PUSH_CONCURRENCY=%d, its VAPID pair given in the environment.", dbName(o), o.pushConc),
		fmt.Sprintf("%d browsers (512 real P-256 key pairs, cycled; no topic, so every alert reaches them) registered through POST /api/v1/push/subscriptions with the admin token, %d requests in flight; endpoints on the push stub process, which answers 201 without decrypting.", o.pushN, registerInflight),
		fmt.Sprintf("Each of the %d repetitions: POST /api/v1/alerts (no topics: every browser), then GET /api/v1/alerts/{id} until its state is done (every 500 ms, then every 20 ms once the stub has every push). Wall time is from the POST to the answer saying done: the daemon closes an alert once its last outcome is recorded, so it includes that and the bench's last poll (20 ms) after the last push. First push: the stub's arrival time of the first request after the POST.", o.reps),
		"CPU: utime+stime of the crieur process from /proc/PID/stat (10 ms ticks) before the POST and after done, polls included, registration not. Peak RSS: VmHWM of the crieur process, reset (clear_refs) before each repetition. The push stub's own CPU is measured too (it shares the cores).",
		fmt.Sprintf("Baselines after each repetition, in the bench process, same stub, same VAPID pair, a payload of the same %d bytes (the daemon's JSON for the alert): crieur's push.Sender alone (no daemon, no queue) and a webpush-go v1.4.0 loop on a client like crieur's, both %d messages at concurrency %d; the RFC 8291 encryption floor (fresh P-256 key, salt, ECDH, HKDF, AES-GCM) on one goroutine, %d messages. Their CPU is getrusage of the bench process.", payloadLen, baseN, o.pushConc, floorN),
		fmt.Sprintf("Figures are medians of the %d repetitions, the range in brackets; ratios are of the medians. Everything shares this machine's %d cores.", o.reps, o.cores),
	}
	if o.pushLatency > 0 {
		sec.setup = append(sec.setup, fmt.Sprintf("The stub waits %v before each answer (-push-latency), as a push service across the internet would.", o.pushLatency))
	}
	if hasDB {
		sec.setup = append(sec.setup, "PostgreSQL's CPU (postmaster and all its processes, /proc) is measured over the same interval and reported apart.")
	}
	allSent := true
	var counts []string
	for _, r := range reps {
		allSent = allSent && r.delivered == int64(o.pushN) && r.atStub == r.delivered
		counts = append(counts, fmt.Sprintf("%d / %d / %d; %d", r.delivered, r.failed, r.expired, r.atStub))
	}
	sec.row("pushes per repetition: delivered / failed / expired (API); received by the stub", strings.Join(counts, " · "), "", ptr(allSent))
	wall, wallR := medianOf(reps, func(r alertRep) float64 { return r.wall.Seconds() })
	toLast, toLastR := medianOf(reps, func(r alertRep) float64 { return r.toLast.Seconds() })
	sec.row("wall time, POST → state done", fmt.Sprintf("%.2f s%s (last push at the stub after %.2f s%s)", wall, wallR, toLast, toLastR), "", nil)
	rateM, rateR := medianOf(reps, func(r alertRep) float64 { return r.rate })
	sec.row("**crieur serve, pushes/s** (POST → done)", fmt.Sprintf("%.0f%s", rateM, rateR), "", nil)
	stubRate, stubRateR := medianOf(reps, func(r alertRep) float64 { return rate(int(r.delivered), r.toLast) })
	sec.row("  pushes/s, POST → last push at the stub (without the closing tick)", fmt.Sprintf("%.0f%s", stubRate, stubRateR), "", nil)
	stat := func(f func(alertRep) pushtest.Stats) (rate float64, rateR string, cpu float64, cpuR string) {
		r, rr := medianOf(reps, func(r alertRep) float64 { return f(r).MsgsPerSec() })
		c, cr := medianOf(reps, func(r alertRep) float64 { return us(f(r).CPUPerMsg()) })
		return r, rr, c, cr
	}
	sRate, sRateR, sCPU, sCPUR := stat(func(r alertRep) pushtest.Stats { return r.sender })
	wRate, wRateR, wCPU, wCPUR := stat(func(r alertRep) pushtest.Stats { return r.webpush })
	_, _, fCPU, fCPUR := stat(func(r alertRep) pushtest.Stats { return r.floor })
	sec.row("crieur push.Sender alone, in the bench (no daemon, no queue)", fmt.Sprintf("%.0f msg/s%s, %.1f µs CPU/msg%s", sRate, sRateR, sCPU, sCPUR), "", nil)
	sec.row("webpush-go v1.4.0 loop, shared client", fmt.Sprintf("%.0f msg/s%s, %.1f µs CPU/msg%s", wRate, wRateR, wCPU, wCPUR), "", nil)
	ratio := rateM / wRate
	sec.row("**crieur serve / webpush-go** (rate)", fmt.Sprintf("%.2f×", ratio), "≥ 1.8×", ptr(ratio >= 1.8))
	cpu, cpuR := medianOf(reps, func(r alertRep) float64 { return us(r.cpuPer) })
	sec.row("**crieur CPU per message**", fmt.Sprintf("%.1f µs%s", cpu, cpuR), "", nil)
	less := wCPU / cpu
	sec.row("**webpush-go CPU / crieur CPU** per message", fmt.Sprintf("%.2f× less", less), "≥ 2× (issue 14)", ptr(less >= 2))
	sec.row("RFC 8291 encryption floor", fmt.Sprintf("%.1f µs CPU/msg%s", fCPU, fCPUR), "", nil)
	floorRatio := cpu / fCPU
	sec.row("**crieur CPU per message / floor**", fmt.Sprintf("%.2f×", floorRatio), "≤ 1.7×", ptr(floorRatio <= 1.7))
	if hasDB {
		db, dbR := medianOf(reps, func(r alertRep) float64 { return us(r.dbPer) })
		sec.row("PostgreSQL CPU per message (apart)", fmt.Sprintf("%.1f µs%s", db, dbR), "", nil)
	}
	stubCPU, stubCPUR := medianOf(reps, func(r alertRep) float64 { return us(r.stubPer) })
	sec.row("push stub's CPU per message (a separate process on the same cores)", fmt.Sprintf("%.1f µs%s", stubCPU, stubCPUR), "", nil)
	first, firstR := medianOf(reps, func(r alertRep) float64 { return float64(r.first.Microseconds()) / 1000 })
	sec.row("**first push** after the POST", fmt.Sprintf("%.0f ms%s", first, firstR), "≤ 50 ms (issue 14)", ptr(first <= 50))
	b, _ := medianOf(reps, func(r alertRep) float64 { return r.bytesPer })
	sec.row("request body at the stub", fmt.Sprintf("%.0f bytes", b), "", nil)
	rss, rssR := medianOf(reps, func(r alertRep) float64 { return float64(r.rss) / (1 << 20) })
	sec.row("peak RSS of crieur serve", fmt.Sprintf("%.0f MB%s%s", rss, rssR, resetNote(rssReset)), "< 200 MB", ptr(rss < 200))
	var errs int
	for _, r := range reps {
		errs += r.sender.Errors + r.webpush.Errors + r.floor.Errors
	}
	if errs > 0 {
		sec.note("Baseline errors: %d.", errs)
	}
	sec.note("Daemon overhead: crieur serve runs at %.0f%% of push.Sender alone and spends %.1f µs CPU/msg more (medians).", 100*rateM/sRate, cpu-sCPU)
	return sec
}
