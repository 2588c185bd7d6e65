package admin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// TestHealthPage: an editor sees each digest run's bounce and complaint
// rates with a warning past 2% / 0.1%, the push subscriptions pruned and
// the parked reports; only an admin opens a parked report (it may name
// readers), shown as escaped text; the reader's page lists their bounces.
func TestHealthPage(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	// 40 readers, one digest run sent to all: one hard bounce (2.5%).
	run, _, err := e.st.CreateRun(ctx, news.Daily, now, "test")
	if err != nil {
		t.Fatal(err)
	}
	var first, firstDelivery int64
	for i := range 40 {
		id, _, err := e.st.Subscribe(ctx, fmt.Sprintf("r%d@x.test", i), store.Prefs{Frequency: news.Daily, Lang: news.French}, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.DB().ExecContext(ctx, fmt.Sprintf("INSERT INTO deliveries (kind, run_id, subscriber_id, state, next_attempt_at, created_at) VALUES ('digest', %d, %d, 'sent', 0, 0)", run, id)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = id
			if err := e.st.DB().QueryRowContext(ctx, "SELECT MAX(id) FROM deliveries WHERE run_id IS NOT NULL").Scan(&firstDelivery); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := e.st.RecordBounce(ctx, store.Bounce{DeliveryID: firstDelivery, At: now, Kind: store.BounceHard, Status: "5.1.1",
		Diagnostic: "550 5.1.1 <script>alert(1)</script> unknown", Source: "ses"}, e.subs.Hash, store.SoftPolicy{Count: 3, Window: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Park(ctx, store.Parked{At: now, Source: "smtp", Reason: "unparsable", Size: 30, Raw: []byte("<b>not a report</b> r1@x.test")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.DB().ExecContext(ctx, fmt.Sprintf("INSERT INTO push_prunes (at, reason, pruned) VALUES (%d, 'failing', 7), (%d, 'stale', 3)", now.UnixMilli(), now.Add(-40*24*time.Hour).UnixMilli())); err != nil {
		t.Fatal(err)
	}

	editor, _ := e.session(t, e.editor)
	resp, body := e.do(t, "GET", "/admin/health", editor, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("health page: %d", resp.StatusCode)
	}
	for _, want := range []string{`id="health-warning"`, "2.50 %", `<span class="badge state-failed"`, "0.00 %",
		`<td class="num">7</td><td class="num">7</td>`, `<td class="num">0</td><td class="num">3</td>`, "unparsable"} {
		if !strings.Contains(body, want) {
			t.Errorf("health page lacks %q", want)
		}
	}
	if strings.Contains(body, "/admin/health/parked/") {
		t.Error("an editor is offered the parked report's bytes")
	}
	ps, _, err := e.st.ParkedReports(ctx, 1)
	if err != nil || len(ps) != 1 {
		t.Fatal(err)
	}
	parked := fmt.Sprintf("/admin/health/parked/%d", ps[0].ID)
	if resp, _ := e.do(t, "GET", parked, editor, nil); resp.StatusCode != 403 {
		t.Errorf("an editor opened a parked report: %d", resp.StatusCode)
	}
	admin, _ := e.session(t, e.admin)
	resp, body = e.do(t, "GET", parked, admin, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "&lt;b&gt;not a report&lt;/b&gt; r1@x.test") {
		t.Fatalf("parked report for an admin: %d", resp.StatusCode)
	}
	resp, body = e.do(t, "GET", fmt.Sprintf("/admin/readers/%d", first), admin, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `id="bounces"`) || !strings.Contains(body, "5.1.1") ||
		strings.Contains(body, "<script>alert(1)") || !strings.Contains(body, "&lt;script&gt;") {
		t.Fatalf("reader page (%d) lacks the escaped bounce", resp.StatusCode)
	}
	// Under the thresholds: no warning.
	e2 := setupAdmin(t)
	ed2, _ := e2.session(t, e2.editor)
	if _, body := e2.do(t, "GET", "/admin/health", ed2, nil); strings.Contains(body, `id="health-warning"`) {
		t.Error("a warning with nothing sent")
	}
}
