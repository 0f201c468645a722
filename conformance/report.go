package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
)

// Counts are the It-level outcomes of a report.
type Counts struct{ Passed, Failed, Skipped int }

// CountSpecs tallies the report's Its: failed covers failures, panics,
// timeouts, interrupts and aborts; skipped covers skips, pending specs and
// specs left out by the label filter.
func CountSpecs(r types.Report) Counts {
	var c Counts
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			if s.State.Is(types.SpecStateFailureStates) {
				c.Failed++ // a failed BeforeSuite fails the run
			}
			continue
		}
		switch {
		case s.State == types.SpecStatePassed:
			c.Passed++
		case s.State.Is(types.SpecStateFailureStates):
			c.Failed++
		default:
			c.Skipped++
		}
	}
	return c
}

// requirementOf reads the requirement ID label of a spec.
func requirementOf(s types.SpecReport) string {
	for _, l := range s.Labels() {
		if _, ok := requirementIndex[l]; ok {
			return l
		}
	}
	return ""
}

// writeReports is the run's ReportAfterSuite (on process 1 under
// ginkgo -p, with the whole run's report): it merges the checks' ledger
// entries and writes the configured report files.
func (suite *Suite) writeReports(r Report) {
	suite.report = &r
	seen, err := mergeLedger(r)
	suite.seen = seen
	var errs []string
	if err != nil {
		errs = append(errs, err.Error())
	}
	cfg := suite.cfg
	if cfg.JUnitReport != "" {
		if err := reporters.GenerateJUnitReportWithConfig(r, cfg.JUnitReport, reporters.JunitReportConfig{
			OmitTimelinesForSpecState: types.SpecStatePassed, OmitLeafNodeType: true,
		}); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if cfg.JSONReport != "" {
		if err := reporters.GenerateJSONReport(r, cfg.JSONReport); err != nil {
			errs = append(errs, err.Error())
		}
	}
	evidence := seen.Images
	if cfg.EvidenceDir != "" && len(evidence) > 0 {
		sheet, err := writeContactSheet(cfg.EvidenceDir, evidence)
		if err != nil {
			errs = append(errs, err.Error())
		} else {
			evidence = append(slices.Clip(evidence), sheet)
		}
	}
	if cfg.MarkdownReport != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.MarkdownReport), 0o755); err == nil {
			err = os.WriteFile(cfg.MarkdownReport, []byte(suite.markdown(r, seen, evidence)), 0o644)
			if err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	if len(errs) > 0 {
		Fail("writing the reports: " + strings.Join(errs, "; "))
	}
}

