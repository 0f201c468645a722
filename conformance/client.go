package conformance

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/sdapi/sdapi/gen"
)

// APIPrefix is where A1111 mounts the API.
const APIPrefix = "/sdapi/v1"

// Spec is the OpenAPI document responses are validated against, with its
// servers rebound to the target.
type Spec struct {
	Doc    *openapi3.T
	Source string // "embedded" or the --spec path
	SHA256 string // of the document's bytes as loaded
	router routers.Router
	opts   openapi3filter.Options
}

// Operation is one method and path of the spec.
type Operation struct {
	Method, Path, ID string
	Op               *openapi3.Operation
}

// LoadSpec reads the document (the one embedded in gen when path is
// empty), validates it and rebinds its servers to target.
func LoadSpec(ctx context.Context, path, target string) (*Spec, error) {
	var raw []byte
	source := "embedded"
	var err error
	if path == "" {
		raw, err = gen.GetSpecJSON()
	} else {
		source = path
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	loader := openapi3.NewLoader()
	loader.Context = ctx
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("parse spec %s: %w", source, err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("spec %s is invalid: %w", source, err)
	}
	doc.Servers = openapi3.Servers{{URL: strings.TrimRight(target, "/")}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route spec: %w", err)
	}
	sum := sha256.Sum256(raw)
	return &Spec{Doc: doc, Source: source, SHA256: hex.EncodeToString(sum[:]), router: router,
		opts: openapi3filter.Options{
			IncludeResponseStatus: true, // an undeclared status is a violation
			MultiError:            true,
			AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		}}, nil
}

// Operations lists every operation, sorted by path and method.
func (s *Spec) Operations() []Operation {
	var out []Operation
	for _, path := range s.Doc.Paths.InMatchingOrder() {
		for method, op := range s.Doc.Paths.Value(path).Operations() {
			out = append(out, Operation{Method: method, Path: path, ID: op.OperationID, Op: op})
		}
	}
	slices.SortFunc(out, func(a, b Operation) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Method, b.Method))
	})
	return out
}

// validate checks one exchange; it returns the operation ID ("" when the
// request matches no operation of the spec) and the violation, if any.
func (s *Spec) validate(ctx context.Context, req *http.Request, status int, header http.Header, body []byte) (string, error) {
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return "", nil // off-spec probe (unknown path, wrong method): the spec says nothing
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: &s.opts}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: &s.opts}
	out.SetBodyBytes(body)
	return route.Operation.OperationID, openapi3filter.ValidateResponse(ctx, out)
}

// authMode selects the credentials of a request.
type authMode int

const (
	authConfigured authMode = iota // --user/--password when given
	authNone                       // no Authorization header
	authWrong                      // the configured user with a wrong password
)

// Request is one exchange to send.
type Request struct {
	Method string
	Path   string // absolute path, e.g. /sdapi/v1/options?x=1
	Body   []byte
	// ContentType defaults to application/json when Body is set.
	ContentType string
	// NoContentType sends Body without a Content-Type header.
	NoContentType bool
	// Header holds extra request headers (Origin, for instance).
	Header http.Header
	Auth   authMode
	// Negative marks a deliberately invalid request: it does not count as
	// exercising its operation.
	Negative bool
}

// Exchange is a request and the answer to it, as the suite saw them.
type Exchange struct {
	N           int64
	Req         Request
	URL         string
	Status      int
	Header      http.Header
	Body        []byte
	Elapsed     time.Duration
	OperationID string // "" when the spec has no such operation
	Violation   string // why the answer breaks the spec, or ""
	Err         error  // transport error
	// Substituted is set by a Config.Observe hook when the answer did not
	// come from the server (a validating proxy's mock, for instance): why.
	// Such an exchange stays out of the ledger, and the check that sent it
	// is skipped with this reason instead of judged.
	Substituted string
	curlFile    string
	// withUser and evidenceDir are the client's: whether it sends
	// credentials, and where Curl puts long bodies.
	withUser    bool
	evidenceDir string
}

// Client sends requests to the target and validates every answer.
type Client struct {
	base        string
	hc          *http.Client
	user, pass  string
	spec        *Spec
	evidenceDir string
	n           atomic.Int64
	observe     func(*Exchange)
	// unrecorded keeps the exchanges out of the ledger and away from
	// Observe (the capability probes sent to Config.ProbeTarget).
	unrecorded bool
	// suite, when set, is the run whose ledger and running check see the
	// exchanges.
	suite *Suite
}

// NewClient returns a Client for cfg's target validating against spec.
func NewClient(cfg Config, spec *Spec) *Client {
	return &Client{
		base: strings.TrimRight(cfg.Target, "/"),
		hc: &http.Client{Timeout: cfg.Timeout, Transport: &http.Transport{
			Proxy: nil, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second,
		}},
		user: cfg.User, pass: cfg.Password, spec: spec, evidenceDir: cfg.EvidenceDir, observe: cfg.Observe,
	}
}

