package milestones

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Recorded is what Record did.
type Recorded struct {
	Run *Run
	// New is false when the run was already recorded (same identity): its
	// record was rewritten in place, and unchanged inputs change nothing.
	New bool
	// Files are the files written or confirmed (record, data, ledger).
	Files []string
}

// Record writes the run of in as the next run of milestone id (or over the
// run with the same identity), judges it by gates against the previous
// recorded run on the same target, and updates the ledger.
func (s Store) Record(id string, in Inputs, gates Gates) (Recorded, error) {
	if err := CheckID(id); err != nil {
		return Recorded{}, err
	}
	title, err := s.Title(id)
	if err != nil {
		return Recorded{}, err
	}
	runs, err := s.Runs(id)
	if err != nil {
		return Recorded{}, err
	}
	run := NewRun(id, in)
	res := Recorded{Run: run, New: true}
	for _, r := range runs {
		if r.Identity == run.Identity {
			run.N, res.New = r.N, false
		}
	}
	if run.N == 0 {
		run.N = 1
		if len(runs) > 0 {
			run.N = runs[len(runs)-1].N + 1
		}
	}
	all, err := s.AllRuns()
	if err != nil {
		return Recorded{}, err
	}
	s.judge(run, all, gates)

	data, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return Recorded{}, err
	}
	base := filepath.Join(s.milestoneDir(id), run.BaseName())
	if err := writeIfChanged(base+".json", append(data, '\n')); err != nil {
		return Recorded{}, err
	}
	if err := writeIfChanged(base+".md", []byte(RenderRun(run, title))); err != nil {
		return Recorded{}, err
	}
	res.Files = append(res.Files, base+".md", base+".json")
	ledger, err := s.updateLedger(gates)
	if err != nil {
		return Recorded{}, err
	}
	res.Files = append(res.Files, ledger)
	return res, nil
}

// judge sets run's Previous and Verdicts.
func (s Store) judge(run *Run, all []*Run, gates Gates) {
	prev := previousRun(all, run)
	run.Previous = ""
	if prev != nil {
		run.Previous = prev.Ref()
	}
	run.Verdicts = gates.Evaluate(run, prev)
}

// Candidate judges a run that is not recorded (what `gate --conformance`
// checks in CI): it counts as the next run of id, compared with the last
// recorded run against the same target.
func (s Store) Candidate(id string, in Inputs, gates Gates) (*Run, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	if _, err := s.Title(id); err != nil {
		return nil, err
	}
	all, err := s.AllRuns()
	if err != nil {
		return nil, err
	}
	run := NewRun(id, in)
	key := run.Conformance.Target.Key()
	var prev *Run
	for _, r := range all {
		if r.Conformance.Target.Key() == key {
			prev = r // the last recorded run on this target, any milestone
		}
	}
	run.Previous = ""
	if prev != nil {
		run.Previous = prev.Ref()
	}
	run.Verdicts = gates.Evaluate(run, prev)
	return run, nil
}

// Latest judges the latest recorded run of id by the current gates.
func (s Store) Latest(id string, gates Gates) (*Run, error) {
	if _, err := s.Title(id); err != nil {
		return nil, err
	}
	runs, err := s.Runs(id)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("%s has no recorded run (sdapi-milestone record %s --conformance report.json ...)", id, id)
	}
	all, err := s.AllRuns()
	if err != nil {
		return nil, err
	}
	run := runs[len(runs)-1]
	s.judge(run, all, gates)
	return run, nil
}

