package milestones

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// AuditResult is a milestone judged from its recorded runs.
type AuditResult struct {
	ID, Title string
	Runs      []*Run
	// Latest is the milestone's last run, judged by the current gates
	// (nil when it has none).
	Latest *Run
	// Baseline is the last run of an earlier milestone against the same
	// target as Latest (nil when there is none).
	Baseline   *Run
	Invariants []Verdict
}

// Score is "passed/total" over the invariants and the latest gates.
func (a *AuditResult) Score() string {
	vs := append(append([]Verdict(nil), a.Invariants...), a.latestVerdicts()...)
	return fmt.Sprintf("%d/%d", len(vs)-len(Broken(vs)), len(vs))
}

func (a *AuditResult) latestVerdicts() []Verdict {
	if a.Latest == nil {
		return nil
	}
	return a.Latest.Verdicts
}

// audit judges milestone id from all (every recorded run).
func (s Store) audit(id string, gates Gates, all []*Run) (*AuditResult, error) {
	title, err := s.Title(id)
	if err != nil {
		return nil, err
	}
	a := &AuditResult{ID: id, Title: title}
	for _, r := range all {
		if r.Milestone == id {
			a.Runs = append(a.Runs, r)
		}
	}
	if len(a.Runs) == 0 {
		return a, nil
	}
	latest := *a.Runs[len(a.Runs)-1] // judged anew; the stored record keeps its verdicts
	s.judge(&latest, all, gates)
	a.Latest = &latest
	a.Baseline = baselineRun(all, a.Runs[0], latest.Conformance.Target.Key())
	for _, inv := range gates.Invariants {
		a.Invariants = append(a.Invariants, checkInvariant(inv, gates, a.Latest, a.Baseline))
	}
	return a, nil
}

// baselineRun is the last run before first (so of an earlier milestone)
// against the target key.
func baselineRun(all []*Run, first *Run, key string) *Run {
	var base *Run
	for _, r := range all {
		if runBefore(r, first) && r.Conformance.Target.Key() == key {
			base = r
		}
	}
	return base
}

func checkInvariant(inv Invariant, g Gates, run, base *Run) Verdict {
	var parts []Verdict
	if len(inv.NoRegressionIn) > 0 {
		lv := labelVerdict("", run.Conformance.Checks, inv.NoRegressionIn)
		if base != nil {
			rv := regressionVerdict("", run, base, inv.NoRegressionIn)
			if rv.Status == Fail {
				lv = rv
			} else if lv.Status == Pass {
				lv.Detail += "; " + rv.Detail
			}
		} else if lv.Status == Pass {
			lv.Detail += "; no earlier milestone on this target: this run is the baseline"
		}
		parts = append(parts, lv)
	}
	if len(inv.MustPass) > 0 {
		parts = append(parts, labelVerdict("", run.Conformance.Checks, inv.MustPass))
	}
	if inv.CoverageFloor {
		parts = append(parts, g.coverageVerdict("", run))
	}
	v := Verdict{Name: inv.Name, Status: Pass}
	var details []string
	for _, p := range parts {
		details = append(details, p.Detail)
		switch {
		case p.Status == Fail:
			v.Status = Fail
		case p.Status == NotVerified && v.Status == Pass:
			v.Status = NotVerified
		}
	}
	v.Detail = strings.Join(details, "; ")
	return v
}

// Audit judges milestone id and writes ID_audit.md (and refreshes the
// ledger, whose milestone rows carry the audit score).
func (s Store) Audit(id string, gates Gates) (*AuditResult, string, error) {
	all, err := s.AllRuns()
	if err != nil {
		return nil, "", err
	}
	a, err := s.audit(id, gates, all)
	if err != nil {
		return nil, "", err
	}
	if a.Latest == nil {
		return nil, "", fmt.Errorf("%s has no recorded run to audit", id)
	}
	_, summaryErr := os.Stat(filepath.Join(s.milestoneDir(id), id+"_summary.md"))
	file := filepath.Join(s.milestoneDir(id), id+"_audit.md")
	if err := writeIfChanged(file, []byte(RenderAudit(a, summaryErr == nil))); err != nil {
		return nil, "", err
	}
	if _, err := s.updateLedger(gates); err != nil {
		return nil, "", err
	}
	return a, file, nil
}

