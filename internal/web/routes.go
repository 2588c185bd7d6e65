package web

import (
	"context"
	"net/http"
	"time"
)

// routes registers the operator endpoints (health, readiness, metrics).
// The audiences' routes are their rooms' (web/reader, web/api, web/admin),
// put together by web/site.
func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, 200, map[string]string{"status": "ok"}) })
	m.HandleFunc("GET /readyz", s.readyz)
	if s.d.Metrics != nil && !s.d.MetricsElsewhere {
		m.Handle("GET /metrics", s.d.Metrics.Handler())
	}
}

// readyz answers 200 when the database answers, 503 when not.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.d.Store.Ping(ctx); err != nil {
		WriteJSON(w, 503, map[string]string{"status": "database unreachable"})
		return
	}
	WriteJSON(w, 200, map[string]string{"status": "ready"})
}
