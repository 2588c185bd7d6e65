package api

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// OpenAPI is the OpenAPI 3.1 description of every /api/v1 route, written
// by hand beside the handlers it describes. It is not generated from the
// code: the handlers decode into small structs and check their input by
// hand, so the statuses, error codes, enums and roles a generator would
// need live in code paths no reflection sees. What keeps it true is the
// test suite: webtest and e2etest validate every request and response of
// the API tests against it, and a route table test compares its paths
// with the routes the server registers.
//
//go:embed openapi.json
var OpenAPI []byte

// OpenAPIPath is where the document is served.
const OpenAPIPath = "/api/v1/openapi.json"

// openAPIDoc is the document as served: OpenAPI with a servers entry
// naming CRIEUR_BASE_URL, so a client generated from it needs no
// configuration; and its ETag.
type openAPIDoc struct {
	body []byte
	etag string
}

func newOpenAPIDoc(baseURL string) (*openAPIDoc, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		return nil, fmt.Errorf("read the embedded OpenAPI document: %w", err)
	}
	servers, err := json.Marshal([]map[string]string{{"url": strings.TrimRight(baseURL, "/"), "description": "this crieur (CRIEUR_BASE_URL)"}})
	if err != nil {
		return nil, fmt.Errorf("OpenAPI servers: %w", err)
	}
	doc["servers"] = servers
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("write the OpenAPI document: %w", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return &openAPIDoc{body: buf.Bytes(), etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`}, nil
}

// serve answers the document. It is public and the same for everyone
// until the binary or CRIEUR_BASE_URL changes: caches may keep it an hour
// and revalidate it by its ETag.
func (d *openAPIDoc) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("ETag", d.etag)
	h.Set("Access-Control-Allow-Origin", "*")
	if etagMatch(r.Header.Get("If-None-Match"), d.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.Write(d.body)
}

// etagMatch is If-None-Match's weak comparison (RFC 9110 13.1.2).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// registerOpenAPI serves the document; a document that does not parse is a
// build defect (the tests load it), answered as a server error meanwhile.
func (s *handler) registerOpenAPI() {
	doc, err := newOpenAPIDoc(s.d.BaseURL)
	if err != nil {
		s.d.Log.Error("OpenAPI document unavailable", "err", err)
		s.srv.HandleFunc("GET "+OpenAPIPath, func(w http.ResponseWriter, r *http.Request) { s.srv.Fail(w, r, err) })
		return
	}
	s.srv.HandleFunc("GET "+OpenAPIPath, doc.serve)
}