// Summary writes ID_summary.md: the milestone's runs, what changed since
// the previous milestone, and the invariant checks.
func (s Store) Summary(id string, gates Gates) (string, error) {
	all, err := s.AllRuns()
	if err != nil {
		return "", err
	}
	a, err := s.audit(id, gates, all)
	if err != nil {
		return "", err
	}
	if a.Latest == nil {
		return "", fmt.Errorf("%s has no recorded run to summarise", id)
	}
	file := filepath.Join(s.milestoneDir(id), id+"_summary.md")
	return file, writeIfChanged(file, []byte(RenderSummary(a)))
}

// RenderSummary renders ID_summary.md.
func RenderSummary(a *AuditResult) string {
	var b strings.Builder
	r, base := a.Latest, a.Baseline
	fmt.Fprintf(&b, "# %s summary: %s\n\n", a.ID, a.Title)
	b.WriteString("Written by `sdapi-milestone summary` from the recorded runs; do not edit.\n\n| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| latest run | %s |\n", runLink(r, a.ID))
	fmt.Fprintf(&b, "| baseline | %s |\n", baselineText(base, a.ID))
	fmt.Fprintf(&b, "| result | %s |\n", r.Conformance.Counts())
	fmt.Fprintf(&b, "| coverage | %s |\n", coverageDelta(base, r))
	fmt.Fprintf(&b, "| gates | %s |\n", cell(gateLine(r.Verdicts)))
	fmt.Fprintf(&b, "| invariants | %s |\n\n", cell(gateLine(a.Invariants)))

	fmt.Fprintf(&b, "## Runs of %s\n\n| run | date | commit | CI run | result | coverage | gates |\n|---|---|---|---|---|---|---|\n", a.ID)
	for _, x := range a.Runs {
		cov := "—"
		if x.Coverage != nil {
			cov = fmt.Sprintf("%.1f%%", x.Coverage.Percent())
		}
		fmt.Fprintf(&b, "| [run %d](%s.md) | %s | %s | %s | %s | %s | %s |\n", x.N, x.BaseName(), x.Date.UTC().Format("2006-01-02 15:04Z"),
			shortCommit(x.Env), orDash(x.Env.CIRunID), x.Conformance.Counts(), cov, strings.ToLower(verdictWord(x.Verdicts)))
	}
	b.WriteString("\n")

	if base == nil {
		b.WriteString("## Changes since the previous milestone\n\nNo earlier milestone has a run against this target: this milestone is the baseline.\n\n")
	} else {
		fmt.Fprintf(&b, "## Changes since the previous milestone (%s)\n\n", base.Ref())
		writeRequirementChanges(&b, base, r)
		writeCoverageChanges(&b, base, r)
		writeBenchChanges(&b, base, r)
	}
	b.WriteString("## Invariants\n\n")
	writeVerdicts(&b, a.Invariants, "invariant")
	return b.String()
}

func gateLine(vs []Verdict) string {
	if len(vs) == 0 {
		return "(none)"
	}
	broken := Broken(vs)
	if len(broken) == 0 {
		return fmt.Sprintf("all %d pass", len(vs))
	}
	names := make([]string, len(broken))
	for i, v := range broken {
		names[i] = v.Name + " (" + string(v.Status) + ")"
	}
	return fmt.Sprintf("%d of %d pass; not passing: %s", len(vs)-len(broken), len(vs), strings.Join(names, ", "))
}

func runLink(r *Run, from string) string {
	return fmt.Sprintf("[%s](%s) at %s, commit %s", r.Ref(), relRunPath(r, from), r.Date.UTC().Format("2006-01-02 15:04Z"), shortCommit(r.Env))
}

func relRunPath(r *Run, from string) string {
	if r.Milestone == from {
		return r.BaseName() + ".md"
	}
	return "../" + r.Milestone + "/" + r.BaseName() + ".md"
}

