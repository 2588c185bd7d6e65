package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"github.com/crieur/crieur/internal/alert"
	"github.com/crieur/crieur/internal/daemon"
	"github.com/crieur/crieur/internal/dispatch"
	"github.com/crieur/crieur/internal/netguard"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/push/pushtest"
	"github.com/crieur/crieur/internal/store"
)

// The alert every push run sends.
var benchAlert = news.AlertRequest{
	Title: "Alerte : le Parlement adopte la réforme après une nuit de débats",
	Body: "Le texte a été voté à 3 h du matin par 289 voix contre 267. Les principales mesures entreront en vigueur " +
		"dès le 1er janvier ; l'opposition annonce un recours devant le Conseil constitutionnel.",
	URL:       siteURL + "/articles/123456-le-parlement-adopte-la-reforme",
	ImageURL:  siteURL + "/images/123456.jpg",
	CreatedBy: "bench",
}

func runPush(ctx context.Context, o options) (*section, error) {
	stub, err := startChild("-push-stub", "-push-latency", o.pushLatency.String())
	if err != nil {
		return nil, err
	}
	defer stub.Stop()
	origin := "http://" + stub.Addr

	vpriv, vpub, err := push.GenerateVAPIDKeys()
	if err != nil {
		return nil, err
	}
	url, err := prepareDB(ctx, o, "push")
	if err != nil {
		return nil, err
	}
	// The shipped daemon's push side, with the VAPID pair given as a
	// publisher gives it (the baselines sign with the same pair).
	d, err := newDaemon(ctx, o, url, daemon.PushOnly(), func(c *daemon.Config) {
		c.VAPIDPrivateKey, c.VAPIDPublicKey = vpriv, vpub
	})
	if err != nil {
		return nil, err
	}
	defer d.Close()
	st := d.Store
	t := time.Now()
	sd := newSeeder(st)
	if _, err := sd.topics(ctx); err != nil {
		return nil, err
	}
	browsers := make([]*pushtest.Browser, 512)
	keys := make([][2]string, len(browsers))
	for i := range browsers {
		browsers[i] = pushtest.NewBrowser()
		keys[i] = [2]string{browsers[i].P256dh, browsers[i].Auth}
	}
	if err := sd.pushSubscriptions(ctx, o.pushN, origin, keys); err != nil {
		return nil, err
	}
	progress("seeded %d push subscriptions in %v", o.pushN, dur(time.Since(t)))

	// The Sender-alone baseline: a push.Sender configured as the daemon
	// configures its own (same client kind, timeout and concurrency).
	cfg := benchConfig(o, url)
	sender, err := push.NewSender(push.Config{PrivateKey: vpriv, PublicKey: vpub, Subject: cfg.VAPIDSubject,
		Client: push.NewHTTPClient(netguard.Policy{AllowPrivate: true}, cfg.PushTimeout, o.pushConc), Timeout: cfg.PushTimeout})
	if err != nil {
		return nil, err
	}
	if err := d.Start(ctx); err != nil {
		return nil, err
	}
	defer stopDaemon(d, 10*time.Second)
	alerts := d.Alerts

	// Every measurement is repeated o.reps times, the pipeline and the three
	// baselines in turn, so that a slow spell of the machine touches all of
	// them. Each pipeline run sends the same alert again as a new alert,
	// with its own deliveries; the baselines use the same stub and the
	// payload the Pusher built for the first one.
	o.reps = max(o.reps, 1)
	var (
		runs                          []pipeRun
		senderRuns, wpRuns, floorRuns []pushtest.Stats
		senderSend, wpSend, floorSend func(context.Context, int) error
		payload                       []byte
		baseN, floorN                 int
		rss                           int64
		rssReset                      = true
	)
	for r := range o.reps {
		rssReset = resetPeakRSS() && rssReset
		var prof *profiler
		if r == 0 {
			prof = startProfile(o, "push") // the first pipeline run alone
		}
		run, id, err := sendOnce(ctx, o, stub, st, alerts)
		prof.stop()
		if err != nil {
			return nil, err
		}
		rss = max(rss, peakRSS("self"))
		progress("pipeline run %d/%d: %.0f deliveries/s, %.1f µs CPU/msg (push stub %.1f µs), first push %v", r+1, o.reps,
			run.rate, us(run.cpuPer), us(run.stubPer), dur(run.first))
		runs = append(runs, run)
		if r == 0 {
			a, err := st.AlertBare(ctx, id)
			if err != nil {
				return nil, err
			}
			if payload, err = json.Marshal(dispatch.Payload{Title: a.Title, Body: a.Body, URL: a.URL, Image: a.ImageURL,
				AlertID: fmt.Sprint(a.ID), Tag: a.TopicHeader}); err != nil {
				return nil, err
			}
			payload = payload[:len(payload):len(payload)]
			baseN = o.baseN
			if baseN <= 0 {
				baseN = min(o.pushN, 50_000)
			}
			floorN = min(baseN, 20_000)
			senderSend, wpSend, floorSend = baselines(ctx, origin, browsers, sender, vpriv, vpub, payload, a.TopicHeader, o.pushConc)
		}
		progress("baselines %d/%d: crieur Sender alone, webpush-go, encryption floor (%d messages each)…", r+1, o.reps, baseN)
		senderRuns = append(senderRuns, pushtest.Measure(ctx, baseN, o.pushConc, senderSend))
		wpRuns = append(wpRuns, pushtest.Measure(ctx, baseN, o.pushConc, wpSend))
		floorRuns = append(floorRuns, pushtest.Measure(ctx, floorN, 1, floorSend))
	}

	sec := &section{title: fmt.Sprintf("C. One alert to %d push subscriptions (issue 4)", o.pushN)}
	sec.setup = []string{
		fmt.Sprintf("%d subscriptions (no topic: all get the alert) on a loopback push stub process answering 201 without decrypting (as pushtest.CountOnly).", o.pushN),
		fmt.Sprintf("The shipped daemon, built by internal/daemon (daemon.PushOnly, CRIEUR_PUSH_ALLOW_PRIVATE=true for the loopback stub, CRIEUR_PUSH_CONCURRENCY=%d) and started as `crieur serve` starts it: alert.Service.Send (with the Pusher's payload check) → its enqueuer (windows of 2,000) → dispatch.Pusher (claim, send, record, with the metrics observer) → push.Sender on push.NewHTTPClient.", o.pushConc),
		fmt.Sprintf("Payload %d bytes (the Pusher's JSON for this alert), TTL 1 h, urgency high, Topic header.", len(payload)),
		fmt.Sprintf("Baselines, same stub and payload, %d messages each: crieur's push.Sender alone (no queue) and webpush-go v1.4.0 with one shared client of the same kind, both at concurrency %d; the RFC 8291 encryption floor (fresh P-256 key, salt, ECDH, HKDF, AES-GCM) on one goroutine, %d messages.", baseN, o.pushConc, floorN),
		fmt.Sprintf("Every measurement is repeated %d times, the pipeline (the alert sent again as a new alert) and the baselines in turn, and each figure is the median of its repetitions, with the range in brackets: this machine's speed varies by ±10%% from one minute to the next. The push stub's own CPU per message is measured too (it shares the cores).", o.reps),
	}
	if o.pushLatency > 0 {
		sec.setup = append(sec.setup, fmt.Sprintf("The stub waits %v before each answer (-push-latency), as a push service across the internet would.", o.pushLatency))
	}
	med := func(f func(pipeRun) float64) (float64, string) {
		vs := make([]float64, len(runs))
		for i, r := range runs {
			vs[i] = f(r)
		}
		return median(vs), spread(vs)
	}
	medStats := func(ss []pushtest.Stats, f func(pushtest.Stats) float64) (float64, string) {
		vs := make([]float64, len(ss))
		for i, st := range ss {
			vs[i] = f(st)
		}
		return median(vs), spread(vs)
	}
	msgsPerSec := func(st pushtest.Stats) float64 { return st.MsgsPerSec() }
	cpuPerMsg := func(st pushtest.Stats) float64 { return us(st.CPUPerMsg()) }

	pipeRate, pipeRateR := med(func(r pipeRun) float64 { return r.rate })
	cpuPer, cpuPerR := med(func(r pipeRun) float64 { return us(r.cpuPer) })
	first, firstR := med(func(r pipeRun) float64 { return float64(r.first.Milliseconds()) })
	sRate, sRateR := medStats(senderRuns, msgsPerSec)
	sCPU, sCPUR := medStats(senderRuns, cpuPerMsg)
	wRate, wRateR := medStats(wpRuns, msgsPerSec)
	wCPU, wCPUR := medStats(wpRuns, cpuPerMsg)
	fCPU, fCPUR := medStats(floorRuns, cpuPerMsg)
	ratio := pipeRate / wRate
	cpuRatio := cpuPer / fCPU
	allSent := true
	var errs int
	for _, r := range runs {
		allSent = allSent && r.delivered == int64(o.pushN)
	}
	for i := range senderRuns {
		errs += senderRuns[i].Errors + wpRuns[i].Errors + floorRuns[i].Errors
	}
	last := runs[len(runs)-1]
	sec.row("deliveries (sent / failed / expired)", fmt.Sprintf("%d / %d / %d", last.delivered, last.failed, last.expired), "", ptr(allSent))
	sec.row("wall time, Send → last outcome recorded (last run)", fmt.Sprintf("%v (last push at the stub %v; the Send call itself %v)", dur(last.elapsed), dur(last.atStub), dur(last.sendCall)), "", nil)
	sec.row("**deliveries/second** (end to end)", fmt.Sprintf("%.0f %s", pipeRate, pipeRateR), "", nil)
	sec.row("crieur push.Sender alone (no queue)", fmt.Sprintf("%.0f msg/s %s, %.1f µs CPU/msg %s", sRate, sRateR, sCPU, sCPUR), "", nil)
	sec.row("webpush-go v1.4.0 loop, shared client", fmt.Sprintf("%.0f msg/s %s, %.1f µs CPU/msg %s", wRate, wRateR, wCPU, wCPUR), "", nil)
	sec.row("**pipeline / webpush-go**", fmt.Sprintf("%.2f×", ratio), "≥ 1.8×", ptr(ratio >= 1.8))
	sec.row("CPU per message (pipeline)", fmt.Sprintf("%.1f µs %s", cpuPer, cpuPerR), "", nil)
	sec.row("RFC 8291 encryption floor", fmt.Sprintf("%.1f µs CPU/msg %s", fCPU, fCPUR), "", nil)
	sec.row("**CPU per message / floor**", fmt.Sprintf("%.2f×", cpuRatio), "≤ 1.7×", ptr(cpuRatio <= 1.7))
	stubCPU, stubCPUR := med(func(r pipeRun) float64 { return us(r.stubPer) })
	sec.row("push stub's CPU per message (a separate process on the same cores)", fmt.Sprintf("%.1f µs %s", stubCPU, stubCPUR), "", nil)
	sec.row("**first push** after the Send call", fmt.Sprintf("%.0f ms %s", first, firstR), "≤ 100 ms", ptr(first <= 100))
	sec.row("peak RSS", mb(rss)+resetNote(rssReset), "< 200 MB", ptr(rss < 200<<20))
	if errs > 0 {
		sec.note("Baseline errors: %d.", errs)
	}
	sec.note("Queue overhead: the pipeline runs at %.0f%% of the Sender alone and spends %.1f µs CPU/msg more (medians).",
		100*pipeRate/sRate, cpuPer-sCPU)
	return sec, nil
}

