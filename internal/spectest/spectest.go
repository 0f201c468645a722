// Package spectest checks HTTP exchanges against the sdapi OpenAPI document
// in tests: the response must be declared for its operation and status, and
// its body must match the schema.
package spectest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/sdapi/sdapi/gen"
)

// Validator validates responses from a server at one base URL.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
	opts   openapi3filter.Options
}

// New returns a Validator for the embedded spec with its servers rebound to
// baseURL (for example "http://127.0.0.1:7861").
func New(baseURL string) (*Validator, error) {
	doc, err := gen.GetSwagger()
	if err != nil {
		return nil, err
	}
	doc.Servers = openapi3.Servers{{URL: strings.TrimRight(baseURL, "/")}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &Validator{doc: doc, router: router, opts: openapi3filter.Options{
		IncludeResponseStatus: true, // an undeclared status is a failure
		MultiError:            true,
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
	}}, nil
}

// Doc is the spec the Validator checks against (servers rebound).
func (v *Validator) Doc() *openapi3.T { return v.doc }

// Validate checks one exchange. req must carry an absolute URL; body is the
// response body already read.
func (v *Validator) Validate(ctx context.Context, req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("%s %s: find route: %w", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: &v.opts}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: &v.opts}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("%s %s -> %d: %w\nbody: %.500s", req.Method, req.URL.Path, status, err, body)
	}
	return nil
}

// Response is what Do returns: the status, headers and body of an exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends req with client, reads the whole answer and validates it,
// failing t on a transport error or a contract violation.
func (v *Validator) Do(t testing.TB, client *http.Client, req *http.Request) Response {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	if err := v.Validate(req.Context(), req, resp.StatusCode, resp.Header, body); err != nil {
		t.Errorf("contract violation: %v", err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// NewRequest builds a request for path under baseURL; a non-nil body is
// sent as JSON.
func NewRequest(ctx context.Context, method, baseURL, path string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(baseURL, "/")+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// Operation is one method and path of the spec.
type Operation struct {
	Method, Path, ID string
	HasBody          bool
}

// Operations lists every operation of the spec, sorted by path and method.
func (v *Validator) Operations() []Operation {
	var out []Operation
	for _, path := range v.doc.Paths.InMatchingOrder() {
		item := v.doc.Paths.Value(path)
		for method, op := range item.Operations() {
			out = append(out, Operation{Method: method, Path: path, ID: op.OperationID, HasBody: op.RequestBody != nil})
		}
	}
	slices.SortFunc(out, func(a, b Operation) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Method, b.Method))
	})
	return out
}
