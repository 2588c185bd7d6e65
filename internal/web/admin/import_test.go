package admin_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestAdminImportReportCapped: the desk's import report lists the first
// 100 rejected lines and counts the others exactly.
func TestAdminImportReportCapped(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t)
	b := e.browser(t, "en")
	page := b.login("admin@journal.example")
	var csv strings.Builder
	csv.WriteString("email,topics,frequency,lang,status\n")
	for i := range 5000 {
		fmt.Fprintf(&csv, "not-an-email-%d,afrique,daily,fr,confirmed\n", i)
	}
	resp, rep := b.importCSV(page, csv.String())
	if resp.StatusCode != 200 {
		t.Fatalf("import: %d\n%.2000s", resp.StatusCode, rep)
	}
	if n := strings.Count(rep, `<tr><td class="num">`); n != 100 {
		t.Errorf("%d rejected lines listed, want 100", n)
	}
	for _, want := range []string{"<dd>5000</dd>", `<td class="num">101</td>`, "and 4900 more rejected lines"} {
		if !strings.Contains(rep, want) {
			t.Errorf("the report has no %q", want)
		}
	}
	if strings.Contains(rep, `<td class="num">102</td>`) {
		t.Error("line 102 listed")
	}
}
