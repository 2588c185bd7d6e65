package web

import "github.com/prometheus/client_golang/prometheus"

// Register adds a collector a service owns (the bounce intake's counter)
// to /metrics. Its labels must stay bounded and free of addresses and
// tokens, as every metric's here.
func (m *Metrics) Register(c prometheus.Collector) error { return m.reg.Register(c) }

// MustRegister is Register for collectors that cannot clash (the bounce
// recorder's counters, registered once at start).
func (m *Metrics) MustRegister(cs ...prometheus.Collector) { m.reg.MustRegister(cs...) }
