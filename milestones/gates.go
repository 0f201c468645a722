package milestones

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Gates is milestones/gates.yaml: what every run must meet, and the
// invariants an audit checks.
type Gates struct {
	Coverage struct {
		// Min is the floor for total statement coverage, in percent.
		Min float64 `yaml:"min"`
	} `yaml:"coverage"`
	// RequiredLabels must fully pass: no failed check carries one, and at
	// least one check carrying it passed.
	RequiredLabels []string `yaml:"required_labels"`
	// MaxFailures bounds the failed checks (nil: no bound).
	MaxFailures *int `yaml:"max_failures"`
	// NoRegression fails a run in which a check fails that passed in the
	// previous recorded run against the same target.
	NoRegression bool `yaml:"no_regression"`
	// Invariants are what the audit checks across milestones.
	Invariants []Invariant `yaml:"invariants"`
}

// Invariant is one promise a milestone must keep, checked from the runs.
type Invariant struct {
	Name string `yaml:"name"`
	// NoRegressionIn: no check carrying one of these labels passed in the
	// baseline run and fails now, and none fails now.
	NoRegressionIn []string `yaml:"no_regression_in,omitempty"`
	// MustPass: checks carrying these labels ran, and none failed.
	MustPass []string `yaml:"must_pass,omitempty"`
	// CoverageFloor: total coverage is at least coverage.min.
	CoverageFloor bool `yaml:"coverage_floor,omitempty"`
}

// LoadGates reads a gates file; unknown keys are an error.
func LoadGates(file string) (Gates, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return Gates{}, err
	}
	g, err := ParseGates(data)
	if err != nil {
		return Gates{}, fmt.Errorf("%s: %w", file, err)
	}
	return g, nil
}

// ParseGates decodes gates YAML strictly.
func ParseGates(data []byte) (Gates, error) {
	var g Gates
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&g); err != nil {
		return Gates{}, err
	}
	for i, inv := range g.Invariants {
		if inv.Name == "" {
			return Gates{}, fmt.Errorf("invariant %d has no name", i+1)
		}
		if len(inv.NoRegressionIn) == 0 && len(inv.MustPass) == 0 && !inv.CoverageFloor {
			return Gates{}, fmt.Errorf("invariant %q checks nothing: give no_regression_in, must_pass or coverage_floor", inv.Name)
		}
	}
	return g, nil
}

// Status is a verdict's outcome.
type Status string

// Verdict outcomes. NotVerified means the runs cannot show it either way
// (every relevant check skipped).
const (
	Pass        Status = "pass"
	Fail        Status = "fail"
	NotVerified Status = "not verified"
)

// Verdict is the outcome of one gate or invariant.
type Verdict struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
}

// String is the one-line form `gate` prints.
func (v Verdict) String() string { return v.Name + ": " + v.Detail }

// Evaluate judges run against the gates; prev is the previous recorded
// run against the same target (nil when there is none).
func (g Gates) Evaluate(run *Run, prev *Run) []Verdict {
	var out []Verdict
	if g.Coverage.Min > 0 {
		out = append(out, g.coverageVerdict("coverage", run))
	}
	for _, l := range g.RequiredLabels {
		out = append(out, labelVerdict("label "+l, run.Conformance.Checks, []string{l}))
	}
	if g.MaxFailures != nil {
		v := Verdict{Name: "max failures", Status: Pass}
		n := run.Conformance.Failures()
		v.Detail = fmt.Sprintf("%d failed (at most %d allowed)", n, *g.MaxFailures)
		if n > *g.MaxFailures {
			v.Status = Fail
			v.Detail = fmt.Sprintf("%d failed, more than the %d allowed: %s", n, *g.MaxFailures, failedNames(run.Conformance, 5))
		}
		out = append(out, v)
	}
	if g.NoRegression {
		out = append(out, regressionVerdict("no regression", run, prev, nil))
	}
	return out
}