func baselineText(base *Run, from string) string {
	if base == nil {
		return "(none: no earlier milestone has a run against this target)"
	}
	return runLink(base, from) + ", the last run of an earlier milestone against the same target"
}

func coverageDelta(base, r *Run) string {
	now := coverageText(r.Coverage)
	if base == nil || base.Coverage == nil || r.Coverage == nil {
		return now
	}
	return fmt.Sprintf("%s; %+.1f points since %s (%.1f%%)", now, r.Coverage.Percent()-base.Coverage.Percent(), base.Ref(), base.Coverage.Percent())
}

// RequirementChange is one requirement whose state differs between runs.
type RequirementChange struct {
	ID            string
	Before, After State // "" when the requirement was not in that run
}

// CompareRequirements lists the requirements whose aggregate state
// changed from before to after, sorted by ID.
func CompareRequirements(before, after Conformance) []RequirementChange {
	b, a := RequirementStates(before), RequirementStates(after)
	var out []RequirementChange
	for id, s := range a {
		if b[id] != s {
			out = append(out, RequirementChange{ID: id, Before: b[id], After: s})
		}
	}
	for id, s := range b {
		if _, ok := a[id]; !ok {
			out = append(out, RequirementChange{ID: id, Before: s})
		}
	}
	sort.Slice(out, func(i, j int) bool { return naturalLess(out[i].ID, out[j].ID) })
	return out
}

func writeRequirementChanges(b *strings.Builder, base, r *Run) {
	changes := CompareRequirements(base.Conformance, r.Conformance)
	groups := []struct {
		title string
		match func(RequirementChange) bool
	}{
		{"Requirements newly failing", func(c RequirementChange) bool { return c.After == Failed }},
		{"Requirements fixed (failed before, pass now)", func(c RequirementChange) bool { return c.Before == Failed && c.After == Passed }},
		{"Newly verified (skipped or absent before, pass now)", func(c RequirementChange) bool { return c.Before != Failed && c.After == Passed }},
		{"No longer verified (passed or failed before, skipped or absent now)", func(c RequirementChange) bool {
			return c.Before != Skipped && c.Before != "" && (c.After == Skipped || c.After == "")
		}},
	}
	for _, g := range groups {
		var ids []string
		for _, c := range changes {
			if g.match(c) {
				ids = append(ids, fmt.Sprintf("%s (%s → %s)", c.ID, cmpOr(string(c.Before), "absent"), cmpOr(string(c.After), "absent")))
			}
		}
		fmt.Fprintf(b, "### %s\n\n", g.title)
		if len(ids) == 0 {
			b.WriteString("None.\n\n")
			continue
		}
		for _, id := range ids {
			fmt.Fprintf(b, "- %s\n", id)
		}
		b.WriteString("\n")
	}
}

func writeCoverageChanges(b *strings.Builder, base, r *Run) {
	b.WriteString("### Coverage\n\n")
	if base.Coverage == nil || r.Coverage == nil {
		b.WriteString("Not comparable: a cover profile is missing from one of the runs.\n\n")
		return
	}
	before := map[string]PackageCoverage{}
	for _, p := range base.Coverage.Packages {
		before[p.Path] = p
	}
	b.WriteString("| package | before | after | Δ points |\n|---|---:|---:|---:|\n")
	fmt.Fprintf(b, "| **total** | %.1f%% | %.1f%% | %+.1f |\n", base.Coverage.Percent(), r.Coverage.Percent(), r.Coverage.Percent()-base.Coverage.Percent())
	seen := map[string]bool{}
	for _, p := range r.Coverage.Packages {
		seen[p.Path] = true
		old, ok := before[p.Path]
		switch {
		case !ok:
			fmt.Fprintf(b, "| `%s` | — | %.1f%% | new |\n", p.Path, p.Percent())
		case old.Covered != p.Covered || old.Statements != p.Statements:
			fmt.Fprintf(b, "| `%s` | %.1f%% | %.1f%% | %+.1f |\n", p.Path, old.Percent(), p.Percent(), p.Percent()-old.Percent())
		}
	}
	for _, p := range base.Coverage.Packages {
		if !seen[p.Path] {
			fmt.Fprintf(b, "| `%s` | %.1f%% | — | gone |\n", p.Path, p.Percent())
		}
	}
	b.WriteString("\n")
}