// markdown renders the report: identity, compatibility summary, operation
// coverage, results per label and per spec, figures and evidence. seen is
// the run's merged ledger.
func (suite *Suite) markdown(r types.Report, seen *ledgerEntry, evidence []string) string {
	var b strings.Builder
	c := CountSpecs(r)
	verdict := "PASS"
	if !r.SuiteSucceeded || c.Failed > 0 {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "# sdapi conformance report: %s\n\n", verdict)
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, strings.ReplaceAll(v, "|", `\|`)) }
	cfg := suite.cfg
	row("target", "`"+cfg.Target+"`")
	if cfg.Identity != "" {
		row("identity", cfg.Identity)
	}
	if suite.spec != nil { // BeforeSuite ran
		row("profile", fmt.Sprintf("`%s`: %s", suite.profile.Name, suite.profile.Description))
		row("info.version", cmpStr(seen.Version, "(no generation seen)"))
		row("cmd-flags", flagSummary(suite.flags))
		row("spec", fmt.Sprintf("%s, sha256 `%s`", suite.spec.Source, suite.spec.SHA256))
	}
	row("label filter", cmpStr(cfg.LabelFilter, "(none)"))
	row("started", r.StartTime.UTC().Format(time.RFC3339))
	row("duration", r.RunTime.Round(time.Millisecond).String())
	row("result", fmt.Sprintf("%d passed, %d failed, %d skipped", c.Passed, c.Failed, c.Skipped))
	b.WriteString("\n")

	routes := routeObservations(suite.profile, seen.Routes)
	if suite.spec != nil {
		writeCoverage(&b, suite.spec, seen, routes)
	}
	writeClaims(&b, seen.Claims, routes)
	writeLabels(&b, r)
	if len(seen.Figures) > 0 {
		b.WriteString("## Determinism and timing figures\n\n| requirement | measurement | value |\n|---|---|---|\n")
		for _, f := range seen.Figures {
			fmt.Fprintf(&b, "| %s | %s | %v |\n", f.ID, f.Name, f.Value)
		}
		b.WriteString("\n")
	}
	writeSpecs(&b, r)
	if len(evidence) > 0 {
		b.WriteString("## Evidence\n\n![contact sheet](contact-sheet.png)\n\n")
		for _, f := range evidence {
			fmt.Fprintf(&b, "- `%s`\n", f)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func cmpStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func flagSummary(flags map[string]any) string {
	if flags == nil {
		return "(not served)"
	}
	var parts []string
	for _, k := range []string{"port", "listen", "api_auth", "data_dir", "ckpt_dir", "nowebui", "api"} {
		if v, ok := flags[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	return fmt.Sprintf("%d flags (%s)", len(flags), strings.Join(parts, ", "))
}

func writeCoverage(b *strings.Builder, spec *Spec, seen *ledgerEntry, routes []RouteObservation) {
	ops := spec.Operations()
	exercised := 0
	var present, missing, notImpl, divergent []string
	type line struct{ op, status, why string }
	var rows []line
	for _, op := range ops {
		rec := seen.Ops[op.ID]
		name := op.Method + " " + op.Path
		statuses := "not called"
		if rec != nil {
			var parts []string
			codes := make([]int, 0, len(rec.Statuses))
			for code := range rec.Statuses {
				codes = append(codes, code)
			}
			sort.Ints(codes)
			for _, code := range codes {
				parts = append(parts, fmt.Sprintf("%d×%d", code, rec.Statuses[code]))
			}
			statuses = fmt.Sprintf("%d calls: %s; %s", rec.Calls, strings.Join(parts, " "), (rec.Total / time.Duration(max(rec.Calls, 1))).Round(time.Millisecond))
		}
		why := seen.Coverage[op.ID]
		switch {
		case rec != nil && rec.Exercised:
			exercised++
			present = append(present, name)
			why = "exercised"
		case rec != nil && rec.Statuses[404] > 0 && rec.Statuses[404] == rec.Calls:
			missing = append(missing, name)
		case rec != nil && rec.Statuses[501] > 0:
			notImpl = append(notImpl, name)
		}
		if rec != nil && len(rec.Violations) > 0 {
			divergent = append(divergent, name)
			why += "; violations: " + strings.Join(rec.Violations, " / ")
		}
		if why == "" {
			why = "no valid request answered 2xx"
		}
		rows = append(rows, line{name, statuses, why})
	}
	fmt.Fprintf(b, "## Compatibility summary\n\n")
	fmt.Fprintf(b, "- **%d of %d operations exercised** with a valid request answered 2xx and matching the spec.\n", exercised, len(ops))
	fmt.Fprintf(b, "- Routes present: %d. Missing (404): %d%s. Not implemented (501): %d%s.\n",
		len(present), len(missing), listOrNone(missing), len(notImpl), listOrNone(notImpl))
	fmt.Fprintf(b, "- Divergent (responses that break the spec): %d%s.\n", len(divergent), listOrNone(divergent))
	writeClaimSummary(b, seen.Claims, routes)
	fmt.Fprintf(b, "- Off-spec probes (unknown paths, wrong methods, /internal/*): %d.\n\n", seen.OffSpec)
	b.WriteString("## Operations\n\n| operation | statuses (mean time) | exercised / why not |\n|---|---|---|\n")
	for _, l := range rows {
		fmt.Fprintf(b, "| `%s` | %s | %s |\n", l.op, l.status, strings.ReplaceAll(l.why, "|", `\|`))
	}
	b.WriteString("\n")
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return " (" + strings.Join(xs, ", ") + ")"
}

func writeLabels(b *strings.Builder, r types.Report) {
	type tally struct{ passed, failed, skipped int }
	byLabel := map[string]*tally{}
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		for _, l := range s.Labels() {
			if !slices.Contains(Vocabulary, l) {
				continue
			}
			t := byLabel[l]
			if t == nil {
				t = &tally{}
				byLabel[l] = t
			}
			switch {
			case s.State == types.SpecStatePassed:
				t.passed++
			case s.State.Is(types.SpecStateFailureStates):
				t.failed++
			default:
				t.skipped++
			}
		}
	}
	b.WriteString("## Results per label\n\n| label | passed | failed | skipped |\n|---|---|---|---|\n")
	for _, l := range Vocabulary {
		if t := byLabel[l]; t != nil {
			fmt.Fprintf(b, "| %s | %d | %d | %d |\n", l, t.passed, t.failed, t.skipped)
		}
	}
	b.WriteString("\n")
}

func writeSpecs(b *strings.Builder, r types.Report) {
	b.WriteString("## Specs\n\n| requirement | spec | labels | state | time | failure or skip reason |\n|---|---|---|---|---|---|\n")
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		var labels []string
		for _, l := range s.Labels() {
			if slices.Contains(Vocabulary, l) {
				labels = append(labels, l)
			}
		}
		msg := strings.Join(strings.Fields(firstLines(s.Failure.Message, 3)), " ")
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", requirementOf(s), strings.ReplaceAll(s.LeafNodeText, "|", `\|`),
			strings.Join(labels, ", "), s.State, s.RunTime.Round(time.Millisecond), strings.ReplaceAll(msg, "|", `\|`))
	}
	b.WriteString("\n## Requirements\n\n| ID | MUST | A1111 |\n|---|---|---|\n")
	for _, q := range Requirements {
		must := q.Must
		if q.ReferenceOnly {
			must += " *(reference profile only)*"
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", q.ID, strings.ReplaceAll(must, "|", `\|`), strings.ReplaceAll(q.A1111, "|", `\|`))
	}
	b.WriteString("\n")
}

// writeClaimSummary counts the profile's claims by outcome for the
// compatibility summary.
func writeClaimSummary(b *strings.Builder, claims []ClaimResult, routes []RouteObservation) {
	counts := map[Outcome]int{}
	for _, c := range claims {
		counts[c.Outcome]++
	}
	var parts []string
	for _, o := range []Outcome{DivergenceConfirmed, NotApplicableConfirmed, RouteMissingConfirmed, DivergenceNotObserved, AppliesAfterAll, DifferentFailure} {
		if counts[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[o], o))
		}
	}
	present := 0
	for _, r := range routes {
		if r.Present() {
			present++
		}
	}
	if present > 0 {
		parts = append(parts, fmt.Sprintf("%d route(s) claimed missing but present", present))
	}
	if len(parts) == 0 {
		parts = append(parts, "none judged")
	}
	fmt.Fprintf(b, "- Profile claims (checked, not believed): %s.\n", strings.Join(parts, ", "))
}

