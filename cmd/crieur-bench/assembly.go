package main

import (
	"context"
	"fmt"
	"time"

	"github.com/crieur/crieur/internal/daemon"
	"github.com/crieur/crieur/internal/news"
)

// runAssembly times the daemon's digest Runner choosing every reader's articles and
// writing the deliveries, without sending anything.
func runAssembly(ctx context.Context, o options) (*section, error) {
	url, err := prepareDB(ctx, o, "assembly")
	if err != nil {
		return nil, err
	}
	// The daemon's digest runner, not started: the bench calls its Enqueue
	// itself to time the pass, and no mailer sends.
	d, err := newDaemon(ctx, o, url, daemon.MailOnly(), nil)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	st := d.Store
	t := time.Now()
	sd := newSeeder(st)
	topicIDs, err := sd.topics(ctx)
	if err != nil {
		return nil, err
	}
	if err := sd.subscribers(ctx, o.assemblyN, topicIDs); err != nil {
		return nil, err
	}
	if err := sd.articles(ctx, o.articles); err != nil {
		return nil, err
	}
	progress("seeded %d readers and %d articles in %v", o.assemblyN, o.articles, dur(time.Since(t)))

	runner := d.Digests
	rssReset := resetPeakRSS()
	prof := startProfile(o, "assembly")
	cpu0, t0 := cpuTime(), time.Now()
	id, err := runner.RunNow(ctx, news.Daily, "bench")
	if err != nil {
		return nil, err
	}
	stats, err := runner.Enqueue(ctx, id)
	if err != nil {
		return nil, err
	}
	total := time.Since(t0)
	cpu := cpuTime() - cpu0
	prof.stop()
	rss := peakRSS("self")

	sec := &section{title: fmt.Sprintf("B. Digest assembly for %d readers (no SMTP)", o.assemblyN)}
	sec.setup = []string{
		fmt.Sprintf("%d confirmed daily readers (2–4 of 8 topics), %d articles; digest.Runner.RunNow then Runner.Enqueue: stream readers 1,000 at a time, choose (digest.Pool.Choose), write deliveries and cursors in one transaction per batch.", o.assemblyN, o.articles),
	}
	n := max(stats.Subscribers, 1)
	sec.row("readers / digests written / skipped (nothing new)", fmt.Sprintf("%d / %d / %d", stats.Subscribers, stats.Digests, stats.Skipped), "", ptr(stats.Subscribers == o.assemblyN))
	sec.row("**total** (RunNow → all deliveries written)", dur(total), "", nil)
	sec.row("choose only", dur(stats.Choose), "", nil)
	sec.row("per reader: total / choose", fmt.Sprintf("%.1f µs / %.2f µs", float64(total.Nanoseconds())/float64(n)/1e3, float64(stats.Choose.Nanoseconds())/float64(n)/1e3), "", nil)
	sec.row("readers/second", fmt.Sprintf("%.0f", rate(n, total)), "", nil)
	sec.row("CPU", fmt.Sprintf("%.1f s", cpu.Seconds()), "", nil)
	sec.row("peak RSS", mb(rss)+resetNote(rssReset), "", nil)
	sec.note("The rest of the total (total − choose) is reading readers from the database and writing deliveries and cursors.")
	return sec, nil
}
