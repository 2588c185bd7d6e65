package chaos_test

import (
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/push/pushtest"
)

// pushConc is CRIEUR_PUSH_CONCURRENCY in every push scenario.
const pushConc = 8

// pushBound is the most pushes a pipeline can have had accepted but not
// yet recorded, by construction of internal/dispatch: one per request in
// flight, the results channel (twice the claim batch of
// max(256, 4×concurrency)) and the recorder's group of 64.
const pushBound = pushConc + 2*max(256, 4*pushConc) + 64

// pushScenarios misbehave at the push service; none may lose or duplicate
// a message, and only 404/410 may remove a subscription.
var pushScenarios = []scenario{
	{name: "push 429 ± Retry-After (20%)", run: push429},
	{name: "push 500-502-503 (15%)", run: push5xx},
	{name: "push slow past timeout (4 endpoints)", run: pushSlow, waits: true},
	{name: "push slow reply (6s) > CRIEUR_LEASE", run: pushSlowLease},
	{name: "push connection reset (10%)", run: pushReset},
	{name: "push 410 (10%) and 413 (5%)", run: pushGone},
}

// requestLog remembers when each endpoint was asked, for faults that need
// to say how long the daemon waited before retrying.
type requestLog struct {
	mu    sync.Mutex
	times map[string][]time.Time
}

// wrap returns f, logging every request it sees.
func (l *requestLog) wrap(f pushtest.Fault) pushtest.Fault {
	return func(n int, r *http.Request) (int, http.Header, time.Duration) {
		l.mu.Lock()
		if l.times == nil {
			l.times = map[string][]time.Time{}
		}
		l.times[r.URL.Path] = append(l.times[r.URL.Path], time.Now())
		l.mu.Unlock()
		return f(n, r)
	}
}

