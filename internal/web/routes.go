package web

import (
	"context"
	"net/http"
	"time"

	"github.com/crieur/crieur/internal/subscribe"
)

// routes registers every route of every audience. The editors' API, the
// reader pages and the desk each register their own; what is left here is
// the operator endpoints.
func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, 200, map[string]string{"status": "ok"}) })
	m.HandleFunc("GET /readyz", s.readyz)
	if s.d.Metrics != nil && !s.d.MetricsElsewhere {
		m.Handle("GET /metrics", s.d.Metrics.Handler())
	}

	// Readers (public, CORS for the publisher's origins).
	m.HandleFunc("GET /api/v1/topics", s.CORS(s.listTopics))
	m.HandleFunc("OPTIONS /api/v1/topics", s.CORS(nil))
	m.HandleFunc("POST /api/v1/subscriptions", s.CORS(s.apiSubscribe))
	m.HandleFunc("OPTIONS /api/v1/subscriptions", s.CORS(nil))
	m.HandleFunc("GET /api/v1/push/key", s.CORS(s.pushKey))
	m.HandleFunc("POST /api/v1/push/subscriptions", s.CORS(s.pushSubscribe))
	m.HandleFunc("DELETE /api/v1/push/subscriptions", s.CORS(s.pushUnsubscribe))
	m.HandleFunc("OPTIONS /api/v1/push/", s.CORS(nil))
	m.HandleFunc("GET /push/widget.js", s.staticFile("static/push/widget.js", "text/javascript; charset=utf-8"))
	m.HandleFunc("GET /push/sw.js", s.staticFile("static/push/sw.js", "text/javascript; charset=utf-8"))
	m.HandleFunc("POST /unsubscribe/{token}", s.oneClickUnsubscribe)
	m.HandleFunc("GET "+subscribe.PreviewPath, s.previewLinkPage)
	s.pageRoutes()
	s.adminRoutes()
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.d.Store.Ping(ctx); err != nil {
		WriteJSON(w, 503, map[string]string{"status": "database unreachable"})
		return
	}
	WriteJSON(w, 200, map[string]string{"status": "ready"})
}
