package web

import "github.com/prometheus/client_golang/prometheus"

// engagement are the counters of what readers do with what crieur sent:
// tracked-link clicks and service-worker reports. Their labels are fixed
// sets, never an id or a URL.
type engagement struct {
	clicks     *prometheus.CounterVec
	pushEvents *prometheus.CounterVec
}

func newEngagement(reg *prometheus.Registry) engagement {
	e := engagement{
		clicks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crieur_clicks_total", Help: "Clicks on tracked email links, by who made them (reader, or scanner: a mail gateway's fetch).",
		}, []string{"by"}),
		pushEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crieur_push_events_total", Help: "Push notifications reported by browsers, by event (shown, clicked), counted once per browser and alert.",
		}, []string{"event"}),
	}
	for _, by := range []string{"reader", "scanner"} {
		e.clicks.WithLabelValues(by)
	}
	for _, ev := range []string{"shown", "clicked"} {
		e.pushEvents.WithLabelValues(ev)
	}
	reg.MustRegister(e.clicks, e.pushEvents)
	return e
}

// Clicked counts clicks written by the click recorder.
func (m *Metrics) Clicked(readers, scanners int) {
	m.clicks.WithLabelValues("reader").Add(float64(readers))
	m.clicks.WithLabelValues("scanner").Add(float64(scanners))
}

// PushEvent counts one service-worker report that was counted: "shown" or
// "clicked" (any other value is not counted, so labels stay bounded).
func (m *Metrics) PushEvent(event string) {
	if event == "shown" || event == "clicked" {
		m.pushEvents.WithLabelValues(event).Inc()
	}
}
