package startstop_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/startstop"
)

// loop is the smallest service: one goroutine until stopped.
type loop struct {
	startstop.Base
	ran, ended atomic.Int32
}

func (l *loop) Start(ctx context.Context) error {
	ctx, ok := l.Begin(ctx)
	if !ok {
		return nil
	}
	l.Go(func() {
		l.ran.Add(1)
		<-ctx.Done()
		time.Sleep(10 * time.Millisecond) // Stop must wait for this
		l.ended.Add(1)
	})
	return nil
}

func (l *loop) Stop(context.Context) { l.Base.Stop() }

var _ startstop.Service = (*loop)(nil)

func TestLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var l loop
	l.Stop(ctx) // before Start: nothing
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	_ = l.Start(ctx) // second Start: nothing
	if !l.Running() {
		t.Fatal("not running after Start")
	}
	l.Stop(ctx)
	if l.ended.Load() != 1 {
		t.Fatalf("Stop returned before the goroutine ended (%d ended)", l.ended.Load())
	}
	l.Stop(ctx) // twice: nothing
	if l.Running() {
		t.Fatal("running after Stop")
	}
	// Started again, it runs again.
	_ = l.Start(ctx)
	l.Stop(ctx)
	if l.ran.Load() != 2 || l.ended.Load() != 2 {
		t.Fatalf("ran %d, ended %d; want 2 and 2", l.ran.Load(), l.ended.Load())
	}
}

func TestParentCancelEndsTheLoop(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var l loop
	_ = l.Start(ctx)
	cancel()
	l.Stop(context.Background())
	if l.ended.Load() != 1 {
		t.Fatal("loop did not end")
	}
}
