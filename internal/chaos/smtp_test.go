package chaos_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/crieur/crieur/internal/chaos"
	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// smtpConns is CRIEUR_SMTP_CONNECTIONS in every email scenario.
const smtpConns = 4

// emailBound is the most emails a pipeline can have accepted by the server
// but not yet recorded as sent, by construction of internal/dispatch: one
// per connection (on the wire), the results channel (twice the claim batch
// of max(16, 8×connections)) and the recorder's group of 64.
const emailBound = smtpConns + 2*max(16, 8*smtpConns) + 64

// smtpScenarios misbehave at the SMTP level; none may lose or duplicate a
// message.
var smtpScenarios = []scenario{
	{name: "smtp 421-451 (10%)", run: smtpTemporary},
	{name: "smtp drop mid-DATA (10%)", run: smtpDrop},
	{name: "smtp stall past timeout", run: smtpStall, waits: true},
	{name: "smtp slow reply (8s) > CRIEUR_LEASE", run: smtpSlowLease},
	{name: "smtp server down then back", run: smtpDown, waits: true},
	{name: "smtp 550 for 5% of readers", run: smtpRefused},
	{name: "smtp auth suddenly refused", run: smtpAuthRefused},
}

// digestOn prepares n readers, starts the daemon sending to smtpURL, posts
// articles and starts a digest run; it returns the fixture, the readers,
// the run id and when the run started.
func digestOn(t *testing.T, n int, smtpURL string, extra map[string]string) (*fixture, []string, string, time.Time) {
	t.Helper()
	env := map[string]string{"CRIEUR_SMTP_URL": smtpURL, "CRIEUR_SMTP_CONNECTIONS": "4"}
	for k, v := range extra {
		env[k] = v
	}
	f := newFixture(t, "", env)
	addrs := f.readers(n)
	f.start()
	f.articles()
	begin := time.Now()
	return f, addrs, f.runDigest(), begin
}

// waitRun waits until a run leaves "running"; it reports a timeout to v.
func waitRun(f *fixture, v *verdict, id string, timeout time.Duration) runJSON {
	var r runJSON
	if !waitUntil(timeout, func() bool { r = f.run(id); return r.State != "" && r.State != "running" }) {
		v.fail("run %s still %q after %v: %+v", id, r.State, timeout, r)
	}
	return r
}

// checkRun checks a finished run sent want and failed wantFailed.
func checkRun(v *verdict, r runJSON, want, wantFailed int) {
	if r.State != "done" || r.Sent != int64(want) || r.Failed != int64(wantFailed) || r.Sent+r.Failed+r.SkippedEmpty != r.Recipients {
		v.fail("run = %+v, want done with %d sent and %d failed", r, want, wantFailed)
	}
}

// smtpDigest runs a digest of sz.faults readers through s and checks every
// reader got it exactly once.
func smtpDigest(t *testing.T, sz sizes, v *verdict, s *sink, timeout time.Duration, extra map[string]string) (*fixture, time.Time) {
	f, addrs, id, begin := digestOn(t, sz.faults, s.URL(), extra)
	r := waitRun(f, v, id, timeout)
	checkRun(v, r, len(addrs), 0)
	d, dup, lost := tally(s.accepted(), addrs)
	v.counts(len(addrs), d, dup, lost, -1)
	v.row.Total = s.last().Sub(begin)
	return f, begin
}

// smtpTemporary answers 451 to one RCPT in 20 and 421 to one DATA in 20.
func smtpTemporary(t *testing.T, sz sizes, v *verdict) {
	var faults atomic.Int64
	s := newSink(t, sinkFaults{
		rcpt: func(_ string, n int) *smtp.SMTPError {
			if n%20 == 3 {
				faults.Add(1)
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
			}
			return nil
		},
		data: func(_ string, n int) *smtp.SMTPError {
			if n%20 == 11 {
				faults.Add(1)
				return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Closing, come back later"}
			}
			return nil
		},
	})
	smtpDigest(t, sz, v, s, 2*time.Minute, nil)
	v.note("%d temporary answers", faults.Load())
}

// smtpDrop closes the connection in the middle of one DATA in ten.
func smtpDrop(t *testing.T, sz sizes, v *verdict) {
	var drops atomic.Int64
	s := newSink(t, sinkFaults{}, mailtest.WithDropDuringData(func(_ string, n int) bool {
		if n%10 == 5 {
			drops.Add(1)
			return true
		}
		return false
	}))
	smtpDigest(t, sz, v, s, 2*time.Minute, nil)
	v.note("%d connections dropped", drops.Load())
}