// RenderRun renders the run record ID_runN.md.
func RenderRun(r *Run, title string) string {
	var b strings.Builder
	c := r.Conformance
	fmt.Fprintf(&b, "# %s run %d: %s\n\n", r.Milestone, r.N, verdictWord(r.Verdicts))
	b.WriteString("Written by `sdapi-milestone record` from the files named below; do not edit.\n\n")
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, cell(v)) }
	row("milestone", r.Milestone+": "+title)
	row("date", r.Date.UTC().Format("2006-01-02 15:04:05 UTC")+" (conformance run start)")
	row("commit", commitText(r.Env))
	row("branch", orDash(r.Env.Branch))
	row("CI run", ciText(r.Env))
	row("target", orDash(c.Target.Identity))
	row("target URL", code(c.Target.URL))
	row("profile", orDash(c.Target.Profile))
	row("spec", specText(c.Target))
	row("conformance report", fmt.Sprintf("%s, sha256 `%s`, %s", orDash(c.Suite), c.Digest, c.RunTime))
	row("label filter", cmpOr(c.LabelFilter, "(none)"))
	row("result", c.Counts().String()+suiteFailText(c))
	row("coverage", coverageText(r.Coverage))
	row("benchmarks", fmt.Sprintf("%d", len(r.Benchmarks)))
	row("compared with", cmpOr(r.Previous, "(no earlier run against this target)"))
	row("run identity", code(r.Identity))
	b.WriteString("\n")

	b.WriteString("## Gate verdicts\n\n")
	writeVerdicts(&b, r.Verdicts, "gate")

	writeLabelTable(&b, c)
	writeOperationTable(&b, c)
	writeFailures(&b, c)
	writeSkips(&b, c)
	writeRequirementTable(&b, c)
	if r.Coverage != nil {
		b.WriteString("## Coverage per package\n\n| package | statements | covered |\n|---|---:|---:|\n")
		for _, p := range r.Coverage.Packages {
			fmt.Fprintf(&b, "| `%s` | %d | %.1f%% |\n", p.Path, p.Statements, p.Percent())
		}
		fmt.Fprintf(&b, "| **total** | %d | %.1f%% |\n\n", r.Coverage.Statements, r.Coverage.Percent())
	}
	if len(r.Benchmarks) > 0 {
		b.WriteString("## Benchmarks\n\n| benchmark | runs | figures (median) |\n|---|---:|---|\n")
		for _, bm := range r.Benchmarks {
			var parts []string
			for _, m := range bm.Metrics {
				parts = append(parts, fmt.Sprintf("%s %s", formatFloat(m.Value), m.Unit))
			}
			fmt.Fprintf(&b, "| `%s` | %d | %s |\n", bm.Key(), bm.Runs, strings.Join(parts, ", "))
		}
		b.WriteString("\n")
	}
	writeLoad(&b, r.Load)
	return b.String()
}

func verdictWord(vs []Verdict) string {
	if len(Broken(vs)) > 0 {
		return "FAIL"
	}
	return "PASS"
}

func writeVerdicts(b *strings.Builder, vs []Verdict, what string) {
	if len(vs) == 0 {
		b.WriteString("No " + what + "s configured.\n\n")
		return
	}
	fmt.Fprintf(b, "| %s | verdict | detail |\n|---|---|---|\n", what)
	for _, v := range vs {
		fmt.Fprintf(b, "| %s | %s | %s |\n", cell(v.Name), statusText(v.Status), cell(v.Detail))
	}
	b.WriteString("\n")
}

func statusText(s Status) string {
	switch s {
	case Pass:
		return "✅ pass"
	case Fail:
		return "❌ FAIL"
	}
	return "⚪ " + string(s)
}

func writeLabelTable(b *strings.Builder, c Conformance) {
	byLabel := map[string]*Counts{}
	var labels []string
	for _, ch := range c.Checks {
		for _, l := range ch.Labels {
			if byLabel[l] == nil {
				byLabel[l] = &Counts{}
				labels = append(labels, l)
			}
			byLabel[l].add(ch.State)
		}
	}
	sort.Strings(labels)
	b.WriteString("## Results per label\n\n| label | passed | failed | skipped |\n|---|---:|---:|---:|\n")
	for _, l := range labels {
		n := byLabel[l]
		fmt.Fprintf(b, "| %s | %d | %d | %d |\n", l, n.Passed, n.Failed, n.Skipped)
	}
	b.WriteString("\n")
}

func writeOperationTable(b *strings.Builder, c Conformance) {
	byOp := map[string]*Counts{}
	var ops []string
	for _, ch := range c.Checks {
		if ch.Operation == "" {
			continue
		}
		if byOp[ch.Operation] == nil {
			byOp[ch.Operation] = &Counts{}
			ops = append(ops, ch.Operation)
		}
		byOp[ch.Operation].add(ch.State)
	}
	sort.Slice(ops, func(i, j int) bool {
		pi, pj := opPath(ops[i]), opPath(ops[j])
		if pi != pj {
			return pi < pj
		}
		return ops[i] < ops[j]
	})
	b.WriteString("## Results per operation\n\nChecks whose name carries `METHOD /path`.\n\n| operation | passed | failed | skipped |\n|---|---:|---:|---:|\n")
	for _, op := range ops {
		n := byOp[op]
		fmt.Fprintf(b, "| `%s` | %d | %d | %d |\n", op, n.Passed, n.Failed, n.Skipped)
	}
	b.WriteString("\n")
}

func opPath(op string) string { _, p, _ := strings.Cut(op, " "); return p }

