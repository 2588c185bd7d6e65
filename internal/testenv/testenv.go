// Package testenv lets tests that need an outside program (spamassassin,
// Firefox, Chromium, PostgreSQL, node) skip on a developer's machine that lacks
// it, while the same missing program fails the run under CI (CI=true), where
// .ci/run is expected to have installed it.
//
// Only tests and test helpers import it; it imports no other crieur
// package.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI, where nothing may be skipped
// for want of a tool.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test, or fails it under CI, explaining what is missing.
func Missing(tb testing.TB, what string) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("%s is required under CI (.ci/run installs it)", what)
	}
	tb.Skipf("%s not available; skipping (required under CI)", what)
}

// LookPath returns the path of the first program found among names, or
// calls Missing.
func LookPath(tb testing.TB, names ...string) string {
	tb.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	Missing(tb, names[0])
	return ""
}