// smtpStall never answers the first two DATA commands (the server hangs
// after reading the message): the daemon's timeout must free the
// connection and the message go out again, once. The lease is longer than
// the timeout here, so that the timeout, not the rescuer, frees the
// message (see smtpSlowLease).
func smtpStall(t *testing.T, sz sizes, v *verdict) {
	var mu sync.Mutex
	stalled := map[string]time.Time{}
	s := newSink(t, sinkFaults{}, mailtest.WithStall(func(rcpt string, n int) time.Duration {
		if n > 2 {
			return 0
		}
		mu.Lock()
		stalled[rcpt] = time.Now()
		mu.Unlock()
		return time.Hour // until the sink closes: never answered
	}))
	smtpDigest(t, sz, v, s, 3*time.Minute, map[string]string{"CRIEUR_LEASE": "2m"})
	mu.Lock()
	defer mu.Unlock()
	for rcpt, at := range stalled {
		got := s.timeOf(rcpt)
		if got.IsZero() {
			continue // counted as lost already
		}
		v.row.Recovery = max(v.row.Recovery, got.Sub(at))
	}
	v.note("%d replies withheld; recovery is the SMTP timeout (CRIEUR_SMTP_TIMEOUT, default 30s)", len(stalled))
}

// smtpSlowLease answers the first two DATA commands after 8 s, well within
// the SMTP timeout but longer than CRIEUR_LEASE (3 s): a slow server, not a
// dead worker. Nothing crashed, so nothing may arrive twice.
func smtpSlowLease(t *testing.T, sz sizes, v *verdict) {
	const slow = 8 * time.Second
	var last atomic.Int64 // when the last slow reply was held, unix nanos
	s := newSink(t, sinkFaults{}, mailtest.WithStall(func(_ string, n int) time.Duration {
		if n <= 2 {
			last.Store(time.Now().UnixNano())
			return slow
		}
		return 0
	}))
	f, addrs, id, begin := digestOn(t, sz.faults, s.URL(), nil)
	r := waitRun(f, v, id, 2*time.Minute)
	checkRun(v, r, len(addrs), 0)
	// The run may be done before the slow replies come: wait for them.
	time.Sleep(time.Until(time.Unix(0, last.Load()).Add(slow + time.Second)))
	d, dup, lost := tally(s.accepted(), addrs)
	v.counts(len(addrs), d, dup, lost, -1)
	v.row.Total = s.last().Sub(begin)
	if n := strings.Count(f.p.Logs(), "rescued deliveries from a dead worker"); n > 0 {
		v.note("the log says %d times \"rescued deliveries from a dead worker\" though no worker died", n)
	}
}

// smtpDown points the daemon at an address where nothing listens, starts
// the digest, and brings the server up on that address after sz.outage.
func smtpDown(t *testing.T, sz sizes, v *verdict) {
	s := newSink(t, sinkFaults{})
	addr := e2etest.FreeAddr(t)
	f, addrs, id, begin := digestOn(t, sz.faults, "smtp://"+addr+"?tls=none", nil)
	time.Sleep(sz.outage) // the outage itself
	sent := f.count("SELECT COUNT(*) FROM deliveries WHERE state = 'sent'")
	failed := f.count("SELECT COUNT(*) FROM deliveries WHERE state = 'failed'")
	attempts := f.count("SELECT COALESCE(MAX(attempts), 0) FROM deliveries")
	if sent != 0 || failed != 0 {
		v.fail("during the outage %d deliveries marked sent and %d failed, want 0 and 0", sent, failed)
	}
	fw, err := chaos.Forward(addr, s.Addr())
	if err != nil {
		v.notRun("cannot listen on the reserved SMTP address again: " + err.Error())
	}
	t.Cleanup(func() { fw.Close() })
	up := time.Now()
	r := waitRun(f, v, id, sz.outage*4+2*time.Minute)
	checkRun(v, r, len(addrs), 0)
	d, dup, lost := tally(s.accepted(), addrs)
	v.counts(len(addrs), d, dup, lost, -1)
	if first := s.firstAfter(up); !first.IsZero() {
		v.row.Recovery = first.Sub(up)
	}
	v.row.Total = s.last().Sub(begin)
	v.note("down %v, up to %d attempts per message during it; recovery waits for the next back-off step", sz.outage, attempts)
}

