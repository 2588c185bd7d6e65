package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/subscribe"
)

// routes registers every route of every audience. The editors' API, the
// reader pages and the desk each register their own; what is left here is
// the operator endpoints.
func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	m.HandleFunc("GET /readyz", s.readyz)
	if s.d.Metrics != nil && !s.d.MetricsElsewhere {
		m.Handle("GET /metrics", s.d.Metrics.Handler())
	}

	// Readers (public, CORS for the publisher's origins).
	m.HandleFunc("GET /api/v1/topics", s.cors(s.listTopics))
	m.HandleFunc("OPTIONS /api/v1/topics", s.cors(nil))
	m.HandleFunc("POST /api/v1/subscriptions", s.cors(s.apiSubscribe))
	m.HandleFunc("OPTIONS /api/v1/subscriptions", s.cors(nil))
	m.HandleFunc("GET /api/v1/push/key", s.cors(s.pushKey))
	m.HandleFunc("POST /api/v1/push/subscriptions", s.cors(s.pushSubscribe))
	m.HandleFunc("DELETE /api/v1/push/subscriptions", s.cors(s.pushUnsubscribe))
	m.HandleFunc("OPTIONS /api/v1/push/", s.cors(nil))
	m.HandleFunc("GET /push/widget.js", s.staticFile("static/push/widget.js", "text/javascript; charset=utf-8"))
	m.HandleFunc("GET /push/sw.js", s.staticFile("static/push/sw.js", "text/javascript; charset=utf-8"))
	m.HandleFunc("POST /unsubscribe/{token}", s.oneClickUnsubscribe)
	m.HandleFunc("GET "+subscribe.PreviewPath, s.previewLinkPage)
	s.pageRoutes()
	// Unknown API paths (and known ones called with the wrong method)
	// answer in the API's JSON error shape.
	m.HandleFunc("/api/v1/", s.apiFallback)

	// Bearer-token routes, with the role the contract gives each: a
	// CMS's editor token publishes; creating topics and reading or erasing
	// a reader need an admin token.
	s.apiRoute("POST /api/v1/topics", news.RoleAdmin, s.createTopic)
	s.apiRoute("POST /api/v1/articles", news.RoleEditor, s.createArticle)
	s.apiRoute("POST /api/v1/digests/{frequency}/run", news.RoleEditor, s.runDigest)
	s.apiRoute("GET /api/v1/digests/runs/{id}", news.RoleEditor, s.getRun)
	s.apiRoute("POST /api/v1/alerts", news.RoleEditor, s.createAlert)
	s.apiRoute("GET /api/v1/alerts/{id}", news.RoleEditor, s.getAlert)
	s.apiRoute("POST /api/v1/alerts/{id}/cancel", news.RoleEditor, s.cancelAlert)
	s.apiRoute("GET /api/v1/subscribers/{email}", news.RoleAdmin, s.getSubscriber)
	s.apiRoute("DELETE /api/v1/subscribers/{email}", news.RoleAdmin, s.deleteSubscriber)
	s.adminRoutes()
}

// apiFallback answers 405 (with Allow) when the path exists for another
// method, else 404.
func (s *Server) apiFallback(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/api/v1/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, &news.Error{Code: "method_not_allowed", Message: "This route does not take " + r.Method + "."}, http.StatusMethodNotAllowed)
		return
	}
	writeError(w, news.Errorf(news.CodeNotFound, "No such API route."), http.StatusNotFound)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.d.Store.Ping(ctx); err != nil {
		writeJSON(w, 503, map[string]string{"status": "database unreachable"})
		return
	}
	writeJSON(w, 200, map[string]string{"status": "ready"})
}