func writeFailures(b *strings.Builder, c Conformance) {
	b.WriteString("## Failures\n\n")
	n := 0
	for _, f := range c.SuiteFailures {
		fmt.Fprintf(b, "- suite: %s\n", f)
		n++
	}
	for _, ch := range c.Checks {
		if ch.State != Failed {
			continue
		}
		n++
		state := ""
		if ch.GinkgoState != "" {
			state = " (" + ch.GinkgoState + ")"
		}
		fmt.Fprintf(b, "### %s%s\n\n", ch.Name, state)
		if ch.Message != "" {
			fmt.Fprintf(b, "```text\n%s\n```\n\n", ch.Message)
		}
		if ch.Curl != "" {
			fmt.Fprintf(b, "Reproduce with:\n\n```sh\n%s\n```\n\n", ch.Curl)
		}
	}
	if n == 0 {
		b.WriteString("None.\n\n")
	}
}

// writeSkips groups skipped checks by reason: what this run could not show.
func writeSkips(b *strings.Builder, c Conformance) {
	byReason := map[string][]string{}
	var reasons []string
	for _, ch := range c.Checks {
		if ch.State != Skipped {
			continue
		}
		reason := cmpOr(ch.Message, "(no reason given)")
		if byReason[reason] == nil {
			reasons = append(reasons, reason)
		}
		key := ch.Requirement
		if key == "" {
			key = ch.Name
		}
		if !slices.Contains(byReason[reason], key) {
			byReason[reason] = append(byReason[reason], key)
		}
	}
	if len(reasons) == 0 {
		return
	}
	b.WriteString("## Skipped checks\n\nWhat this run could not verify, by reason.\n\n| reason | requirements |\n|---|---|\n")
	for _, r := range reasons {
		fmt.Fprintf(b, "| %s | %s |\n", cell(r), strings.Join(byReason[r], ", "))
	}
	b.WriteString("\n")
}

func writeRequirementTable(b *strings.Builder, c Conformance) {
	type tally struct {
		Counts
		state State
	}
	states := RequirementStates(c)
	byReq := map[string]*tally{}
	var ids []string
	for _, ch := range c.Checks {
		if ch.Requirement == "" {
			continue
		}
		if byReq[ch.Requirement] == nil {
			byReq[ch.Requirement] = &tally{state: states[ch.Requirement]}
			ids = append(ids, ch.Requirement)
		}
		byReq[ch.Requirement].add(ch.State)
	}
	sort.Slice(ids, func(i, j int) bool { return naturalLess(ids[i], ids[j]) })
	b.WriteString("## Requirements\n\n| requirement | state | checks passed / failed / skipped |\n|---|---|---|\n")
	for _, id := range ids {
		t := byReq[id]
		fmt.Fprintf(b, "| %s | %s | %d / %d / %d |\n", id, t.state, t.Passed, t.Failed, t.Skipped)
	}
	b.WriteString("\n")
}

func commitText(e Env) string {
	if e.Commit == "" {
		return "(unknown)"
	}
	s := code(e.Commit)
	if e.Dirty {
		s += " with uncommitted changes"
	}
	return s
}

func ciText(e Env) string {
	if e.CIRunID == "" {
		return "(not a CI run)"
	}
	s := e.CIRunID
	if e.CIProvider != "" {
		s = e.CIProvider + " " + s
	}
	if e.CIRunURL != "" {
		s = fmt.Sprintf("[%s](%s)", s, e.CIRunURL)
	}
	return s
}

func specText(t Target) string {
	if t.SpecSHA256 == "" {
		return "(not recorded: no report.md next to report.json)"
	}
	return fmt.Sprintf("%s, sha256 `%s`", cmpOr(t.SpecSource, "?"), t.SpecSHA256)
}

func suiteFailText(c Conformance) string {
	if len(c.SuiteFailures) > 0 {
		return "; suite: " + strings.Join(c.SuiteFailures, ", ")
	}
	if !c.Succeeded && c.Counts().Failed == 0 {
		return "; the suite did not succeed"
	}
	return ""
}

func coverageText(c *Coverage) string {
	if c == nil {
		return "(no cover profile given)"
	}
	return fmt.Sprintf("%.1f%% of %d statements (%s mode, %d packages)", c.Percent(), c.Statements, c.Mode, len(c.Packages))
}

func formatFloat(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.4g", v)
}

func code(s string) string {
	if s == "" {
		return "—"
	}
	return "`" + s + "`"
}

func orDash(s string) string { return cmpOr(s, "—") }

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// cell makes s safe inside a markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}
