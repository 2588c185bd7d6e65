package web

import "github.com/prometheus/client_golang/prometheus"

// Register adds a collector a service owns (the bounce intake's counter)
// to /metrics.
func (m *Metrics) Register(c prometheus.Collector) error { return m.reg.Register(c) }
