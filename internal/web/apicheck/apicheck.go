// Package apicheck holds crieur's API to its OpenAPI document: it checks
// one exchange (a request and the answer it got) against the document,
// with github.com/getkin/kin-openapi's openapi3filter. The test harnesses
// (web/webtest for in-process handlers, e2e/e2etest for a real `crieur
// serve`) run every /api/v1 exchange of the tests through it, so the
// document cannot drift from the code.
//
// The rules, for an exchange under /api/v1/:
//   - a request the document has no operation for must be refused: 404 or
//     405 in the contract's error shape;
//   - a request the document refuses (body, parameters, a missing bearer
//     token) must be refused too, with a 4xx; the server may refuse more
//     than the document says (an unknown topic, a bad key), never less;
//   - every answer must be one the document lists for that operation: its
//     status, its headers and its body.
//
// OPTIONS (CORS preflights, answered by the CORS wrapper for every
// reader route) and HEAD are not described and not checked.
//
// kin-openapi validates OpenAPI 3.1 documents with a JSON Schema 2020-12
// validator; the document keeps to what it checks (type arrays for null,
// no nullable, no $dynamicRef), and the tests load it with its Validate.
//
// It imports nothing of crieur's: e2etest, which must not import the
// daemon's packages, uses it on the document the process serves.
package apicheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Prefix is the part of the URL space the document describes.
const Prefix = "/api/v1/"

// Checker checks exchanges against one OpenAPI document.
type Checker struct {
	doc    *openapi3.T
	router routers.Router
	errors *openapi3.SchemaRef
}

// Load parses and validates an OpenAPI document. Its servers are dropped:
// exchanges are matched by path alone, whatever host the test used.
func Load(raw []byte) (*Checker, error) {
	ctx := context.Background()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is not valid: %w", err)
	}
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the OpenAPI document: %w", err)
	}
	errSchema := doc.Components.Schemas["Error"]
	if errSchema == nil {
		return nil, errors.New("the OpenAPI document has no components.schemas.Error")
	}
	return &Checker{doc: doc, router: router, errors: errSchema}, nil
}

// Doc is the document, as loaded.
func (c *Checker) Doc() *openapi3.T { return c.doc }

// Exchange is one request and the answer it got.
type Exchange struct {
	Request     *http.Request // its body is not read: see RequestBody
	RequestBody []byte
	Status      int
	Header      http.Header
	Body        []byte
}

// Described reports whether the checker looks at requests to path.
func Described(method, path string) bool {
	return strings.HasPrefix(path, Prefix) && method != http.MethodOptions && method != http.MethodHead
}

// Check returns why ex does not keep to the document, or nil.
func (c *Checker) Check(ex Exchange) error {
	r := ex.Request
	if !Described(r.Method, r.URL.Path) {
		return nil
	}
	what := r.Method + " " + r.URL.Path
	ctx := context.Background()
	req := r.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(ex.RequestBody))
	req.ContentLength = int64(len(ex.RequestBody))
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		if ex.Status != http.StatusNotFound && ex.Status != http.StatusMethodNotAllowed {
			return fmt.Errorf("%s is not in the OpenAPI document (%v), yet it answered %d: describe it", what, err, ex.Status)
		}
		return c.errorBody(what, ex)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearerPresent, MultiError: true,
			ExcludeRequestBody: foreignBody(route.Operation)}}
	if reqErr := openapi3filter.ValidateRequest(ctx, in); reqErr != nil && ex.Status < 400 {
		return fmt.Errorf("%s: the OpenAPI document refuses this request (%v), yet it answered %d", what, reqErr, ex.Status)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: ex.Status, Header: ex.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(ex.Body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("%s answered %d %s, which the OpenAPI document does not describe: %v", what, ex.Status, clip(ex.Body), err)
	}
	return nil
}

// foreignBody reports whether op takes a body in someone else's format
// (a provider's webhook: any media type, no schema): its bytes are the
// provider's to define, and kin-openapi would read them as JSON by their
// content type.
func foreignBody(op *openapi3.Operation) bool {
	if op == nil || op.RequestBody == nil || op.RequestBody.Value == nil {
		return false
	}
	_, any := op.RequestBody.Value.Content["*/*"]
	return any && len(op.RequestBody.Value.Content) == 1
}

// errorBody checks that a refusal of an undescribed request is the
// contract's error shape.
func (c *Checker) errorBody(what string, ex Exchange) error {
	var v any
	if err := json.Unmarshal(ex.Body, &v); err != nil {
		return fmt.Errorf("%s answered %d without a JSON error body: %s", what, ex.Status, clip(ex.Body))
	}
	if err := c.errors.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("%s answered %d with a body that is not the error shape: %v", what, ex.Status, err)
	}
	return nil
}

// bearerPresent stands in for the server's token check: the document
// can only say that a bearer token must be sent; whether it is valid and
// its role high enough is the server's to answer (401, 403).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	if scheme, tok, ok := strings.Cut(h, " "); !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return errors.New("no bearer token")
	}
	return nil
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
