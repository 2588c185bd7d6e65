package web

// adminRoutes registers the editors' admin UI under /admin.
func (s *Server) adminRoutes() {}