// smtpRefused answers 550 5.1.1 at RCPT for one reader in twenty: those end
// bounced (and suppressed), the others get their digest once.
func smtpRefused(t *testing.T, sz sizes, v *verdict) {
	bounced := map[string]bool{}
	s := newSink(t, sinkFaults{rcpt: func(rcpt string, _ int) *smtp.SMTPError {
		if bounced[rcpt] {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
		}
		return nil
	}})
	n := sz.faults
	var good, bad []string
	for i := range n {
		a := readerAddr(i)
		if i%20 == 7 {
			bounced[a] = true // written before the daemon starts, read-only after
			bad = append(bad, a)
		} else {
			good = append(good, a)
		}
	}
	f, _, id, begin := digestOn(t, n, s.URL(), nil)
	r := waitRun(f, v, id, 2*time.Minute)
	checkRun(v, r, len(good), len(bad))
	d, dup, lost := tally(s.accepted(), good)
	v.counts(len(good), d, dup, lost, -1)
	if got, _, _ := tally(s.accepted(), bad); got != 0 {
		v.fail("%d refused addresses reached the sink", got)
	}
	notSuppressed := 0
	for _, a := range bad {
		if st := f.subscriberStatus(a); st != "bounced" {
			notSuppressed++
			if notSuppressed == 1 {
				v.fail("bounced %s has status %q, want bounced", a, st)
			}
		}
	}
	for _, a := range good[:min(10, len(good))] {
		if st := f.subscriberStatus(a); st != "confirmed" {
			v.fail("delivered %s has status %q, want confirmed", a, st)
		}
	}
	v.row.Total = s.last().Sub(begin)
	v.note("%d refused, %d of them suppressed (status bounced)", len(bad), len(bad)-notSuppressed)
}

// smtpAuthRefused sends through a server that accepts the credentials,
// then (a third of the way through) swaps it for one that refuses them on
// the same address: the run must stop, say why, and mark nothing sent that
// the server did not accept, leaving the rest queued.
func smtpAuthRefused(t *testing.T, sz sizes, v *verdict) {
	good := newSink(t, sinkFaults{delay: 5 * time.Millisecond}, mailtest.WithAuth("chaos", "s3cret"))
	bad := newSink(t, sinkFaults{}, mailtest.WithAuth("chaos", "s3cret"), mailtest.WithRefuseAuth())
	addr := e2etest.FreeAddr(t)
	fw, err := chaos.Forward(addr, good.Addr())
	if err != nil {
		t.Fatal(err)
	}
	n := sz.faults
	f, addrs, id, begin := digestOn(t, n, "smtp://chaos:s3cret@"+addr+"?tls=none", nil)
	if !waitUntil(time.Minute, func() bool { return good.n() >= n/3 }) {
		v.fail("only %d messages before the switch", good.n())
	}
	fw.Close()
	fw2, err := chaos.Forward(addr, bad.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fw2.Close() })
	switched := time.Now()
	var r runJSON
	if !waitUntil(time.Minute, func() bool { r = f.run(id); return r.State == "failed" }) {
		v.fail("run = %+v after the refusal, want failed with an error", r)
	}
	stopped := time.Since(switched)
	if r.Error == "" || !strings.Contains(r.Error, "refused") {
		v.fail("run error %q does not say the server refused us", r.Error)
	}
	accepted := settle(good.n)
	time.Sleep(time.Second) // nothing more may be marked sent now
	sent := f.count("SELECT COUNT(*) FROM deliveries WHERE state = 'sent'")
	failed := f.count("SELECT COUNT(*) FROM deliveries WHERE state IN ('failed', 'cancelled', 'expired')")
	queued := f.count("SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'sending')")
	if sent > accepted || accepted-sent > smtpConns {
		v.fail("%d marked sent, %d accepted by the server before the refusal", sent, accepted)
	}
	if bad.n() != 0 {
		v.fail("the refusing server accepted %d messages", bad.n())
	}
	if failed != 0 || sent+queued != n {
		v.fail("%d deliveries given up, %d sent + %d queued of %d", failed, sent, queued, n)
	}
	if logs := f.p.Logs(); !strings.Contains(logs, "refuses us") {
		v.fail("log does not say the mail server refuses us")
	}
	d, dup, _ := tally(good.accepted(), addrs)
	v.counts(n, d, dup, failed, -1)
	v.row.Recovery = 0
	v.row.Total = time.Since(begin)
	v.note("run failed %v after the switch with %q; %d left queued, nothing given up", stopped.Round(time.Millisecond), r.Error, queued)
}
