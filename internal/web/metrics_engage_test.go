package web_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/web"
)

// TestEngagementCounters: click and push-event counters start at zero,
// count what they are told, and a made-up event adds no series.
func TestEngagementCounters(t *testing.T) {
	t.Parallel()
	m := web.NewMetrics(nil)
	m.Clicked(3, 2)
	m.PushEvent("shown")
	m.PushEvent("clicked")
	m.PushEvent("shown")
	m.PushEvent(`evil"} 1`)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, w := range []string{`crieur_clicks_total{by="reader"} 3`, `crieur_clicks_total{by="scanner"} 2`,
		`crieur_push_events_total{event="shown"} 2`, `crieur_push_events_total{event="clicked"} 1`} {
		if !strings.Contains(body, w+"\n") {
			t.Errorf("/metrics lacks %s", w)
		}
	}
	if strings.Count(body, "crieur_push_events_total{") != 2 || strings.Contains(body, "evil") {
		t.Errorf("push event series not bounded:\n%s", body)
	}
}
