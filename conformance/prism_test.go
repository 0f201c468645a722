package conformance_test

// Prism mode (-prism, or SDAPI_CONFORM_PRISM=1; `make conform-prism`): the
// suite runs through Stoplight Prism as a validation proxy,
//
//	harness → prism proxy openapi/sdapi.yaml http://SERVER --port P → reference server
//
// without --errors, so Prism forwards every request (invalid ones too) and
// reports what breaks the contract in the sl-violations response header.
// The harness's Observe hook collects those headers. A violation located in
// the response fails the run; request violations are expected from the
// deliberate negative checks and are listed in prism-violations.md.
//
// Prism 5.14.2 behaviours shape the run (the spec is not changed for them):
//   - Prism parses a JSON request body itself and answers malformed JSON with
//     its own 400 {"error":{"code":"invalid_json"}} without forwarding it, so
//     ERR-003 (malformed JSON → the server's FastAPI 422) cannot be judged
//     through Prism: the run adds `!ERR-003` to the label filter.
//   - A body sent without Content-Type does not reach the server as the
//     client sent it (the server receives a JSON string, not the object), so
//     ERR-011 (such a body is parsed as JSON) is left out too: `!ERR-011`.
//   - Prism adds CORS headers of its own unless started with --cors=false,
//     which the run passes, so that CORS-001 judges the server's headers.
//   - When the upstream answers 501, Prism "re-mocks" the call and answers
//     200 with an example built from the spec (prism-core factory.js,
//     UPSTREAM_NOT_IMPLEMENTED). The capability probes therefore go straight
//     to the server (Config.ProbeTarget), and the paths Prism re-mocked are
//     listed in the report: their answers came from Prism, not the server.

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sdapi/sdapi/conformance"
)

var flagPrism = flag.Bool("prism", os.Getenv("SDAPI_CONFORM_PRISM") != "",
	"run the suite through `prism proxy` (node_modules/.bin/prism) and fail on response violations in sl-violations")

// prismExcluded are the checks Prism makes unjudgeable (see above).
const prismExcluded = "!ERR-003 && !ERR-011"

type prismViolation struct {
	Location []any  `json:"location"`
	Severity string `json:"severity"`
	Code     any    `json:"code"`
	Message  string `json:"message"`
}

type prismRecord struct {
	N                   int64
	Method, Path, OpID  string
	Status              int
	Negative            bool
	Violation           prismViolation
	InResponse          bool
	locationDescription string
}

type prismProxy struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}

	mu      sync.Mutex
	log     []string
	records []prismRecord
	seen    int // exchanges that passed through Prism
	// returned501 counts Prism's "Upstream call to PATH has returned 501"
	// lines per path, consumed501 those matched to an exchange.
	returned501, consumed501 map[string]int
	substituted              []prismRecord
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// startPrism starts Prism in front of upstream and points cfg at it.
func startPrism(cfg *conformance.Config, upstream string) (*prismProxy, error) {
	bin, err := filepath.Abs("../node_modules/.bin/prism")
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s not found: run `make deps` (npm ci installs @stoplight/prism-cli)", bin)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	p := &prismProxy{done: make(chan struct{}), returned501: map[string]int{}, consumed501: map[string]int{}}
	p.cmd = exec.Command(bin, "proxy", "../openapi/sdapi.yaml", upstream, "--port", fmt.Sprint(port), "--host", "127.0.0.1", "--cors=false")
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := ansi.ReplaceAllString(sc.Text(), "")
			p.mu.Lock()
			p.log = append(p.log, line)
			if m := upstream501.FindStringSubmatch(line); m != nil {
				p.returned501[m[1]]++
			}
			p.mu.Unlock()
			if strings.Contains(line, "Prism is listening on") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case <-p.done:
		p.cmd.Wait()
		return nil, fmt.Errorf("prism exited before listening:\n%s", strings.Join(p.tail(20), "\n"))
	case <-time.After(90 * time.Second):
		p.stop()
		return nil, fmt.Errorf("prism did not listen within 90s:\n%s", strings.Join(p.tail(20), "\n"))
	}
	p.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	cfg.ProbeTarget = cfg.Target
	cfg.Target = p.url
	cfg.Observe = p.observe
	cfg.Identity += ", through Stoplight Prism 5.14.2 (prism proxy, validation only)"
	if f := flag.Lookup("ginkgo.label-filter"); f != nil {
		filter := prismExcluded
		if cur := f.Value.String(); cur != "" {
			filter = "(" + cur + ") && " + prismExcluded
		}
		if err := f.Value.Set(filter); err != nil {
			p.stop()
			return nil, err
		}
	}
	return p, nil
}