// gaps returns, for each endpoint whose path is in paths, the wait between
// its first and second request (endpoints asked once are left out).
func (l *requestLog) gaps(paths []string) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Duration
	for _, p := range paths {
		if ts := l.times[p]; len(ts) >= 2 {
			out = append(out, ts[1].Sub(ts[0]))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// firstK answers status (with header pairs) to an endpoint's first k
// requests, then handles them normally.
func firstK(k, status int, headerPairs ...string) pushtest.Fault {
	answer := pushtest.Answer(status, headerPairs...)
	return func(n int, r *http.Request) (int, http.Header, time.Duration) {
		if n <= k {
			return answer(n, r)
		}
		return 0, nil, 0
	}
}

// path is an endpoint's path at the push service.
func (pf *pushFixture) path(ep string) string { return strings.TrimPrefix(ep, pf.ps.URL()) }

// alertAll sends an alert to every subscription, waits until it is done
// and checks that each of want received it exactly once.
func (pf *pushFixture) alertAll(v *verdict, title string, want []string) (alertJSON, time.Duration) {
	begin := time.Now()
	id := pf.sendAlert(title)
	var a alertJSON
	if !waitUntil(3*time.Minute, func() bool { a = pf.alert(id); return a.State == "done" }) {
		v.fail("alert %s = %+v, want done", id, a)
	}
	took := time.Since(begin)
	d, dup, lost := tally(receivedFor(pf.ps, id), want)
	v.row.Expected += len(want)
	v.row.Delivered += d
	v.row.Duplicated += dup
	v.row.Lost += lost
	v.counts(v.row.Expected, v.row.Delivered, v.row.Duplicated, v.row.Lost, -1)
	v.row.Total += took
	if errs := pf.ps.Errors(); len(errs) > 0 {
		v.fail("the push service refused %d requests as malformed, first: %v", len(errs), errs[0])
	}
	return a, took
}

// checkKept checks that the daemon still holds n push subscriptions.
func (pf *pushFixture) checkKept(v *verdict, n int) {
	if got := pf.count("SELECT COUNT(*) FROM push_subscriptions"); got != n {
		v.fail("%d push subscriptions left, want %d", got, n)
	}
}

// push429 answers 429 once to one endpoint in ten without Retry-After and
// to another in ten with Retry-After: 2.
func push429(t *testing.T, sz sizes, v *verdict) {
	pf := newPushFixture(t, sz.faults, pushConc, nil)
	var log requestLog
	var plain, after []string
	for i, ep := range pf.endpoints {
		switch i % 10 {
		case 1:
			pf.ps.SetFault(ep, log.wrap(firstK(1, http.StatusTooManyRequests)))
			plain = append(plain, pf.path(ep))
		case 2:
			pf.ps.SetFault(ep, log.wrap(firstK(1, http.StatusTooManyRequests, "Retry-After", "2")))
			after = append(after, pf.path(ep))
		}
	}
	a, _ := pf.alertAll(v, "429", pf.endpoints)
	if a.Delivered != int64(len(pf.endpoints)) {
		v.fail("alert = %+v, want every subscription delivered", a)
	}
	pf.checkKept(v, len(pf.endpoints))
	g1, g2 := log.gaps(plain), log.gaps(after)
	if len(g1) > 0 && g1[len(g1)-1] > 10*time.Second {
		v.fail("a 429 without Retry-After waited %v before its retry, want ≤ 10s", g1[len(g1)-1])
	}
	if len(g2) > 0 && g2[0] < 2*time.Second-50*time.Millisecond {
		v.fail("a 429 with Retry-After: 2 was retried after %v", g2[0])
	}
	if len(g1) > 0 && len(g2) > 0 {
		v.row.Recovery = g2[len(g2)-1]
		v.note("retry after %v–%v without Retry-After, %v–%v with Retry-After: 2",
			g1[0].Round(time.Millisecond), g1[len(g1)-1].Round(time.Millisecond), g2[0].Round(time.Millisecond), g2[len(g2)-1].Round(time.Millisecond))
	}
}

// push5xx answers 500, 502 or 503 to the first two requests of 15% of the
// endpoints.
func push5xx(t *testing.T, sz sizes, v *verdict) {
	pf := newPushFixture(t, sz.faults, pushConc, nil)
	faults := 0
	for i, ep := range pf.endpoints {
		if m := i % 20; m >= 1 && m <= 3 {
			pf.ps.SetFault(ep, firstK(2, []int{500, 502, 503}[m-1]))
			faults++
		}
	}
	a, _ := pf.alertAll(v, "5xx", pf.endpoints)
	if a.Delivered != int64(len(pf.endpoints)) {
		v.fail("alert = %+v, want every subscription delivered", a)
	}
	pf.checkKept(v, len(pf.endpoints))
	v.note("%d endpoints answered 5xx twice; none pruned", faults)
}

// pushSlow keeps 4 endpoints' first request unanswered for 20 s,
// past the daemon's 15 s request timeout. The lease is longer than the
// timeout, so that the timeout, not the rescuer, frees the message.
func pushSlow(t *testing.T, sz sizes, v *verdict) {
	pf := newPushFixture(t, sz.faults, pushConc, map[string]string{"CRIEUR_LEASE": "2m"})
	var log requestLog
	var slow []string
	for i, ep := range pf.endpoints {
		if i%(len(pf.endpoints)/4) == 1 {
			pf.ps.SetFault(ep, log.wrap(func(n int, _ *http.Request) (int, http.Header, time.Duration) {
				if n == 1 {
					return 0, nil, 20 * time.Second
				}
				return 0, nil, 0
			}))
			slow = append(slow, pf.path(ep))
		}
	}
	a, _ := pf.alertAll(v, "lent", pf.endpoints)
	if a.Delivered != int64(len(pf.endpoints)) {
		v.fail("alert = %+v, want every subscription delivered", a)
	}
	pf.checkKept(v, len(pf.endpoints))
	if g := log.gaps(slow); len(g) > 0 {
		v.row.Recovery = g[len(g)-1]
	}
	v.note("%d requests held 20s; recovery is the push timeout (CRIEUR_PUSH_TIMEOUT, default 15s)", len(slow))
}

// pushReset resets the connection of 10% of the endpoints' first request.
func pushReset(t *testing.T, sz sizes, v *verdict) {
	pf := newPushFixture(t, sz.faults, pushConc, nil)
	resets := 0
	for i, ep := range pf.endpoints {
		if i%10 == 3 {
			pf.ps.SetFault(ep, firstK(1, pushtest.StatusReset))
			resets++
		}
	}
	a, _ := pf.alertAll(v, "reset", pf.endpoints)
	if a.Delivered != int64(len(pf.endpoints)) {
		v.fail("alert = %+v, want every subscription delivered", a)
	}
	pf.checkKept(v, len(pf.endpoints))
	v.note("%d connections reset", resets)
}

// pushGone unsubscribes 10% of the endpoints at the push service (410) and
// makes 5% answer 413: the first are pruned, the second failed but kept; a
// follow-up alert reaches every subscription left, the 413 ones included
// once the fault is gone.
func pushGone(t *testing.T, sz sizes, v *verdict) {
	pf := newPushFixture(t, sz.faults, pushConc, nil)
	var kept, ok, gone, tooLarge []string
	for i, ep := range pf.endpoints {
		switch {
		case i%10 == 1:
			pf.ps.Unsubscribe(ep)
			gone = append(gone, ep)
		case i%20 == 2:
			pf.ps.SetFault(ep, pushtest.Answer(http.StatusRequestEntityTooLarge))
			tooLarge = append(tooLarge, ep)
			kept = append(kept, ep)
		default:
			ok = append(ok, ep)
			kept = append(kept, ep)
		}
	}
	a, _ := pf.alertAll(v, "gone", ok)
	if a.Targeted != int64(len(pf.endpoints)) || a.Delivered != int64(len(ok)) || a.Failed != int64(len(tooLarge)) || a.Expired != int64(len(gone)) {
		v.fail("first alert = %+v, want %d targeted, %d delivered, %d failed (413), %d expired (410)",
			a, len(pf.endpoints), len(ok), len(tooLarge), len(gone))
	}
	left := pf.column("SELECT endpoint FROM push_subscriptions")
	if len(left) != len(kept) || overlap(left, kept) != len(kept) || overlap(left, gone) != 0 {
		v.fail("%d subscriptions left (%d of the %d gone among them), want exactly the %d not gone",
			len(left), overlap(left, gone), len(gone), len(kept))
	}
	for _, ep := range tooLarge {
		pf.ps.SetFault(ep, nil)
	}
	a2, _ := pf.alertAll(v, "suite", kept)
	if a2.Targeted != int64(len(kept)) || a2.Delivered != int64(len(kept)) {
		v.fail("follow-up alert = %+v, want %d targeted and delivered", a2, len(kept))
	}
	v.note("two alerts; %d pruned (410), %d failed and kept (413), follow-up targeted %d", len(gone), len(tooLarge), a2.Targeted)
}

// pushSlowLease answers the first request of 2% of the endpoints after 6 s:
// within the request timeout but longer than CRIEUR_LEASE (3 s). Nothing
// crashed, so nothing may arrive twice.
func pushSlowLease(t *testing.T, sz sizes, v *verdict) {
	const slowFor = 6 * time.Second
	pf := newPushFixture(t, sz.faults, pushConc, nil)
	var last atomic.Int64 // when the last slow request came, unix nanos
	slow := 0
	for i, ep := range pf.endpoints {
		if i%50 == 1 {
			pf.ps.SetFault(ep, func(n int, _ *http.Request) (int, http.Header, time.Duration) {
				if n == 1 {
					last.Store(time.Now().UnixNano())
					return 0, nil, slowFor
				}
				return 0, nil, 0
			})
			slow++
		}
	}
	begin := time.Now()
	id := pf.sendAlert("lent")
	var a alertJSON
	if !waitUntil(3*time.Minute, func() bool { a = pf.alert(id); return a.State == "done" }) {
		v.fail("alert %s = %+v, want done", id, a)
	}
	v.row.Total = time.Since(begin)
	// The alert may be done before the slow answers come: wait for them.
	time.Sleep(time.Until(time.Unix(0, last.Load()).Add(slowFor + time.Second)))
	d, dup, lost := tally(receivedFor(pf.ps, id), pf.endpoints)
	v.counts(len(pf.endpoints), d, dup, lost, -1)
	if n := strings.Count(pf.p.Logs(), "rescued deliveries from a dead worker"); n > 0 {
		v.note("the log says %d times \"rescued deliveries from a dead worker\" though no worker died", n)
	}
	v.note("%d requests answered after %v", slow, slowFor)
}
