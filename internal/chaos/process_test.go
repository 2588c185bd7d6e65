package chaos_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
)

// processScenarios stop the daemon in the middle of a digest and of an
// alert: with SIGKILL (at most what was on the wire at each kill may go out
// twice) and with SIGTERM (a clean drain: exit 0, nothing twice).
var processScenarios = []scenario{
	{name: "process SIGKILL during a digest", run: digestKill},
	{name: "process SIGKILL during an alert", run: alertKill},
	{name: "process SIGTERM during a digest", run: digestTerm},
	{name: "process SIGTERM during an alert", run: alertTerm},
}

// Per-message delays at the sinks, so that a run of n lasts long enough to
// be interrupted several times (about n/250 s for email, n/400 s for push).
const (
	killMailDelay = 14 * time.Millisecond
	killPushDelay = 18 * time.Millisecond
)

// target is something a process scenario interrupts: how many messages it
// accepted, which, and which of the daemon's claimed rows it holds.
type target struct {
	f        *fixture
	accepted func() []string
	// inFlight lists the recipients (email addresses or endpoints) of the
	// rows the daemon holds claimed ("sending").
	inFlight func() []string
	// sent counts the rows recorded as sent.
	sent func() int
	// n counts the messages accepted (cheaper than len(accepted())).
	n func() int
}

// killPoints returns where the next kill happens: after between 1/(4k) and
// 3/(4k) of the list more, so that k kills fall at random moments of the
// first ~75% of the run.
func killPoints(done, n, kills int) int {
	return done + n/(4*kills) + rand.IntN(n/(2*kills)+1)
}

// kills interrupts tg sz.kills times with SIGKILL and restarts it, and
// returns the sum of the messages accepted but unrecorded at each kill.
func kills(t *testing.T, sz sizes, v *verdict, tg target, total, bound int) int {
	unrecorded := 0
	var per []string
	for k := range sz.kills {
		at := killPoints(tg.n(), total, sz.kills)
		if at >= total*9/10 {
			break
		}
		if !waitUntil(2*time.Minute, func() bool { return tg.n() >= at }) {
			v.fail("kill %d: only %d of %d messages after 2 min", k+1, tg.n(), at)
			return unrecorded
		}
		tg.f.p.Kill()
		killed := time.Now()
		accepted := settle(tg.n)
		sent := tg.sent()
		u := overlap(tg.accepted(), tg.inFlight())
		t.Logf("kill %d: %d accepted, %d recorded sent, %d accepted but unrecorded", k+1, accepted, sent, u)
		if sent > accepted {
			v.fail("kill %d: %d recorded sent but only %d accepted", k+1, sent, accepted)
		}
		if u > bound {
			v.fail("kill %d: %d accepted but unrecorded, bound %d", k+1, u, bound)
		}
		unrecorded += u
		per = append(per, fmt.Sprint(u))
		tg.f.start()
		if !waitUntil(time.Minute, func() bool { return tg.n() > accepted }) {
			v.fail("kill %d: nothing more delivered a minute after the restart", k+1)
			return unrecorded
		}
		rec := time.Since(killed)
		v.row.Recovery = max(v.row.Recovery, rec)
	}
	v.note("%d kills, in flight at each: %s (bound %d per kill); recovery = kill → restart → next message, worst", len(per), strings.Join(per, ", "), bound)
	return unrecorded
}

// digestTarget prepares a digest of n readers through a slowed sink.
func digestTarget(t *testing.T, n int) (target, *sink, []string, string, time.Time) {
	s := newSink(t, sinkFaults{delay: killMailDelay})
	f, addrs, id, begin := digestOn(t, n, s.URL(), nil)
	tg := target{f: f, accepted: s.accepted, n: s.n,
		inFlight: func() []string {
			return f.column("SELECT s.email FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id WHERE d.state = 'sending'")
		},
		sent: func() int { return f.count("SELECT COUNT(*) FROM deliveries WHERE state = 'sent'") },
	}
	return tg, s, addrs, id, begin
}

// alertTarget prepares an alert to n push subscriptions through a slowed
// push service.
func alertTarget(t *testing.T, n int) (target, *pushFixture, string, time.Time) {
	pf := newPushFixture(t, n, pushConc, nil)
	pf.ps.SetGlobalFault(func(int, *http.Request) (int, http.Header, time.Duration) { return 0, nil, killPushDelay })
	begin := time.Now()
	id := pf.sendAlert("Urgent")
	tg := target{f: pf.fixture, accepted: func() []string { return receivedFor(pf.ps, id) }, n: pf.ps.Count,
		inFlight: func() []string { return e2etest.PushClaimed(t, pf.env) },
		sent:     func() int { return pf.count("SELECT COALESCE(SUM(delivered), 0) FROM alerts") },
	}
	return tg, pf, id, begin
}

