// Package gcpolicy sets the garbage collector's pace for crieur's daemon.
//
// Go's default, GOGC=100, starts a collection each time the heap doubles.
// crieur's live heap is small (the queues live in the database), while a
// push fan-out makes about 12 KB of short-lived garbage per message
// (encryption, HTTP request and response). With the default the collector
// then runs every few hundred messages, and each cycle scans the stacks of
// every worker and connection goroutine. GOGC=400 lets the heap grow to five
// times the live data before collecting: measured with crieur-bench on a
// 2-core machine, the push Sender spends about 7 µs less CPU per message
// (116 → 108 µs, mean of six interleaved runs of 30,000 messages); the
// push benchmark's peak RSS, SQLite's page cache included, stays under
// 140 MB (its target is 200 MB). The soft memory limit makes the
// collector work harder again before the heap can grow past it, so a large
// live heap (a big import) does not grow five-fold unchecked.
//
// Operators keep the last word: the standard GOGC and GOMEMLIMIT
// environment variables, when set, win over these defaults.
//
// It imports no other crieur package; only the commands call it.
package gcpolicy

import "runtime/debug"

// Defaults applied when the environment sets nothing.
const (
	Percent     = 400
	MemoryLimit = 512 << 20
)

// Apply sets the collector's pace, except what GOGC or GOMEMLIMIT (read
// through getenv) already set, and says what it set: 0 for a value left to
// the environment.
func Apply(getenv func(string) string) (percent int, limit int64) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
		percent = Percent
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
		limit = MemoryLimit
	}
	return percent, limit
}