// writeClaims lists every judged claim of the profile and what the run saw
// of the routes it claims missing. Only the confirmed outcomes are skips.
func writeClaims(b *strings.Builder, claims []ClaimResult, routes []RouteObservation) {
	if len(claims) == 0 && len(routes) == 0 {
		return
	}
	b.WriteString("## Profile claims\n\n")
	if len(claims) > 0 {
		b.WriteString("| requirement | spec | claim | outcome | why | expected symptom | observed |\n|---|---|---|---|---|---|---|\n")
		for _, c := range claims {
			observed := strings.Join(strings.Fields(c.Observed), " ")
			if observed == "" {
				observed = "the check passed"
			}
			fmt.Fprintf(b, "| %s | %s | %s %s | **%s** | %s | %s | %s |\n", c.Requirement, mdCell(c.Spec), c.Kind, mdCell(c.Key),
				c.Outcome, mdCell(c.Why), mdCell(c.Expected), mdCell(truncate(observed, 300)))
		}
		b.WriteString("\n")
	}
	if len(routes) > 0 {
		b.WriteString("| route claimed missing | observed |\n|---|---|\n")
		for _, r := range routes {
			seen := "not called"
			if len(r.Statuses) > 0 {
				codes := make([]int, 0, len(r.Statuses))
				for code := range r.Statuses {
					codes = append(codes, code)
				}
				sort.Ints(codes)
				var parts []string
				for _, code := range codes {
					parts = append(parts, fmt.Sprintf("%d×%d", code, r.Statuses[code]))
				}
				seen = "answered " + strings.Join(parts, " ")
				if r.Present() {
					seen = "**present after all**: " + seen
				} else {
					seen = "missing (confirmed): " + seen
				}
			}
			fmt.Fprintf(b, "| `%s` | %s |\n", r.Route, seen)
		}
		b.WriteString("\n")
	}
}
