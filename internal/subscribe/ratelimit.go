package subscribe

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter rate-limits by key (an address hash or a client address) so that
// the subscribe form cannot be used to flood someone's inbox. It keeps at
// most max keys; when full it forgets the least recently used one, so that
// a flood of new keys cannot reset the bucket of a key still in use.
type Limiter struct {
	mu    sync.Mutex
	every time.Duration
	burst int
	max   int
	keys  map[string]*list.Element // of *entry
	lru   list.List                // front: most recently used
}

type entry struct {
	key string
	lim *rate.Limiter
}

// NewLimiter allows burst events at once per key, then one per every.
func NewLimiter(every time.Duration, burst, max int) *Limiter {
	return &Limiter{every: every, burst: burst, max: max, keys: map[string]*list.Element{}}
}

// Allow reports whether an event for key may happen now; when not, it
// returns how long to wait.
func (l *Limiter) Allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.keys[key]
	if ok {
		l.lru.MoveToFront(el)
	} else {
		el = l.add(key)
	}
	r := el.Value.(*entry).lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// add makes a full bucket for key, in place of the least recently used
// key's when the limiter is full.
func (l *Limiter) add(key string) *list.Element {
	if l.lru.Len() >= max(l.max, 1) {
		el := l.lru.Back()
		e := el.Value.(*entry)
		delete(l.keys, e.key)
		e.key = key
		e.lim = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.lru.MoveToFront(el)
		l.keys[key] = el
		return el
	}
	el := l.lru.PushFront(&entry{key: key, lim: rate.NewLimiter(rate.Every(l.every), l.burst)})
	l.keys[key] = el
	return el
}

// Reset forgets key, giving it a full bucket again.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.keys[key]; ok {
		l.lru.Remove(el)
		delete(l.keys, key)
	}
}

// Delay reports how long an event for key would have to wait now, without
// spending one: a caller that counts only failures asks first and calls
// Allow once an attempt has failed.
func (l *Limiter) Delay(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.keys[key]
	if !ok {
		return 0
	}
	lim := el.Value.(*entry).lim
	if lim.TokensAt(now) >= 1 {
		return 0
	}
	r := lim.ReserveN(now, 1)
	defer r.CancelAt(now)
	return r.DelayFrom(now)
}
