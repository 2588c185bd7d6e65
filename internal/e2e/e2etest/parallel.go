package e2etest

import (
	"flag"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// cpuSlots bounds how many busy tests run at once: as many as the
// machine has cores, which is what `go test` allows by default.
var cpuSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

// Parallel marks t parallel and holds one of the CPU slots (one per core)
// until it ends, its cleanups included: daemons, browsers and sinks work
// with no more neighbours than under go test's default -parallel.
func Parallel(t *testing.T) {
	t.Helper()
	t.Parallel()
	start := time.Now()
	cpuSlots <- struct{}{}
	if w := time.Since(start); w > time.Second {
		t.Logf("waited %s for a CPU slot", w.Round(time.Millisecond))
	}
	t.Cleanup(func() { <-cpuSlots })
}

// ParallelWaiting marks t parallel without a CPU slot. It is for tests
// that spend most of their time waiting, for a wall-clock instant (a cron
// minute, the end of quiet hours) or a timeout, with their daemons idle:
// under go test's default -parallel (one test per core) they would keep
// busy tests waiting all that time.
func ParallelWaiting(t *testing.T) {
	t.Helper()
	t.Parallel()
}

// LiftParallel is for TestMain: unless -test.parallel was given, it lets
// every parallel test start, Parallel's CPU slots being what bounds the
// busy ones. With -test.parallel given, that bound applies as usual.
func LiftParallel() {
	if !flag.Parsed() {
		flag.Parse()
	}
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", strconv.Itoa(1000))
	}
}