// Do sends r, reads the whole answer, validates it against the spec and
// records it in the ledger and as the running spec's last exchange.
func (c *Client) Do(ctx context.Context, r Request) *Exchange {
	ex := &Exchange{N: c.n.Add(1), Req: r, URL: c.base + r.Path, withUser: c.user != "", evidenceDir: c.evidenceDir}
	if c.suite != nil {
		if cur := c.suite.current.Load(); cur != nil {
			cur.last.Store(ex)
		}
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, ex.URL, body)
	if err != nil {
		ex.Err = err
		return ex
	}
	if r.Body != nil && !r.NoContentType {
		req.Header.Set("Content-Type", cmp.Or(r.ContentType, "application/json"))
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	switch {
	case r.Auth == authConfigured && c.user != "":
		req.SetBasicAuth(c.user, c.pass)
	case r.Auth == authWrong:
		req.SetBasicAuth(cmp.Or(c.user, "sdapi-conform"), "wrong-"+c.pass+"-password")
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		ex.Err = err
		ex.Elapsed = time.Since(start)
		return ex
	}
	ex.Body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	ex.Elapsed = time.Since(start)
	ex.Status, ex.Header = resp.StatusCode, resp.Header
	if err != nil {
		ex.Err = fmt.Errorf("read body: %w", err)
		return ex
	}
	vreq, _ := http.NewRequestWithContext(ctx, r.Method, ex.URL, nil)
	vreq.Header = req.Header.Clone()
	opID, verr := c.spec.validate(ctx, vreq, ex.Status, ex.Header, ex.Body)
	ex.OperationID = opID
	if verr != nil {
		ex.Violation = verr.Error()
	}
	if c.unrecorded || c.suite == nil {
		return ex
	}
	if c.observe != nil {
		c.observe(ex)
	}
	if ex.Substituted == "" {
		c.suite.rec.exchange(ex)
		c.suite.noteExchange(ex)
	}
	return ex
}

// Curl is a shell command that repeats the exchange. Credentials come from
// $SDAPI_USER and $SDAPI_PASSWORD so they never land in a log; bodies over
// 4 KiB go to a file under the evidence directory when there is one.
func (ex *Exchange) Curl() string {
	var b strings.Builder
	fmt.Fprintf(&b, "curl -sS -i -X %s %s", ex.Req.Method, shellQuote(ex.URL))
	switch ex.Req.Auth {
	case authConfigured:
		if ex.withUser {
			b.WriteString(` -u "$SDAPI_USER:$SDAPI_PASSWORD"`)
		}
	case authWrong:
		b.WriteString(` -u "$SDAPI_USER:wrong-password"`)
	}
	for k, vs := range ex.Req.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, " -H %s", shellQuote(k+": "+v))
		}
	}
	if ex.Req.Body != nil {
		ct := "Content-Type: " + cmp.Or(ex.Req.ContentType, "application/json")
		if ex.Req.NoContentType {
			ct = "Content-Type:" // curl then sends no Content-Type at all
		}
		fmt.Fprintf(&b, " -H %s", shellQuote(ct))
		switch {
		case len(ex.Req.Body) <= 4096:
			fmt.Fprintf(&b, " --data-binary %s", shellQuote(string(ex.Req.Body)))
		case ex.bodyFile() != "":
			fmt.Fprintf(&b, " --data-binary @%s", shellQuote(ex.bodyFile()))
		default:
			fmt.Fprintf(&b, " --data-binary %s", shellQuote(elideImages(ex.Req.Body)))
		}
	}
	return b.String()
}

// bodyFile writes the request body under the evidence directory once.
func (ex *Exchange) bodyFile() string {
	if ex.curlFile != "" || ex.evidenceDir == "" {
		return ex.curlFile
	}
	dir := filepath.Join(ex.evidenceDir, "requests")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ""
	}
	p := filepath.Join(dir, fmt.Sprintf("%05d.json", ex.N))
	if err := os.WriteFile(p, ex.Req.Body, 0o644); err != nil {
		return ""
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	ex.curlFile = p
	return p
}

// elideImages shortens long strings (base64 images) in a JSON body so a
// curl line stays readable; the result no longer reproduces the images.
func elideImages(body []byte) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return string(body[:min(len(body), 4096)]) + "…"
	}
	var walk func(any) any
	walk = func(x any) any {
		switch t := x.(type) {
		case string:
			if len(t) > 256 {
				return t[:64] + "…(elided)"
			}
		case []any:
			for i := range t {
				t[i] = walk(t[i])
			}
		case map[string]any:
			for k := range t {
				t[k] = walk(t[k])
			}
		}
		return x
	}
	out, _ := json.Marshal(walk(v))
	return string(out)
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Describe summarises the exchange for failure messages; a long body goes
// to an evidence file whose path it names.
func (ex *Exchange) Describe() string {
	if ex.Err != nil {
		return fmt.Sprintf("%s %s: %v", ex.Req.Method, ex.Req.Path, ex.Err)
	}
	return fmt.Sprintf("%s %s → %d (%s)\n%s", ex.Req.Method, ex.Req.Path, ex.Status,
		ex.Elapsed.Round(time.Millisecond), bodyForMessage(ex))
}

// Seen is a short account of the answer for a headline: the status and
// the start of the body ("422: {"detail":[…"), without base64.
func (ex *Exchange) Seen() string {
	if ex.Err != nil {
		return ex.Err.Error()
	}
	body := strings.TrimSpace(string(ex.Body))
	if reLongToken.MatchString(body) {
		body = reLongToken.ReplaceAllString(body, "…")
	}
	return fmt.Sprintf("%d %s", ex.Status, shorten(reSpaces.ReplaceAllString(body, " "), 120))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
