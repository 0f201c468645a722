package milestones

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// State is the outcome of one check.
type State string

// The outcomes a record distinguishes. Failed covers Ginkgo's failures,
// panics, timeouts, interrupts and aborts; Skipped covers skips, pending
// specs and specs left out by a label filter.
const (
	Passed  State = "passed"
	Failed  State = "failed"
	Skipped State = "skipped"
)

// Target is the server a conformance run judged.
type Target struct {
	URL        string `json:"url,omitempty"`
	Identity   string `json:"identity,omitempty"`
	Profile    string `json:"profile,omitempty"`
	SpecSource string `json:"spec_source,omitempty"`
	SpecSHA256 string `json:"spec_sha256,omitempty"`
}

// Key identifies the target across runs: its identity (the URL when it has
// none), its profile and the spec it was judged against. The reference
// server listens on a fresh port each run, so its URL is not part of it.
func (t Target) Key() string {
	id := t.Identity
	if id == "" {
		id = t.URL
	}
	return id + " | profile " + t.Profile + " | spec " + t.SpecSHA256
}

// Check is one It of the conformance suite (or a suite-level node that
// failed).
type Check struct {
	// Requirement is the catalogue ID the check verifies ("ERR-001"), from
	// its labels; empty for checks outside the catalogue.
	Requirement string `json:"requirement,omitempty"`
	// Name is the spec's full text (containers and leaf); it identifies
	// the check across runs.
	Name string `json:"name"`
	// Labels are the spec's labels without the requirement ID.
	Labels []string `json:"labels,omitempty"`
	// Operation is "METHOD /path" when the spec's text names one.
	Operation string `json:"operation,omitempty"`
	State     State  `json:"state"`
	// GinkgoState is Ginkgo's own state when it says more than State
	// ("panicked", "timedout", "pending").
	GinkgoState string `json:"ginkgo_state,omitempty"`
	// Message is the head of the failure or skip message.
	Message string `json:"message,omitempty"`
	// Curl is the command line that reproduces a failure (the harness
	// appends it after "Reproduce with:").
	Curl string `json:"curl,omitempty"`
}

// Conformance is what a run record keeps of one conformance report.
type Conformance struct {
	// Digest is the sha256 of the report file's bytes.
	Digest        string        `json:"digest"`
	Suite         string        `json:"suite"`
	Succeeded     bool          `json:"succeeded"`
	SuiteFailures []string      `json:"suite_failures,omitempty"`
	Started       time.Time     `json:"started"`
	RunTime       time.Duration `json:"run_time_ns"`
	LabelFilter   string        `json:"label_filter,omitempty"`
	Target        Target        `json:"target"`
	Checks        []Check       `json:"checks"`
}

// Counts tallies checks by state.
type Counts struct{ Passed, Failed, Skipped int }

func (c *Counts) add(s State) {
	switch s {
	case Passed:
		c.Passed++
	case Failed:
		c.Failed++
	default:
		c.Skipped++
	}
}

// String renders the counts as the conformance report does.
func (c Counts) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", c.Passed, c.Failed, c.Skipped)
}

// Counts tallies the report's checks.
func (c Conformance) Counts() Counts {
	var n Counts
	for _, ch := range c.Checks {
		n.add(ch.State)
	}
	return n
}

// Failures counts the failed checks plus suite-level failures that no
// check carries (a suite timeout, for instance).
func (c Conformance) Failures() int {
	return c.Counts().Failed + len(c.SuiteFailures)
}

// ErrNoReport is returned when a report file holds no Ginkgo report.
var ErrNoReport = errors.New("no ginkgo report in file")

