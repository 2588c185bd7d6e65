package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// Metrics are crieur's Prometheus metrics. Labels never carry addresses,
// tokens or URLs with tokens: routes are labelled by their pattern.
type Metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	EmailsSent *prometheus.CounterVec
	EmailsFail *prometheus.CounterVec
	PushSent   prometheus.Counter
	PushFail   *prometheus.CounterVec
	engagement
}

// NewMetrics registers every metric; subscribers by status are read from
// the store at scrape time.
func NewMetrics(st *store.Store) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crieur_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "crieur_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		EmailsSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crieur_emails_sent_total", Help: "Emails accepted by the mail server, by kind.",
		}, []string{"kind"}),
		EmailsFail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crieur_emails_failed_total", Help: "Email attempts that failed, by kind and reason (temporary, recipient, server).",
		}, []string{"kind", "reason"}),
		PushSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crieur_push_delivered_total", Help: "Push messages accepted by push services.",
		}),
		PushFail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crieur_push_failed_total", Help: "Push attempts that did not deliver, by outcome (retry, gone, failed, expired).",
		}, []string{"outcome"}),
	}
	m.initLabels()
	m.engagement = newEngagement(reg)
	reg.MustRegister(m.requests, m.duration, m.EmailsSent, m.EmailsFail, m.PushSent, m.PushFail,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if st != nil {
		reg.MustRegister(&subscriberCollector{st: st, desc: prometheus.NewDesc("crieur_subscribers",
			"Subscribers by status.", []string{"status"}, nil)})
	}
	return m
}

// initLabels creates at zero every series whose labels are known in
// advance, so that /metrics shows 0 rather than no series before the
// first failure and dashboards and alerts can rely on them.
func (m *Metrics) initLabels() {
	for _, k := range []news.MailKind{news.MailConfirm, news.MailDigest, news.MailAlert, news.MailPreview, news.MailLinks, news.MailSunset} {
		m.EmailsSent.WithLabelValues(string(k))
		for _, r := range []mail.Kind{mail.Temporary, mail.Recipient, mail.Rejected, mail.Server} {
			m.EmailsFail.WithLabelValues(string(k), r.String())
		}
	}
	// The outcomes other than "delivered" that dispatch.Pusher reports.
	for _, o := range []string{"retry", "gone", "failed", "expired"} {
		m.PushFail.WithLabelValues(o)
	}
}

// ObserveRequest counts one HTTP request. The caller passes a route
// pattern it registered, or "" for none; a method outside the standard
// ones is counted as OTHER: a client's made-up method would otherwise be a
// new series, held in memory for good.
func (m *Metrics) ObserveRequest(pattern, method string, status int, d time.Duration) {
	if pattern == "" {
		pattern = "unmatched"
	}
	if !knownMethods[method] {
		method = "OTHER"
	}
	m.requests.WithLabelValues(pattern, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(pattern).Observe(d.Seconds())
}

var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// routeMux is the server's ServeMux, remembering the patterns registered
// on it: the mux reports the path of a request it redirects (to add a
// trailing slash) as its pattern, which must not become a metric label.
type routeMux struct {
	*http.ServeMux
	patterns map[string]bool // written only while routes are registered
}

func newRouteMux() *routeMux {
	return &routeMux{ServeMux: http.NewServeMux(), patterns: map[string]bool{}}
}

func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.patterns[pattern] = true
	m.ServeMux.Handle(pattern, h)
}

func (m *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.patterns[pattern] = true
	m.ServeMux.HandleFunc(pattern, h)
}

// route is the registered pattern that served r, or "".
func (m *routeMux) route(r *http.Request) string {
	if m.patterns[r.Pattern] {
		return r.Pattern
	}
	return ""
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

type subscriberCollector struct {
	st   *store.Store
	desc *prometheus.Desc
}

func (c *subscriberCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *subscriberCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.st.CountSubscribers(ctx)
	if err != nil {
		return
	}
	for _, st := range []string{"pending", "confirmed", "unsubscribed", "bounced", "complained"} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[newsStatus(st)]), st)
	}
}

func newsStatus(s string) news.Status { return news.Status(s) }