func writeBenchChanges(b *strings.Builder, base, r *Run) {
	b.WriteString("### Benchmarks\n\n")
	before := map[string]Benchmark{}
	for _, bm := range base.Benchmarks {
		before[bm.Key()] = bm
	}
	var lines []string
	for _, bm := range r.Benchmarks {
		old, ok := before[bm.Key()]
		if !ok {
			continue
		}
		for _, m := range bm.Metrics {
			v, ok := old.Metric(m.Unit)
			if !ok {
				continue
			}
			delta := "—"
			if v != 0 {
				delta = fmt.Sprintf("%+.1f%%", 100*(m.Value-v)/v)
			}
			lines = append(lines, fmt.Sprintf("| `%s` | %s | %s | %s | %s |", bm.Key(), m.Unit, formatFloat(v), formatFloat(m.Value), delta))
		}
	}
	if len(lines) == 0 {
		b.WriteString("No benchmark was recorded in both runs.\n\n")
		return
	}
	b.WriteString("| benchmark | unit | before | after | Δ |\n|---|---|---:|---:|---:|\n")
	b.WriteString(strings.Join(lines, "\n") + "\n\n")
}

// RenderAudit renders ID_audit.md.
func RenderAudit(a *AuditResult, haveSummary bool) string {
	var b strings.Builder
	r := a.Latest
	fmt.Fprintf(&b, "# %s audit: %s\n\n", a.ID, a.Title)
	b.WriteString("Written by `sdapi-milestone audit` from the recorded runs and milestones/gates.yaml; do not edit.\n\n| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| latest run | %s |\n", runLink(r, a.ID))
	fmt.Fprintf(&b, "| baseline | %s |\n", baselineText(a.Baseline, a.ID))
	fmt.Fprintf(&b, "| target | %s |\n", cell(r.Conformance.Target.Key()))
	fmt.Fprintf(&b, "| score | **%s** (invariants and gates passing) |\n\n", a.Score())
	b.WriteString("## Invariants\n\n")
	writeVerdicts(&b, a.Invariants, "invariant")
	b.WriteString("## Gates on the latest run\n\n")
	writeVerdicts(&b, r.Verdicts, "gate")

	b.WriteString("## Evidence\n\n| item | state |\n|---|---|\n")
	fmt.Fprintf(&b, "| plan | [%s_plan.md](%s_plan.md) |\n", a.ID, a.ID)
	var links []string
	clean, ci := 0, 0
	for _, x := range a.Runs {
		links = append(links, fmt.Sprintf("[run %d](%s.md)", x.N, x.BaseName()))
		if x.Env.Commit != "" && !x.Env.Dirty {
			clean++
		}
		if x.Env.CIRunID != "" {
			ci++
		}
	}
	fmt.Fprintf(&b, "| run records | %d: %s |\n", len(a.Runs), strings.Join(links, ", "))
	fmt.Fprintf(&b, "| runs of a clean commit | %d of %d |\n", clean, len(a.Runs))
	fmt.Fprintf(&b, "| runs from CI | %d of %d |\n", ci, len(a.Runs))
	fmt.Fprintf(&b, "| coverage profile in latest run | %s |\n", yesNo(r.Coverage != nil))
	fmt.Fprintf(&b, "| benchmarks in latest run | %d |\n", len(r.Benchmarks))
	if haveSummary {
		fmt.Fprintf(&b, "| summary | [%s_summary.md](%s_summary.md) |\n\n", a.ID, a.ID)
	} else {
		fmt.Fprintf(&b, "| summary | missing (sdapi-milestone summary %s) |\n\n", a.ID)
	}
	writeSkips(&b, r.Conformance)
	return b.String()
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}
