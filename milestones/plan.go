package milestones

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// ErrPlanExists is returned by New when the milestone already has a plan.
var ErrPlanExists = errors.New("plan exists")

// New writes milestones/ID/ID_plan.md from the plan template and adds the
// milestone's ledger row. It refuses to overwrite an existing plan.
func (s Store) New(id, title string, gates Gates) (string, error) {
	if err := CheckID(id); err != nil {
		return "", err
	}
	if strings.TrimSpace(title) == "" {
		return "", errors.New("a milestone needs a title (--title)")
	}
	file := s.PlanPath(id)
	if _, err := os.Stat(file); err == nil {
		return "", fmt.Errorf("%s: %w", file, ErrPlanExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := writeIfChanged(file, []byte(RenderPlan(id, title, gates))); err != nil {
		return "", err
	}
	if _, err := s.updateLedger(gates); err != nil {
		return "", err
	}
	return file, nil
}

// RenderPlan is the plan template: the sections of a governed milestone,
// with the gates and invariants of gates.yaml filled in.
func RenderPlan(id, title string, g Gates) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s plan: %s\n\n", id, strings.TrimSpace(title))
	b.WriteString("Status: draft. Written by `sdapi-milestone new`; people fill in every section. The evidence\n")
	fmt.Fprintf(&b, "(%s_runN.md, %s_summary.md, %s_audit.md and the ledger rows) is written by the tool from real runs.\n\n", id, id, id)

	b.WriteString("## 1. Intent\n\nWhat this milestone changes or proves, and why now. One outcome sentence.\n\n")
	b.WriteString("## 2. Scope\n\n### In scope\n\n- packages and files touched\n\n### Out of scope\n\n- what this milestone must not touch (later milestones)\n\n")

	b.WriteString("## 3. Invariants\n\nThese must not change. `sdapi-milestone audit " + id + "` checks each one from the recorded runs\n(`invariants` in milestones/gates.yaml):\n\n")
	if len(g.Invariants) == 0 {
		b.WriteString("- (none configured in gates.yaml)\n")
	}
	for _, inv := range g.Invariants {
		fmt.Fprintf(&b, "- %s: %s\n", inv.Name, invariantRule(inv, g))
	}
	b.WriteString("\n")

	b.WriteString("## 4. Verification plan\n\n")
	b.WriteString("Tests (new or changed), and the signals every run must give (gates in milestones/gates.yaml):\n\n")
	for _, line := range gateRules(g) {
		fmt.Fprintf(&b, "- %s\n", line)
	}
	b.WriteString("\nEvidence, produced by the tool from real runs:\n\n```sh\n")
	b.WriteString("go test -count=1 -coverprofile=out/gate/cover.out ./...        # unit tests with coverage\n")
	b.WriteString("go test -count=1 ./conformance/... -args -report-dir=$PWD/out/gate/conform   # reference server\n")
	fmt.Fprintf(&b, "sdapi-milestone record %s --conformance out/gate/conform/report.json --coverage out/gate/cover.out [--bench bench.txt]\n", id)
	fmt.Fprintf(&b, "sdapi-milestone gate %s && sdapi-milestone summary %s && sdapi-milestone audit %s\n", id, id, id)
	b.WriteString("```\n\n")

	b.WriteString("## 5. Implementation steps\n\nSmall, reversible steps; each leaves the gates green.\n\n1. \n\n")
	b.WriteString("## 6. Risk and rollback\n\nRisk level: \n\n| risk | mitigation |\n|---|---|\n| | |\n\nRollback: \n\n")
	fmt.Fprintf(&b, "## 7. Deliverables\n\n- Code: \n- Tests: \n- Evidence: %s_runN.md (one per recorded run), %s_summary.md, %s_audit.md, the %s rows of milestones/ledger.md\n\n", id, id, id, id)
	b.WriteString("## 8. Acceptance criteria\n\n")
	fmt.Fprintf(&b, "- [ ] `sdapi-milestone gate %s` passes on the latest recorded run\n", id)
	fmt.Fprintf(&b, "- [ ] `sdapi-milestone audit %s` shows every invariant holding\n", id)
	b.WriteString("- [ ] \n")
	return b.String()
}

func invariantRule(inv Invariant, g Gates) string {
	var parts []string
	if len(inv.NoRegressionIn) > 0 {
		parts = append(parts, "no check labelled "+strings.Join(inv.NoRegressionIn, ", ")+" fails or regresses")
	}
	if len(inv.MustPass) > 0 {
		parts = append(parts, "checks labelled "+strings.Join(inv.MustPass, ", ")+" run and pass")
	}
	if inv.CoverageFloor {
		parts = append(parts, fmt.Sprintf("statement coverage ≥ %.1f%%", g.Coverage.Min))
	}
	return strings.Join(parts, "; ")
}

func gateRules(g Gates) []string {
	var out []string
	if g.Coverage.Min > 0 {
		out = append(out, fmt.Sprintf("coverage: total statement coverage ≥ %.1f%%", g.Coverage.Min))
	}
	for _, l := range g.RequiredLabels {
		out = append(out, "label "+l+": every conformance check labelled "+l+" passes")
	}
	if g.MaxFailures != nil {
		out = append(out, fmt.Sprintf("max failures: at most %d failed conformance checks", *g.MaxFailures))
	}
	if g.NoRegression {
		out = append(out, "no regression: nothing that passed in the previous recorded run against the same target fails")
	}
	if len(out) == 0 {
		out = append(out, "(no gates configured)")
	}
	return out
}
