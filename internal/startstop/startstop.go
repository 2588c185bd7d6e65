// Package startstop gives every background service of crieur (the feed
// poller, the alert and digest enqueuers, the scheduler, the delivery
// pipelines, the janitor) the same small lifecycle, as river's startstop
// does for its services: Start(ctx) starts its goroutines and returns,
// Stop(ctx) ends them and returns only when every one has ended; both are
// idempotent, and Stop without Start does nothing.
//
// It owns no service and imports nothing of crieur: services embed a Base.
package startstop

import (
	"context"
	"sync"
)

// Service is what the daemon starts and stops. Start returns an error only
// when the service cannot run at all (the daemon then does not start);
// Stop's ctx bounds how long work in flight may finish before it is
// cancelled (services that hold nothing in flight cancel at once).
type Service interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context)
}

// Base is the lifecycle a service embeds: Begin at the top of its Start,
// Go for each goroutine, Stop in its Stop (a two-stage stop, such as a
// pipeline's drain, first ends its own stages and then calls Stop). The zero
// Base is stopped.
type Base struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	wg     *sync.WaitGroup
}

// Begin marks the service started and returns the context its goroutines
// run under, cancelled by Stop or Cancel. ok is false when the service was
// already started: Start must then do nothing.
func (b *Base) Begin(ctx context.Context) (_ context.Context, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wg != nil {
		return nil, false
	}
	ctx, b.cancel = context.WithCancel(ctx)
	b.wg = new(sync.WaitGroup)
	return ctx, true
}

// Go runs f in a goroutine that Stop waits for. Called when the
// service is stopped (or stopping), it does nothing.
func (b *Base) Go(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wg == nil {
		return
	}
	b.wg.Go(f)
}

// Running reports whether Begin was called and Stop not yet.
func (b *Base) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.wg != nil
}

// Stop cancels the context Begin gave and waits for every goroutine run by
// Go. The service may be started again afterwards.
func (b *Base) Stop() {
	b.mu.Lock()
	cancel, wg := b.cancel, b.wg
	b.cancel, b.wg = nil, nil
	b.mu.Unlock()
	if wg == nil {
		return
	}
	cancel()
	wg.Wait()
}
