package conformance

import (
	"fmt"
	"strings"
)

// Expectation is what a profile expects of one requirement before any run.
type Expectation string

const (
	ExpectPass          Expectation = "pass"
	ExpectNotApplicable Expectation = "not applicable"
	ExpectDivergence    Expectation = "documented divergence"
)

// Expect says how the suite judges r under profile p: skipped as not
// applicable, run with a documented divergence (a failure is reported as
// that divergence), or run and expected to pass. It follows
// runRequirement's order.
func (p Profile) Expect(r Requirement) (Expectation, string) {
	if r.ReferenceOnly && p.Name != "reference" {
		return ExpectNotApplicable, "reference server only"
	}
	if why := p.notApplicable(r); why != "" {
		return ExpectNotApplicable, why
	}
	if div := p.Divergences[r.ID]; div != "" {
		return ExpectDivergence, div
	}
	return ExpectPass, ""
}

// CompatibilityTable is the markdown table of what the harness expects of
// each server profile: how many checks must pass, how many do not apply,
// which run with a documented divergence, and the routes the server family
// lacks. `sdapi-conform --profiles` prints it; the README embeds it.
func CompatibilityTable() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| profile | server | checks that must pass (of %d) | not applicable | documented divergences | routes missing (of %d) |\n", len(Requirements), len(allContractPaths))
	b.WriteString("|---|---|---:|---:|---|---:|\n")
	for _, name := range ProfileNames() {
		p := Profiles[name]
		var pass, na int
		var div []string
		for _, r := range Requirements {
			switch e, _ := p.Expect(r); e {
			case ExpectPass:
				pass++
			case ExpectNotApplicable:
				na++
			case ExpectDivergence:
				div = append(div, r.ID)
			}
		}
		divs := "none"
		if len(div) > 0 {
			divs = strings.Join(div, ", ")
		}
		fmt.Fprintf(&b, "| `%s` | %s | %d | %d | %s | %d |\n", name, p.Description, pass, na, divs, len(p.MissingRoutes))
	}
	return b.String()
}
