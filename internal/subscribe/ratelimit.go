package subscribe

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter rate-limits by key (an address hash or a client address) so that
// the subscribe form cannot be used to flood someone's inbox. It keeps at
// most max keys, forgetting the idlest first.
type Limiter struct {
	mu    sync.Mutex
	every time.Duration
	burst int
	max   int
	keys  map[string]*entry
}

type entry struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewLimiter allows burst events at once per key, then one per every.
func NewLimiter(every time.Duration, burst, max int) *Limiter {
	return &Limiter{every: every, burst: burst, max: max, keys: map[string]*entry{}}
}

// Allow reports whether an event for key may happen now; when not, it
// returns how long to wait.
func (l *Limiter) Allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.keys[key]
	if !ok {
		if len(l.keys) >= l.max {
			l.evict(now)
		}
		e = &entry{lim: rate.NewLimiter(rate.Every(l.every), l.burst)}
		l.keys[key] = e
	}
	e.seen = now
	r := e.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// evict drops keys whose bucket has refilled, or, if none, half the keys.
func (l *Limiter) evict(now time.Time) {
	full := time.Duration(l.burst) * l.every
	for k, e := range l.keys {
		if now.Sub(e.seen) > full {
			delete(l.keys, k)
		}
	}
	if len(l.keys) < l.max {
		return
	}
	n := 0
	for k := range l.keys {
		delete(l.keys, k)
		n++
		if n >= l.max/2 {
			return
		}
	}
}