func (p *prismProxy) tail(n int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.log[max(0, len(p.log)-n):])
}

func (p *prismProxy) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd.Wait()
}

var upstream501 = regexp.MustCompile(`Upstream call to (\S+) has returned 501`)

// remocked tells whether Prism answered ex with a mock because the server
// answered 501. The server always sends X-Process-Time (HDR-001) and Prism
// passes it through; a mock lacks it, and Prism logs the 501 just before.
func (p *prismProxy) remocked(ex *conformance.Exchange) bool {
	if ex.Header.Get("X-Process-Time") != "" {
		return false
	}
	path, _, _ := strings.Cut(ex.Req.Path, "?")
	deadline := time.Now().Add(time.Second) // the log line may trail the answer
	for {
		p.mu.Lock()
		if p.returned501[path] > p.consumed501[path] {
			p.consumed501[path]++
			p.mu.Unlock()
			return true
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// observe records the sl-violations of one exchange and marks Prism's
// re-mocked answers as substituted (their checks are skipped).
func (p *prismProxy) observe(ex *conformance.Exchange) {
	if ex.Err != nil {
		return
	}
	remocked := p.remocked(ex)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen++
	if remocked {
		ex.Substituted = "the server answered 501 Not Implemented and Prism 5.14.2 replaced that with a mock built from the spec " +
			"(it re-mocks every 501), so this check cannot be judged through Prism; `go test ./conformance/` judges it without Prism"
		path, _, _ := strings.Cut(ex.Req.Path, "?")
		p.substituted = append(p.substituted, prismRecord{N: ex.N, Method: ex.Req.Method, Path: path, Status: ex.Status})
		return
	}
	for _, h := range ex.Header.Values("Sl-Violations") {
		var vs []prismViolation
		if err := json.Unmarshal([]byte(h), &vs); err != nil {
			vs = []prismViolation{{Location: []any{"?"}, Severity: "Error", Message: "unparsable sl-violations header: " + h}}
		}
		for _, v := range vs {
			loc := make([]string, len(v.Location))
			for i, x := range v.Location {
				loc[i] = fmt.Sprint(x)
			}
			path, _, _ := strings.Cut(ex.Req.Path, "?")
			p.records = append(p.records, prismRecord{
				N: ex.N, Method: ex.Req.Method, Path: path, OpID: ex.OperationID, Status: ex.Status,
				Negative: ex.Req.Negative, Violation: v, InResponse: len(loc) > 0 && loc[0] == "response",
				locationDescription: strings.Join(loc, "."),
			})
		}
	}
}

// finish stops Prism, writes prism-violations.md (and prism.log) into dir
// when set, prints a summary and returns 1 when a response violated the
// contract or when Prism saw nothing.
func (p *prismProxy) finish(dir string, code int) int {
	p.stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	remocked := p.returned501
	var resp, reqNeg, reqOther []prismRecord
	for _, r := range p.records {
		switch {
		case r.InResponse:
			resp = append(resp, r)
		case r.Negative:
			reqNeg = append(reqNeg, r)
		default:
			reqOther = append(reqOther, r)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Prism validation proxy: %s\n\n", map[bool]string{true: "PASS", false: "FAIL"}[len(resp) == 0 && p.seen > 0])
	fmt.Fprintf(&b, "Stoplight Prism 5.14.2 (`prism proxy openapi/sdapi.yaml UPSTREAM`, no `--errors`) between the harness and the reference server.\n")
	fmt.Fprintf(&b, "%d exchanges went through Prism; excluded: `%s` (Prism answers malformed JSON itself and alters a body without Content-Type).\n\n", p.seen, prismExcluded)
	fmt.Fprintf(&b, "| kind | violations |\n|---|---|\n| response (fail the run) | %d |\n| request, deliberate negative checks (expected) | %d |\n| request, other checks (auth probes, off-spec paths; listed) | %d |\n\n",
		len(resp), len(reqNeg), len(reqOther))
	section := func(title string, rs []prismRecord) {
		fmt.Fprintf(&b, "## %s\n\n", title)
		if len(rs) == 0 {
			b.WriteString("none\n\n")
			return
		}
		b.WriteString("| # | request | status | severity | location | code | message |\n|---|---|---|---|---|---|---|\n")
		for _, r := range rs {
			fmt.Fprintf(&b, "| %d | `%s %s` | %d | %s | `%s` | %v | %s |\n", r.N, r.Method, r.Path, r.Status,
				r.Violation.Severity, r.locationDescription, r.Violation.Code, strings.ReplaceAll(r.Violation.Message, "|", `\|`))
		}
		b.WriteString("\n")
	}
	section("Response violations", resp)
	section("Request violations from deliberate negative checks (expected)", reqNeg)
	section("Request violations from other checks", reqOther)
	b.WriteString("## Calls Prism re-mocked (the server answered 501)\n\n")
	if len(remocked) == 0 {
		b.WriteString("none\n")
	} else {
		b.WriteString("Prism answers these itself with a mock built from the spec. The capability probes bypass Prism, and a check whose\n" +
			"request was re-mocked is skipped with that reason (exchanges below), so no check judges a mock.\n\n")
		for _, r := range p.substituted {
			fmt.Fprintf(&b, "- exchange #%d `%s %s`: the check was skipped\n", r.N, r.Method, r.Path)
		}
		b.WriteString("\nPaths and how often the server answered 501 through Prism:\n\n")
		keys := make([]string, 0, len(remocked))
		for k := range remocked {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "- `%s` (calls: %d)\n", k, remocked[k])
		}
	}
	report := b.String()
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err == nil {
			os.WriteFile(filepath.Join(dir, "prism-violations.md"), []byte(report), 0o644)
			os.WriteFile(filepath.Join(dir, "prism.log"), []byte(strings.Join(p.log, "\n")+"\n"), 0o644)
			fmt.Fprintf(os.Stderr, "prism: report in %s\n", filepath.Join(dir, "prism-violations.md"))
		}
	}
	fmt.Fprintf(os.Stderr, "prism: %d exchanges, %d response violations, %d expected request violations (negative checks), %d other request violations, %d paths re-mocked\n",
		p.seen, len(resp), len(reqNeg), len(reqOther), len(remocked))
	switch {
	case p.seen == 0:
		fmt.Fprintln(os.Stderr, "prism: FAIL: no exchange went through Prism")
		return 1
	case len(reqNeg) == 0 && code == 0:
		// The negative checks always send invalid bodies; Prism must have
		// flagged some, or it was not validating.
		fmt.Fprintln(os.Stderr, "prism: FAIL: Prism reported no request violation for the deliberate negative checks")
		return 1
	case len(resp) > 0:
		fmt.Fprintln(os.Stderr, "prism: FAIL: responses of the reference server violate openapi/sdapi.yaml according to Prism:")
		for _, r := range resp {
			fmt.Fprintf(os.Stderr, "  #%d %s %s → %d: %s %s\n", r.N, r.Method, r.Path, r.Status, r.locationDescription, r.Violation.Message)
		}
		return 1
	}
	return code
}
