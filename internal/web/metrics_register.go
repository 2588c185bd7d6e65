package web

import "github.com/prometheus/client_golang/prometheus"

// MustRegister adds collectors that another package owns (the bounce
// recorder's counters) to /metrics. Their labels must stay bounded and
// free of addresses and tokens, as every metric's here.
func (m *Metrics) MustRegister(cs ...prometheus.Collector) { m.reg.MustRegister(cs...) }
