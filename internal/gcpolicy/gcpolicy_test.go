package gcpolicy_test

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/crieur/crieur/internal/gcpolicy"
)

// restore puts the process's collector settings back after a test.
func restore(t *testing.T) {
	percent := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
}

func TestApplyDefaults(t *testing.T) {
	restore(t)
	percent, limit := gcpolicy.Apply(func(string) string { return "" })
	if percent != gcpolicy.Percent || limit != gcpolicy.MemoryLimit {
		t.Fatalf("Apply = %d, %d", percent, limit)
	}
	if got := debug.SetGCPercent(gcpolicy.Percent); got != gcpolicy.Percent {
		t.Errorf("GC percent in force %d, want %d", got, gcpolicy.Percent)
	}
	if got := debug.SetMemoryLimit(-1); got != gcpolicy.MemoryLimit {
		t.Errorf("memory limit in force %d, want %d", got, gcpolicy.MemoryLimit)
	}
}

// An operator's GOGC and GOMEMLIMIT win: the runtime read them at start,
// and Apply leaves them alone.
func TestApplyKeepsOperatorSettings(t *testing.T) {
	restore(t)
	debug.SetGCPercent(150)
	debug.SetMemoryLimit(math.MaxInt64)
	env := map[string]string{"GOGC": "150", "GOMEMLIMIT": "off"}
	percent, limit := gcpolicy.Apply(func(k string) string { return env[k] })
	if percent != 0 || limit != 0 {
		t.Fatalf("Apply = %d, %d; want 0, 0 (left to the environment)", percent, limit)
	}
	if got := debug.SetGCPercent(150); got != 150 {
		t.Errorf("GC percent in force %d, want the operator's 150", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("memory limit in force %d, want the operator's (none)", got)
	}
}
