package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/e2e/e2etest"
)

// TestImportReportCapped: a CSV of bad lines (the review's 2 MB of them
// took the CLI to 206 MB) gets a report listing the first 100 with their
// numbers and counting the rest exactly, however long the file.
func TestImportReportCapped(t *testing.T) {
	e2etest.Parallel(t)
	f := flowSetup(t, nil, "politique")
	const bad = 60_000
	var b strings.Builder
	b.WriteString("email,topics,frequency,lang,status\n")
	b.WriteString("bonne@example.org,politique,daily,fr,confirmed\n")
	for i := range bad {
		// Long unknown topics: each reason would repeat them.
		fmt.Fprintf(&b, "r%d@example.org,%s,daily,fr,confirmed\n", i, strings.Repeat("inconnu", 10))
	}
	path := filepath.Join(f.dir, "bad.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out := e2etest.CLI(t, f.env, "", "subscribers", "import", path)
	if !strings.HasPrefix(out, fmt.Sprintf("imported 1 (0 pending confirmation), already there 0, suppressed 0, unsubscribed 0, rejected %d\n", bad)) {
		t.Errorf("report:\n%s", e2etest.Tail(out, 500))
	}
	if n := strings.Count(out, "\nline "); n != 100 {
		t.Errorf("%d rejected lines listed, want 100", n)
	}
	if !strings.Contains(out, "\nline 3: unknown topic") || !strings.Contains(out, "\nline 102: ") || strings.Contains(out, "\nline 103: ") {
		t.Errorf("the lines listed are not the first 100:\n%s", e2etest.Tail(out, 300))
	}
	if !strings.HasSuffix(out, fmt.Sprintf("\nand %d more rejected lines\n", bad-100)) {
		t.Errorf("report ends:\n%s", e2etest.Tail(out, 300))
	}
	if len(out) > 20<<10 {
		t.Errorf("the report is %d bytes", len(out))
	}
}
