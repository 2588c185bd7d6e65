package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/digest"
	"github.com/crieur/crieur/internal/dispatch"
	"github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/mail/mailtest"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/templates"
)

const siteURL = "https://news.example.com"

// digestPipeline is the daemon's email path as cmd/crieur wires it.
type digestPipeline struct {
	sub     *subscribe.Service
	builder *dispatch.MessageBuilder
	mailer  *dispatch.Mailer
	runner  *digest.Runner
	tr      *countingTransport
}

func newDigestPipeline(st *store.Store, o options, smtpURL string) (*digestPipeline, error) {
	log := o.logger()
	composer, err := compose.New(templates.FS, compose.Site{Name: "Le Quotidien", URL: siteURL, ListID: "digest.news.example.com"})
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	rand.Read(key)
	tokens, err := subscribe.NewTokens(key, nil)
	if err != nil {
		return nil, err
	}
	p := &digestPipeline{}
	p.sub = subscribe.New(subscribe.Config{Store: st, Tokens: tokens, HashKey: key, BaseURL: siteURL, Log: log})
	var dk *mail.DKIM
	if o.dkim {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		if dk, err = mail.NewDKIM("news.example.com", "crieur", k); err != nil {
			return nil, err
		}
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	p.builder = &dispatch.MessageBuilder{Store: st, Composer: composer, Subscribe: p.sub, DKIM: dk,
		From: "Le Quotidien <newsletter@news.example.com>", ListID: "Le Quotidien <digest.news.example.com>",
		FeedbackBrand: "crieur", Location: paris}
	smtp, err := mail.NewSMTP(smtpURL, mail.SMTPOptions{HELO: "bench.localhost", Logger: log})
	if err != nil {
		return nil, err
	}
	p.tr = &countingTransport{t: smtp}
	p.mailer = dispatch.NewMailer(dispatch.MailConfig{Store: st, Transport: p.tr, Builder: p.builder, Bouncer: p.sub, Log: log,
		EnvelopeFrom: "bounces@news.example.com", Owner: cmp.Or(o.owner, "bench"), Connections: o.smtpConns})
	p.runner = digest.NewRunner(st, log, nil, p.mailer.Wake)
	return p, nil
}

func runDigest(ctx context.Context, o options) (*section, error) {
	sink, err := startChild("-sink")
	if err != nil {
		return nil, err
	}
	defer sink.Stop()
	smtpURL := "smtp://" + sink.Addr + "?tls=none"

	st, err := openDB(ctx, o, "digest")
	if err != nil {
		return nil, err
	}
	defer st.Close()
	t := time.Now()
	sd := newSeeder(st)
	topicIDs, err := sd.topics(ctx)
	if err != nil {
		return nil, err
	}
	if err := sd.subscribers(ctx, o.n, topicIDs); err != nil {
		return nil, err
	}
	if err := sd.articles(ctx, o.articles); err != nil {
		return nil, err
	}
	progress("seeded %d readers and %d articles in %v", o.n, o.articles, dur(time.Since(t)))

	p, err := newDigestPipeline(st, o, smtpURL)
	if err != nil {
		return nil, err
	}
	rssReset := resetPeakRSS()
	prof := startProfile(o, "digest")
	cpu0, t0 := cpuTime(), time.Now()
	work, stopWork := context.WithCancel(ctx)
	defer stopWork()
	p.mailer.Start(work)
	id, err := p.runner.RunNow(ctx, news.Daily, "bench")
	if err != nil {
		return nil, err
	}
	// The enqueuer writes the run batch by batch and wakes the mailer after
	// each, as the daemon's Runner does; the mailer sends meanwhile.
	stats, err := p.runner.Enqueue(ctx, id)
	if err != nil {
		return nil, err
	}
	enqueued := time.Since(t0)
	progress("enqueued %d digests (%d readers, %d skipped) in %v; sending…", stats.Digests, stats.Subscribers, stats.Skipped, dur(enqueued))
	if err := waitFor(ctx, 30*time.Minute, func() (bool, error) {
		ss, err := sink.Stats()
		return ss.Count >= int64(stats.Digests), err
	}); err != nil {
		return nil, err
	}
	sinkDone := time.Since(t0)
	if err := waitFor(ctx, time.Minute, func() (bool, error) {
		n, err := st.PendingEmails(ctx)
		return n == 0, err
	}); err != nil {
		return nil, err
	}
	elapsed := time.Since(t0)
	stopWithin(p.mailer, 10*time.Second)
	cpu := cpuTime() - cpu0
	prof.stop()
	rss := peakRSS("self")
	ss, err := sink.Stats()
	if err != nil {
		return nil, err
	}
	if err := p.runner.RunOnce(ctx); err != nil {
		return nil, err
	}
	run, err := st.Run(ctx, id)
	if err != nil {
		return nil, err
	}

	// Baseline: raw go-mail on the same sink, same connections, a message
	// of the average size crieur sent.
	sample := p.tr.sampleMsg()
	rawN := o.rawN
	if rawN <= 0 {
		rawN = min(o.n, 50_000)
	}
	if err := sink.Reset(); err != nil {
		return nil, err
	}
	rcpu0 := cpuTime()
	rawRate, err := mailtest.RawGoMailThroughput(ctx, smtpURL, o.smtpConns, rawN, sample)
	if err != nil {
		return nil, err
	}
	rawCPU := cpuTime() - rcpu0

	sec := &section{title: fmt.Sprintf("A. Daily digest to %d readers (issue 3)", o.n)}
	sec.setup = []string{
		fmt.Sprintf("%d confirmed daily readers (2–4 of 8 topics each, 80%% French), %d articles over the last 20 h, temporary database seeded by direct SQL.", o.n, o.articles),
		fmt.Sprintf("Real pipeline: digest.Runner.Enqueue (batches of 1,000) while dispatch.Mailer (%d SMTP connections) claims, builds with MessageBuilder + compose, sends with mail.NewSMTP and records — to a go-smtp sink process that discards.", o.smtpConns),
		fmt.Sprintf("Messages: average %.1f KB (%d bytes sampled for the baseline); DKIM: %v.", p.tr.avg()/1024, len(sample), o.dkim),
		fmt.Sprintf("Baseline: mailtest.RawGoMailThroughput (go-mail defaults: NOOP+RSET per message), %d messages of the sampled size, %d connections, same sink.", rawN, o.smtpConns),
	}
	digests := stats.Digests
	e2e := rate(digests, elapsed)
	steady := 0.0
	if ss.LastNS > ss.FirstNS {
		steady = float64(ss.Count) / (time.Duration(ss.LastNS - ss.FirstNS)).Seconds()
	}
	_ = steady
	ratio := e2e / rawRate
	cpuPerK := cpu.Seconds() / float64(digests) * 1000
	sec.row("digests sent", fmt.Sprintf("%d (%d sent, %d failed in the run record)", digests, run.Sent, run.Failed), "", ptr(run.Sent == int64(digests) && run.Failed == 0))
	sec.row("wall time, RunNow → last outcome recorded", dur(elapsed), "", nil)
	sec.row("  of which enqueue (choose + write deliveries)", fmt.Sprintf("%v (choose %v)", dur(enqueued), dur(stats.Choose)), "", nil)
	sec.row("  last message reached the sink at", dur(sinkDone), "", nil)
	sec.row("**digests/second** (end to end)", fmt.Sprintf("%.0f", e2e), "", nil)
	sec.row("raw go-mail, same sink/size/connections", fmt.Sprintf("%.0f msg/s (%.2f CPU s per 1,000)", rawRate, rawCPU.Seconds()/float64(rawN)*1000), "", nil)
	sec.row("**crieur / raw go-mail**", fmt.Sprintf("%.0f%%", ratio*100), "≥ 70%", ptr(ratio >= 0.70))
	sec.row("CPU seconds per 1,000 digests", fmt.Sprintf("%.2f s (%.1f s total over %v wall)", cpuPerK, cpu.Seconds(), dur(elapsed)), "", nil)
	rssOK := rss < 150<<20
	sec.row("peak RSS", mb(rss)+resetNote(rssReset), "< 150 MB", ptr(rssOK))
	if o.n != 100_000 {
		sec.note("Targets are set for N = 100,000; this run used N = %d.", o.n)
	}
	return sec, nil
}

func resetNote(ok bool) string {
	if ok {
		return ""
	}
	return " (VmHWM could not be reset: includes seeding)"
}

// waitFor polls cond every 20 ms until it holds, fails, or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %v", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// countingTransport wraps the SMTP transport to learn the average size of
// the messages sent and keep one of about that size for the baseline.
type countingTransport struct {
	t      mail.Transport
	n, sum atomic.Int64
	mu     sync.Mutex
	sample []byte
}

func (c *countingTransport) NewSender(ctx context.Context) (mail.Sender, error) {
	s, err := c.t.NewSender(ctx)
	if err != nil {
		return nil, err
	}
	return &countingSender{Sender: s, c: c}, nil
}

func (c *countingTransport) avg() float64 {
	if n := c.n.Load(); n > 0 {
		return float64(c.sum.Load()) / float64(n)
	}
	return 0
}

func (c *countingTransport) sampleMsg() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sample
}

type countingSender struct {
	mail.Sender
	c *countingTransport
}

func (s *countingSender) Send(ctx context.Context, from, rcpt string, raw []byte) error {
	c := s.c
	n := c.n.Add(1)
	sum := c.sum.Add(int64(len(raw)))
	// Keep a message within 1% of the running mean (checked rarely).
	if n < 50 || n%97 == 0 {
		mean := float64(sum) / float64(n)
		c.mu.Lock()
		if c.sample == nil || math.Abs(float64(len(raw))-mean) < math.Abs(float64(len(c.sample))-mean) {
			c.sample = append(c.sample[:0], raw...)
		}
		c.mu.Unlock()
	}
	return s.Sender.Send(ctx, from, rcpt, raw)
}