// digestKill kills the daemon sz.kills times during a digest of sz.n.
func digestKill(t *testing.T, sz sizes, v *verdict) {
	tg, s, addrs, id, begin := digestTarget(t, sz.n)
	unrecorded := kills(t, sz, v, tg, sz.n, emailBound)
	r := waitRun(tg.f, v, id, 3*time.Minute+time.Duration(sz.n)*10*time.Millisecond)
	checkRun(v, r, sz.n, 0)
	d, dup, lost := tally(s.accepted(), addrs)
	v.counts(sz.n, d, dup, lost, sz.kills*emailBound)
	if dup > unrecorded {
		v.fail("%d duplicates, more than the %d messages accepted but unrecorded at the kills", dup, unrecorded)
	}
	v.row.Total = s.last().Sub(begin)
}

// alertKill kills the daemon sz.kills times during an alert to sz.n
// subscriptions.
func alertKill(t *testing.T, sz sizes, v *verdict) {
	tg, pf, id, begin := alertTarget(t, sz.n)
	unrecorded := kills(t, sz, v, tg, sz.n, pushBound)
	var a alertJSON
	if !waitUntil(3*time.Minute+time.Duration(sz.n)*10*time.Millisecond, func() bool { a = pf.alert(id); return a.State == "done" }) {
		v.fail("alert = %+v, want done", a)
	}
	v.row.Total = time.Since(begin)
	if a.Targeted != int64(sz.n) || a.Delivered != int64(sz.n) {
		v.fail("alert = %+v, want %d targeted and delivered", a, sz.n)
	}
	d, dup, lost := tally(receivedFor(pf.ps, id), pf.endpoints)
	v.counts(sz.n, d, dup, lost, sz.kills*pushBound)
	if dup > unrecorded {
		v.fail("%d duplicates, more than the %d pushes accepted but unrecorded at the kills", dup, unrecorded)
	}
	if errs := pf.ps.Errors(); len(errs) > 0 {
		v.fail("the push service refused %d requests as malformed, first: %v", len(errs), errs[0])
	}
}

// term stops tg with SIGTERM between 25% and 50% of the way: it must exit
// 0 within 15 s with every accepted message recorded and nothing left
// claimed; then it is restarted.
func term(v *verdict, tg target, total int) {
	at := total/4 + rand.IntN(total/4+1)
	if !waitUntil(2*time.Minute, func() bool { return tg.n() >= at }) {
		v.fail("only %d of %d messages after 2 min", tg.n(), at)
		return
	}
	err, took := tg.f.p.Term(15 * time.Second)
	if err != nil {
		v.fail("SIGTERM: %v after %v; log: %s", err, took, tail(tg.f.p.Logs(), 1500))
	}
	stopped := time.Now()
	accepted := settle(tg.n)
	sent := tg.sent()
	claimed := len(tg.inFlight())
	if accepted != sent || claimed != 0 {
		v.fail("after SIGTERM: %d accepted, %d recorded sent, %d left claimed; want equal and 0", accepted, sent, claimed)
	}
	tg.f.start()
	if accepted >= total {
		// Everything went out while the daemon drained: nothing is left
		// for the restart to send (a fast fan-out can finish in the
		// grace period).
		v.note("all %d out before the exit (drained in %v)", total, took.Round(time.Millisecond))
		return
	}
	if !waitUntil(time.Minute, func() bool { return tg.n() > accepted }) {
		v.fail("nothing more delivered a minute after the restart")
		return
	}
	v.row.Recovery = time.Since(stopped)
	v.note("stopped at %d of %d, exit 0 after %v; recovery = exit → restart → next message", accepted, total, took.Round(time.Millisecond))
}

// digestTerm stops the daemon with SIGTERM during a digest of sz.n.
func digestTerm(t *testing.T, sz sizes, v *verdict) {
	tg, s, addrs, id, begin := digestTarget(t, sz.n)
	term(v, tg, sz.n)
	r := waitRun(tg.f, v, id, 3*time.Minute+time.Duration(sz.n)*10*time.Millisecond)
	checkRun(v, r, sz.n, 0)
	d, dup, lost := tally(s.accepted(), addrs)
	v.counts(sz.n, d, dup, lost, -1)
	v.row.Total = s.last().Sub(begin)
}

// alertTerm stops the daemon with SIGTERM during an alert to sz.n.
func alertTerm(t *testing.T, sz sizes, v *verdict) {
	tg, pf, id, begin := alertTarget(t, sz.n)
	term(v, tg, sz.n)
	var a alertJSON
	if !waitUntil(3*time.Minute+time.Duration(sz.n)*10*time.Millisecond, func() bool { a = pf.alert(id); return a.State == "done" }) {
		v.fail("alert = %+v, want done", a)
	}
	v.row.Total = time.Since(begin)
	d, dup, lost := tally(receivedFor(pf.ps, id), pf.endpoints)
	v.counts(sz.n, d, dup, lost, -1)
}
