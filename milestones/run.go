package milestones

import (
	"fmt"
	"time"
)

// Env is what the caller knows about where a run happened; cmd/sdapi-milestone
// fills it from the CI's environment or from git.
type Env struct {
	Commit string `json:"commit,omitempty"`
	Branch string `json:"branch,omitempty"`
	// Dirty is set when the working tree had uncommitted changes.
	Dirty bool `json:"dirty,omitempty"`
	// CIProvider, CIRunID and CIRunURL describe the CI run, when there
	// is one.
	CIProvider string `json:"ci_provider,omitempty"`
	CIRunID    string `json:"ci_run_id,omitempty"`
	CIRunURL   string `json:"ci_run_url,omitempty"`
}

// Inputs are the results one run produced.
type Inputs struct {
	Conformance Conformance
	Coverage    *Coverage
	Benchmarks  []Benchmark
	Load        *Load // cmd/sdapi-load's results, when given
	Env         Env
}

// Run is one recorded run: the data ID_runN.json holds and ID_runN.md
// renders.
type Run struct {
	Milestone string `json:"milestone"`
	N         int    `json:"n"`
	// Identity is what makes two recordings the same run: the commit and
	// the digest of the conformance report.
	Identity    string      `json:"identity"`
	Date        time.Time   `json:"date"`
	Env         Env         `json:"env"`
	Conformance Conformance `json:"conformance"`
	Coverage    *Coverage   `json:"coverage,omitempty"`
	Benchmarks  []Benchmark `json:"benchmarks,omitempty"`
	Load        *Load       `json:"load,omitempty"`
	// Previous is the run the gates compared with (Ref form), if any.
	Previous string    `json:"previous,omitempty"`
	Verdicts []Verdict `json:"verdicts"`
}

// RunIdentity is the identity of a run of commit that produced the report
// with the given digest.
func RunIdentity(commit, reportDigest string) string {
	if commit == "" {
		commit = "unknown-commit"
	}
	return commit + "+report:" + reportDigest
}

// Ref names the run as "M01/run2".
func (r *Run) Ref() string { return fmt.Sprintf("%s/run%d", r.Milestone, r.N) }

// BaseName is the run's file name without extension ("M01_run2").
func (r *Run) BaseName() string { return fmt.Sprintf("%s_run%d", r.Milestone, r.N) }

// NewRun builds the (unnumbered, ungated) run of in for milestone id.
func NewRun(id string, in Inputs) *Run {
	return &Run{
		Milestone:   id,
		Identity:    RunIdentity(in.Env.Commit, in.Conformance.Digest),
		Date:        in.Conformance.Started,
		Env:         in.Env,
		Conformance: in.Conformance,
		Coverage:    in.Coverage,
		Benchmarks:  in.Benchmarks,
		Load:        in.Load,
	}
}

// RequirementStates aggregates checks per requirement (checks outside the
// catalogue count under their own name): failed when any check failed,
// passed when one passed and none failed, skipped otherwise.
func RequirementStates(c Conformance) map[string]State {
	out := map[string]State{}
	for _, ch := range c.Checks {
		key := ch.Requirement
		if key == "" {
			key = ch.Name
		}
		cur, seen := out[key]
		switch {
		case ch.State == Failed:
			out[key] = Failed
		case ch.State == Passed && (!seen || cur == Skipped):
			out[key] = Passed
		case !seen:
			out[key] = Skipped
		}
	}
	return out
}
