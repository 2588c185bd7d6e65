package pushtest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Stats measures a run of sends: how many, how long, and the process's CPU
// time (user+system, every goroutine: in a loopback test the push service's
// share is included).
type Stats struct {
	N, Errors int
	Wall, CPU time.Duration
}

// MsgsPerSec is the throughput.
func (st Stats) MsgsPerSec() float64 {
	if st.Wall <= 0 {
		return 0
	}
	return float64(st.N) / st.Wall.Seconds()
}

// CPUPerMsg is the CPU time per message.
func (st Stats) CPUPerMsg() time.Duration {
	if st.N == 0 {
		return 0
	}
	return st.CPU / time.Duration(st.N)
}

// String formats the stats for a report line.
func (st Stats) String() string {
	return fmt.Sprintf("%d msgs in %v: %.0f msg/s, %.1f µs CPU/msg, %d errors",
		st.N, st.Wall.Round(time.Millisecond), st.MsgsPerSec(),
		float64(st.CPUPerMsg().Nanoseconds())/1e3, st.Errors)
}

// Measure calls send(ctx, i) for i in [0, n) from workers goroutines and
// measures the run. A send returning an error is counted, not fatal.
func Measure(ctx context.Context, n, workers int, send func(ctx context.Context, i int) error) Stats {
	workers = max(workers, 1)
	var next, errs atomic.Int64
	cpu0 := processCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := send(ctx, i); err != nil {
					errs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return Stats{N: n, Errors: int(errs.Load()), Wall: time.Since(start), CPU: processCPU() - cpu0}
}