// baselines returns, warmed up, the three send functions the pipeline is
// compared with: crieur's Sender alone, a plain webpush-go v1.4.0 call on a
// client like crieur's, and RFC 8291 encryption alone.
func baselines(ctx context.Context, origin string, browsers []*pushtest.Browser, sender *push.Sender,
	vpriv, vpub string, payload []byte, topic string, conc int) (senderSend, wpSend, floorSend func(context.Context, int) error) {
	subs := make([]push.Subscription, len(browsers))
	for i, b := range browsers {
		subs[i] = push.Subscription{Endpoint: fmt.Sprintf("%s/push/base-%d", origin, i), P256dh: b.P256dh, Auth: b.Auth}
	}
	warm := func(send func(context.Context, int) error) func(context.Context, int) error {
		for i := range 50 {
			_ = send(ctx, i)
		}
		return send
	}
	msg := push.Message{Payload: payload, TTL: time.Hour, Urgency: push.UrgencyHigh, Topic: topic}
	senderSend = warm(func(ctx context.Context, i int) error {
		r := sender.Send(ctx, subs[i%len(subs)], msg)
		if r.Outcome != push.Delivered {
			return fmt.Errorf("%v: %w", r.Outcome, r.Err)
		}
		return nil
	})
	wpClient := push.NewHTTPClient(netguard.Policy{AllowPrivate: true}, 0, conc) // the same client as crieur's
	wpSend = warm(webpushSend(wpClient, subs, vpriv, vpub, payload, topic))
	ua := browsers[0].Key.PublicKey()
	floorSend = warm(func(context.Context, int) error {
		_, err := encryptFloor(payload, ua, browsers[0].AuthSecret)
		return err
	})
	return senderSend, wpSend, floorSend
}