// LoadConformance reads a conformance report written by sdapi-conform
// --json or by `go test ./conformance/... -args -report-dir=DIR`
// (report.json). The target description comes from the report entries
// the harness's BeforeSuite adds ("target", "identity", "profile",
// "spec-source", "spec-sha256"); reports from harness versions without
// them fall back to the identity table of the report.md next to them.
func LoadConformance(path string) (Conformance, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Conformance{}, err
	}
	md, err := os.ReadFile(filepath.Join(filepath.Dir(path), "report.md"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Conformance{}, err
	}
	c, err := ParseConformance(data, md)
	if err != nil {
		return Conformance{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

var (
	requirementID = regexp.MustCompile(`^[A-Z][A-Z0-9]*-[0-9]+$`)
	operationRE   = regexp.MustCompile(`\b(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (/[^\s,;:()]*)`)
)

// ParseConformance reads Ginkgo's JSON report (an array holding one
// report, or one report) and, when markdown is not empty, the target
// description from the harness's markdown report.
func ParseConformance(data, markdown []byte) (Conformance, error) {
	var reports []types.Report
	if err := json.Unmarshal(data, &reports); err != nil {
		var one types.Report
		if err2 := json.Unmarshal(data, &one); err2 != nil {
			return Conformance{}, fmt.Errorf("not a ginkgo json report: %w", err)
		}
		reports = []types.Report{one}
	}
	if len(reports) == 0 {
		return Conformance{}, ErrNoReport
	}
	r := reports[0]
	sum := sha256.Sum256(data)
	c := Conformance{
		Digest:        hex.EncodeToString(sum[:]),
		Suite:         r.SuiteDescription,
		Succeeded:     r.SuiteSucceeded,
		SuiteFailures: r.SpecialSuiteFailureReasons,
		Started:       r.StartTime.UTC().Truncate(time.Second),
		RunTime:       r.RunTime.Round(time.Millisecond),
		LabelFilter:   r.SuiteConfig.LabelFilter,
	}
	for _, s := range r.SpecReports {
		for _, e := range s.ReportEntries {
			setTargetField(&c.Target, e.Name, e.StringRepresentation())
		}
		if s.LeafNodeType != types.NodeTypeIt && !s.State.Is(types.SpecStateFailureStates) {
			continue
		}
		c.Checks = append(c.Checks, checkOf(s))
	}
	if len(markdown) > 0 {
		parseMarkdownTarget(&c.Target, string(markdown))
	}
	return c, nil
}

func checkOf(s types.SpecReport) Check {
	ch := Check{Name: s.FullText()}
	if ch.Name == "" {
		ch.Name = s.LeafNodeType.String()
	}
	for _, l := range s.Labels() {
		if requirementID.MatchString(l) {
			if ch.Requirement == "" {
				ch.Requirement = l
			}
			continue
		}
		ch.Labels = append(ch.Labels, l)
	}
	if m := operationRE.FindStringSubmatch(ch.Name); m != nil {
		path := m[2]
		if !strings.HasPrefix(path, "/sdapi/") && !strings.HasPrefix(path, "/internal/") {
			path = "/sdapi/v1" + path // the suite names API routes by their short path
		}
		ch.Operation = m[1] + " " + path
	}
	switch {
	case s.State == types.SpecStatePassed:
		ch.State = Passed
	case s.State.Is(types.SpecStateFailureStates):
		ch.State = Failed
		if s.State != types.SpecStateFailed {
			ch.GinkgoState = s.State.String()
		}
		ch.Message = headLines(s.Failure.Message, 6, 800)
		ch.Curl = reproduceLine(s.Failure.Message)
	default:
		ch.State = Skipped
		if s.State != types.SpecStateSkipped {
			ch.GinkgoState = s.State.String()
		}
		ch.Message = headLines(s.Failure.Message, 1, 300)
	}
	return ch
}

// reproduceLine is the first line after the last "Reproduce with:".
func reproduceLine(msg string) string {
	i := strings.LastIndex(msg, "Reproduce with:")
	if i < 0 {
		return ""
	}
	rest := strings.TrimSpace(msg[i+len("Reproduce with:"):])
	line, _, _ := strings.Cut(rest, "\n")
	return truncate(strings.TrimSpace(line), 4000)
}

// headLines keeps the first n lines of s (without a trailing curl part),
// at most max bytes.
func headLines(s string, n, max int) string {
	if i := strings.Index(s, "Reproduce with:"); i >= 0 {
		s = s[:i]
	}
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return truncate(strings.TrimRight(strings.Join(lines, "\n"), "\n "), max)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func setTargetField(t *Target, name, value string) {
	switch name {
	case "target":
		t.URL = value
	case "identity":
		t.Identity = value
	case "profile":
		t.Profile = value
	case "spec-source":
		t.SpecSource = value
	case "spec-sha256":
		t.SpecSHA256 = value
	}
}

// parseMarkdownTarget reads the identity table at the top of the
// harness's report.md: rows target, identity, profile and spec.
func parseMarkdownTarget(t *Target, md string) {
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "## ") {
			return
		}
		cells := tableCells(line)
		if len(cells) != 2 {
			continue
		}
		k, v := cells[0], cells[1]
		switch k {
		case "target":
			t.URL = strings.Trim(v, "`")
		case "identity":
			t.Identity = v
		case "profile":
			if name, _, ok := strings.Cut(strings.TrimPrefix(v, "`"), "`"); ok {
				t.Profile = name
			} else {
				t.Profile = v
			}
		case "spec":
			src, sum, ok := strings.Cut(v, ", sha256 ")
			t.SpecSource = src
			if ok {
				t.SpecSHA256 = strings.Trim(sum, "`")
			}
		}
	}
}

// tableCells splits a markdown table row into trimmed cells, honouring
// escaped pipes.
func tableCells(line string) []string {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") || len(line) < 2 {
		return nil
	}
	const esc = "\x00"
	line = strings.ReplaceAll(line[1:len(line)-1], `\|`, esc)
	parts := strings.Split(line, "|")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.TrimSpace(p), esc, "|")
	}
	return parts
}
