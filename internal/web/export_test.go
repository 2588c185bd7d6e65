package web

import "net/http"

// ClientKey is the key rate limits count a request by, for the tests.
var ClientKey = func(s *Server, r *http.Request) string { return s.ClientIP(r) }
