package milestones

import (
	"strings"
	"testing"
)

func TestGates(t *testing.T) {
	base := fixtureConformance(t)
	const errName = "Errors and negative data ERR-001 an unknown path answers 404 Not Found"
	const skipName = "POST /sdapi/v1/txt2img TXT2IMG-001 answers plain base64 PNG images, parameters and a JSON info string"
	failedErr := withFailure(t, base, errName)
	failedSkipped := withFailure(t, base, skipName)
	otherTarget := base
	otherTarget.Target.Identity = "another server"
	zero := 0
	one := 1

	run := func(c Conformance, cov *Coverage) *Run {
		return &Run{Milestone: "M01", N: 2, Conformance: c, Coverage: cov}
	}
	prevRun := func(c Conformance) *Run { return &Run{Milestone: "M01", N: 1, Conformance: c} }

	tests := []struct {
		name  string
		gates Gates
		run   *Run
		prev  *Run
		// want: gate name -> status, for the gates this case is about
		want map[string]Status
		// detail a broken gate's line must contain
		detail string
	}{
		{"coverage above floor", Gates{Coverage: cov(50)}, run(base, testCoverage(60)), nil, map[string]Status{"coverage": Pass}, ""},
		{"coverage under floor", Gates{Coverage: cov(50)}, run(base, testCoverage(40)), nil, map[string]Status{"coverage": Fail}, "40.0% of statements, under the floor of 50.0%"},
		{"coverage missing", Gates{Coverage: cov(50)}, run(base, nil), nil, map[string]Status{"coverage": Fail}, "no cover profile recorded"},
		{"required label passes", Gates{RequiredLabels: []string{"errors", "listings"}}, run(base, nil), nil, map[string]Status{"label errors": Pass, "label listings": Pass}, ""},
		{"required label with a failure", Gates{RequiredLabels: []string{"errors"}}, run(failedErr, nil), nil, map[string]Status{"label errors": Fail}, errName},
		{"required label all skipped", Gates{RequiredLabels: []string{"determinism"}}, run(base, nil), nil, map[string]Status{"label determinism": NotVerified}, "all 5 checks skipped"},
		{"required label nobody carries", Gates{RequiredLabels: []string{"nosuchlabel"}}, run(base, nil), nil, map[string]Status{"label nosuchlabel": NotVerified}, "no check carries nosuchlabel"},
		{"max failures met", Gates{MaxFailures: &one}, run(failedErr, nil), nil, map[string]Status{"max failures": Pass}, ""},
		{"max failures exceeded", Gates{MaxFailures: &zero}, run(failedErr, nil), nil, map[string]Status{"max failures": Fail}, "1 failed, more than the 0 allowed"},
		{"suite failure counts", Gates{MaxFailures: &zero}, run(Conformance{SuiteFailures: []string{"Suite Timeout Elapsed"}}, nil), nil, map[string]Status{"max failures": Fail}, "Suite Timeout Elapsed"},
		{"no regression without a previous run", Gates{NoRegression: true}, run(failedErr, nil), nil, map[string]Status{"no regression": Pass}, ""},
		{"regression: passed before, fails now", Gates{NoRegression: true}, run(failedErr, nil), prevRun(base), map[string]Status{"no regression": Fail}, "1 checks passed in M01/run1 and fail now: " + errName},
		{"still failing is no regression", Gates{NoRegression: true}, run(failedErr, nil), prevRun(failedErr), map[string]Status{"no regression": Pass}, ""},
		{"skipped before, failing now is no regression", Gates{NoRegression: true}, run(failedSkipped, nil), prevRun(base), map[string]Status{"no regression": Pass}, ""},
		{"fixed is no regression", Gates{NoRegression: true}, run(base, nil), prevRun(failedErr), map[string]Status{"no regression": Pass}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vs := tc.gates.Evaluate(tc.run, tc.prev)
			got := map[string]Status{}
			for _, v := range vs {
				got[v.Name] = v.Status
			}
			for name, want := range tc.want {
				if got[name] != want {
					t.Errorf("%s = %q, want %q (verdicts %+v)", name, got[name], want, vs)
				}
			}
			if tc.detail != "" {
				var lines []string
				for _, v := range Broken(vs) {
					lines = append(lines, v.String())
				}
				if !strings.Contains(strings.Join(lines, "\n"), tc.detail) {
					t.Errorf("broken gates %q do not mention %q", lines, tc.detail)
				}
			}
		})
	}

	t.Run("previous run is on the same target", func(t *testing.T) {
		all := []*Run{
			{Milestone: "M01", N: 1, Conformance: base},
			{Milestone: "M01", N: 2, Conformance: otherTarget},
			{Milestone: "M02", N: 1, Conformance: base},
		}
		cur := &Run{Milestone: "M02", N: 2, Conformance: failedErr}
		if p := previousRun(all, cur); p == nil || p.Ref() != "M02/run1" {
			t.Errorf("previous = %v, want M02/run1", p)
		}
		cur = &Run{Milestone: "M01", N: 3, Conformance: otherTarget}
		if p := previousRun(all, cur); p == nil || p.Ref() != "M01/run2" {
			t.Errorf("previous on the other target = %v, want M01/run2", p)
		}
		cur = &Run{Milestone: "M10", N: 1, Conformance: withFailure(t, otherTarget, errName)}
		if p := previousRun(all, cur); p == nil || p.Ref() != "M01/run2" {
			t.Errorf("M10 after M2 (natural order): previous = %v, want M01/run2", p)
		}
	})
}

func cov(min float64) (c struct {
	Min float64 `yaml:"min"`
}) {
	c.Min = min
	return c
}

func TestParseGates(t *testing.T) {
	g := mustGates(t, testGates)
	if g.Coverage.Min != 50 || len(g.RequiredLabels) != 2 || *g.MaxFailures != 0 || !g.NoRegression || len(g.Invariants) != 3 {
		t.Errorf("gates = %+v", g)
	}
	for _, bad := range []string{"coverage: {minimum: 3}\n", "invariants: [{name: x}]\n", "invariants: [{must_pass: [a]}]\n"} {
		if _, err := ParseGates([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if _, err := LoadGates("gates.yaml"); err != nil {
		t.Errorf("the project's own gates.yaml: %v", err)
	}
}

func TestInvariants(t *testing.T) {
	g := mustGates(t, testGates)
	base := fixtureConformance(t)
	const errName = "Errors and negative data ERR-001 an unknown path answers 404 Not Found"
	cur := &Run{Milestone: "M02", N: 1, Conformance: withFailure(t, base, errName), Coverage: testCoverage(60)}
	prev := &Run{Milestone: "M01", N: 1, Conformance: base, Coverage: testCoverage(60)}
	got := map[string]Status{}
	for _, inv := range g.Invariants {
		v := checkInvariant(inv, g, cur, prev)
		got[v.Name] = v.Status
	}
	want := map[string]Status{"schemas unchanged": Fail, "same seed same image": NotVerified, "coverage floor": Pass}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %s, want %s", k, got[k], w)
		}
	}
}