// Broken returns the verdicts that did not pass.
func Broken(vs []Verdict) []Verdict {
	var out []Verdict
	for _, v := range vs {
		if v.Status != Pass {
			out = append(out, v)
		}
	}
	return out
}

func (g Gates) coverageVerdict(name string, run *Run) Verdict {
	v := Verdict{Name: name}
	switch c := run.Coverage; {
	case c == nil:
		v.Status, v.Detail = Fail, fmt.Sprintf("no cover profile recorded (floor %.1f%%)", g.Coverage.Min)
	case c.Percent() < g.Coverage.Min:
		v.Status, v.Detail = Fail, fmt.Sprintf("%.1f%% of statements, under the floor of %.1f%%", c.Percent(), g.Coverage.Min)
	default:
		v.Status, v.Detail = Pass, fmt.Sprintf("%.1f%% of statements (floor %.1f%%)", c.Percent(), g.Coverage.Min)
	}
	return v
}

// labelVerdict: pass when no check carrying one of labels failed and at
// least one passed; not verified when none ran.
func labelVerdict(name string, checks []Check, labels []string) Verdict {
	var n Counts
	var failed []string
	for _, c := range checks {
		if !hasAny(c.Labels, labels) {
			continue
		}
		n.add(c.State)
		if c.State == Failed {
			failed = append(failed, c.short())
		}
	}
	v := Verdict{Name: name, Detail: n.String()}
	switch {
	case n.Failed > 0:
		v.Status = Fail
		v.Detail = fmt.Sprintf("%d of %d checks failed: %s", n.Failed, n.Passed+n.Failed+n.Skipped, listSome(failed, 5))
	case n.Passed == 0:
		v.Status = NotVerified
		if n.Skipped == 0 {
			v.Detail = "no check carries " + strings.Join(labels, " or ")
		} else {
			v.Detail = fmt.Sprintf("all %d checks skipped", n.Skipped)
		}
	default:
		v.Status = Pass
	}
	return v
}

// Regressions lists the checks that passed in prev and fail in run
// (restricted to checks carrying one of labels when labels is not empty).
func Regressions(run, prev *Run, labels []string) []Check {
	if prev == nil {
		return nil
	}
	before := map[string]State{}
	for _, c := range prev.Conformance.Checks {
		before[c.Name] = c.State
	}
	var out []Check
	for _, c := range run.Conformance.Checks {
		if c.State == Failed && before[c.Name] == Passed && (len(labels) == 0 || hasAny(c.Labels, labels)) {
			out = append(out, c)
		}
	}
	return out
}

func regressionVerdict(name string, run, prev *Run, labels []string) Verdict {
	v := Verdict{Name: name, Status: Pass}
	if prev == nil {
		v.Detail = "no earlier run against this target to compare with"
		return v
	}
	reg := Regressions(run, prev, labels)
	if len(reg) == 0 {
		v.Detail = "nothing that passed in " + prev.Ref() + " fails now"
		return v
	}
	names := make([]string, len(reg))
	for i, c := range reg {
		names[i] = c.short()
	}
	v.Status = Fail
	v.Detail = fmt.Sprintf("%d checks passed in %s and fail now: %s", len(reg), prev.Ref(), listSome(names, 5))
	return v
}

// short names a check by its requirement and leaf text.
func (c Check) short() string { return c.Name }

func failedNames(c Conformance, n int) string {
	var names []string
	for _, ch := range c.Checks {
		if ch.State == Failed {
			names = append(names, ch.short())
		}
	}
	names = append(names, c.SuiteFailures...)
	return listSome(names, n)
}

func listSome(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, "; ")
	}
	return strings.Join(xs[:n], "; ") + fmt.Sprintf("; and %d more", len(xs)-n)
}

func hasAny(have, want []string) bool {
	for _, w := range want {
		if slices.Contains(have, w) {
			return true
		}
	}
	return false
}