// webpushSend is the webpush-go v1.4.0 baseline's send: one
// SendNotificationWithContext call on client, as a webpush-go user writes
// it (VAPID, TTL 1 h, urgency high, a Topic), to subs in turn. payload must
// have no spare capacity: webpush-go appends to it.
func webpushSend(client webpush.HTTPClient, subs []push.Subscription, vpriv, vpub string, payload []byte,
	topic string) func(context.Context, int) error {
	return func(ctx context.Context, i int) error {
		s := subs[i%len(subs)]
		resp, err := webpush.SendNotificationWithContext(ctx, payload,
			&webpush.Subscription{Endpoint: s.Endpoint, Keys: webpush.Keys{P256dh: s.P256dh, Auth: s.Auth}},
			&webpush.Options{HTTPClient: client, Subscriber: "ops@news.example.com", VAPIDPublicKey: vpub, VAPIDPrivateKey: vpriv,
				TTL: 3600, Urgency: webpush.UrgencyHigh, Topic: topic})
		if err != nil {
			return err
		}
		_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
}

// pipeRun is one alert's trip through the real pipeline.
type pipeRun struct {
	delivered, failed, expired int64
	elapsed, atStub, sendCall  time.Duration
	first                      time.Duration // Send call → first push at the stub
	cpuPer                     time.Duration
	stubPer                    time.Duration // the push stub's CPU per message
	rate                       float64       // deliveries per second, Send → last outcome recorded
}

// sendOnce sends benchAlert through alerts and waits until every outcome is
// recorded.
func sendOnce(ctx context.Context, o options, stub *child, st *store.Store, alerts *alert.Service) (pipeRun, int64, error) {
	var run pipeRun
	if err := stub.Reset(); err != nil {
		return run, 0, err
	}
	cpu0, stub0 := cpuTime(), procCPU(stub.cmd.Process.Pid)
	t0 := time.Now()
	id, err := alerts.Send(ctx, benchAlert)
	if err != nil {
		return run, 0, err
	}
	run.sendCall = time.Since(t0)
	if err := waitFor(ctx, 30*time.Minute, func() (bool, error) {
		ss, err := stub.Stats()
		return ss.Count >= int64(o.pushN), err
	}); err != nil {
		return run, 0, err
	}
	run.atStub = time.Since(t0)
	// Every message reached the stub; wait until every outcome is recorded.
	// The wait asks the queue's partial indexes (nothing pending or
	// claimed), not Store.Alert: its per-state counts walk all the alert's
	// rows, tens of milliseconds each time, and that is the harness's CPU,
	// not the fan-out's.
	if err := waitFor(ctx, time.Minute, func() (bool, error) {
		var left int64
		// One count per state: each is answered by that state's partial
		// index, which "state IN (…)" would not use.
		err := st.DB().QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM push_deliveries WHERE state = 'pending')
			+ (SELECT COUNT(*) FROM push_deliveries WHERE state = 'sending')
			+ (SELECT COUNT(*) FROM push_windows WHERE state = 'pending')
			+ (SELECT COUNT(*) FROM push_windows WHERE state = 'sending')`).Scan(&left)
		return left == 0, err
	}); err != nil {
		return run, 0, err
	}
	run.elapsed = time.Since(t0)
	run.cpuPer = (cpuTime() - cpu0) / time.Duration(o.pushN)
	run.stubPer = (procCPU(stub.cmd.Process.Pid) - stub0) / time.Duration(o.pushN)
	run.rate = rate(o.pushN, run.elapsed)
	a, err := st.Alert(ctx, id)
	if err != nil {
		return run, 0, err
	}
	run.delivered, run.failed, run.expired = a.Delivered, a.Failed, a.Expired
	ss, err := stub.Stats()
	if err != nil {
		return run, 0, err
	}
	run.first = time.Duration(ss.FirstNS - t0.UnixNano())
	return run, id, nil
}

// median returns the middle value of vs (the mean of the two middle ones
// for an even count).
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// spread shows the range of repeated measurements: "[min–max]".
func spread(vs []float64) string {
	if len(vs) < 2 {
		return ""
	}
	lo, hi := slices.Min(vs), slices.Max(vs)
	if hi >= 100 {
		return fmt.Sprintf("[%.0f–%.0f]", lo, hi)
	}
	return fmt.Sprintf("[%.1f–%.1f]", lo, hi)
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// encryptFloor is RFC 8291 encryption alone, as push.Sender does it per
// message (fresh ephemeral key and salt, ECDH, HKDF, AES-128-GCM, padding to
// the same bucket), without building a request.
func encryptFloor(payload []byte, ua *ecdh.PublicKey, auth []byte) ([]byte, error) {
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	var salt [16]byte
	_, _ = rand.Read(salt[:])
	secret, err := eph.ECDH(ua)
	if err != nil {
		return nil, err
	}
	asPub, uaPub := eph.PublicKey().Bytes(), ua.Bytes()
	info := append(append([]byte("WebPush: info\x00"), uaPub...), asPub...)
	ikm, err := hkdf.Key(sha256.New, secret, auth, string(info), 32)
	if err != nil {
		return nil, err
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt[:])
	if err != nil {
		return nil, err
	}
	cek, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	nonce, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	padTo := 128
	for padTo < len(payload)+1 {
		padTo *= 2
	}
	const headerLen = 16 + 4 + 1 + 65
	body := make([]byte, headerLen+padTo, headerLen+padTo+16)
	copy(body, salt[:])
	binary.BigEndian.PutUint32(body[16:], 4096)
	body[20] = 65
	copy(body[21:], asPub)
	pt := body[headerLen:]
	copy(pt, payload)
	pt[len(payload)] = 0x02
	gcm.Seal(pt[:0], nonce, pt, nil)
	return body, nil
}
