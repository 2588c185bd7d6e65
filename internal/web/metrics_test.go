package web_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/web"
)

// The failure counters are there at zero before the first failure, so
// that dashboards and alerts see 0 rather than no series.
func TestMetricsFailureCountersStartAtZero(t *testing.T) {
	t.Parallel()
	m := web.NewMetrics(nil)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	var want []string
	for _, kind := range []string{"confirm", "digest", "alert", "preview"} {
		want = append(want, `crieur_emails_sent_total{kind="`+kind+`"} 0`)
		for _, reason := range []string{"temporary", "recipient", "server"} {
			want = append(want, `crieur_emails_failed_total{kind="`+kind+`",reason="`+reason+`"} 0`)
		}
	}
	for _, outcome := range []string{"retry", "gone", "failed", "expired"} {
		want = append(want, `crieur_push_failed_total{outcome="`+outcome+`"} 0`)
	}
	for _, w := range want {
		if !strings.Contains(body, w+"\n") {
			t.Errorf("/metrics lacks %s", w)
		}
	}
}
