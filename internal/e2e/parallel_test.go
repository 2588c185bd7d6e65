package e2e_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestParallelThroughSlots: every parallel test of this package goes
// through e2etest.Parallel (or ParallelWaiting): TestMain lifts go test's
// -parallel bound, so a bare t.Parallel() would run beside any number of
// busy tests on a 2-core machine.
func TestParallelThroughSlots(t *testing.T) {
	t.Parallel() // reads files only
	bare := regexp.MustCompile(`(?m)^\s*t\.Parallel\(\)(.*)$`)
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range bare.FindAllSubmatch(src, -1) {
			if string(m[1]) != " // its subtests hold the CPU slots" && string(m[1]) != " // reads files only" {
				t.Errorf("%s: bare t.Parallel()%s: use e2etest.Parallel(t)", f, m[1])
			}
		}
	}
}
