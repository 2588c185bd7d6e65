package web

import (
	"net/http"
	"net/url"
	"strings"
)

// basePath is the path of CRIEUR_BASE_URL without its trailing slash (""
// at the root): the prefix of every link crieur writes.
func basePath(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		return ""
	}
	return strings.TrimRight(u.Path, "/")
}

// atRoot serves crieur under CRIEUR_BASE_URL's path whatever the proxy in
// front does with it: a proxy that takes the path off sends /admin, one
// that passes it on sends /newsletter/admin, and both reach /admin. The
// routes are registered at the root, as a proxy that takes it off needs;
// a path that is a route as it stands is never cut (with a base path of
// /r, /r/TOKEN stays a click link).
func (s *Server) atRoot(r *http.Request) *http.Request {
	if s.base == "" {
		return r
	}
	rest, ok := strings.CutPrefix(r.URL.Path, s.base)
	if !ok || rest != "" && rest[0] != '/' {
		return r
	}
	if _, pattern := s.mux.Handler(r); pattern != "" {
		return r
	}
	if rest == "" {
		rest = "/"
	}
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = rest, ""
	r2.URL = &u
	return r2
}
