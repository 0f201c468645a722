package conformance

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Expectation is what a profile claims about one requirement before any
// run. A claim is checked when the suite runs (claims.go): only an
// observed claim turns a check into a skip.
type Expectation string

const (
	ExpectPass          Expectation = "pass"
	ExpectReferenceOnly Expectation = "reference server only"
	ExpectNotApplicable Expectation = "claimed not applicable"
	ExpectDivergence    Expectation = "claimed divergence"
)

// Expect says what profile p claims about r, with the claim's reason. It
// follows runUnderProfile's order.
func (p Profile) Expect(r Requirement) (Expectation, string) {
	if r.ReferenceOnly && p.Name != "reference" {
		return ExpectReferenceOnly, "reference server only"
	}
	if c, _, ok := p.notApplicable(r); ok {
		return ExpectNotApplicable, c.Why
	}
	if c, ok := p.Divergences[r.ID]; ok {
		return ExpectDivergence, c.Why
	}
	return ExpectPass, ""
}

// CompatibilityTable is the summary table of what each profile claims:
// how many requirements carry no claim, how many are claimed not
// applicable or divergent, and how many routes are claimed missing.
func CompatibilityTable() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| profile | server | requirements without a claim (of %d) | claimed not applicable | claimed divergences | routes claimed missing (of %d) |\n", len(Requirements), len(contractRoutes))
	b.WriteString("|---|---|---:|---:|---:|---:|\n")
	for _, name := range ProfileNames() {
		p := Profiles[name]
		var pass, na, div int
		for _, r := range Requirements {
			switch e, _ := p.Expect(r); e {
			case ExpectPass:
				pass++
			case ExpectNotApplicable:
				na++
			case ExpectDivergence:
				div++
			}
		}
		fmt.Fprintf(&b, "| `%s` | %s | %d | %d | %d | %d |\n", name, p.Description, pass, na, div, len(p.MissingRoutes))
	}
	return b.String()
}

// ProfileListing is what `sdapi-conform --profiles` prints and the README
// embeds: the summary table, then per profile every claim with the
// requirements it covers and the symptom the harness expects to observe
// before it believes the claim.
func ProfileListing() string {
	var b strings.Builder
	b.WriteString(CompatibilityTable())
	for _, name := range ProfileNames() {
		p := Profiles[name]
		fmt.Fprintf(&b, "\n### `%s`\n\n", name)
		type row struct{ key, kind, why, symptom string }
		var rows []row
		for key, c := range p.NotApplicable {
			rows = append(rows, row{claimKeyText(key), string(KindNotApplicable), c.Why, c.Expected()})
		}
		for key, c := range p.Divergences {
			rows = append(rows, row{key, string(KindDivergence), c.Why, c.Expected()})
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i].key < rows[j].key })
		if len(rows) == 0 {
			b.WriteString("No divergence or not-applicable claims: every check must pass.\n")
		} else {
			b.WriteString("| requirement | claim | why | expected symptom |\n|---|---|---|---|\n")
			for _, r := range rows {
				fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.key, r.kind, mdCell(r.why), mdCell(r.symptom))
			}
		}
		if len(p.MissingRoutes) > 0 {
			routes := make([]string, 0, len(p.MissingRoutes))
			for r := range p.MissingRoutes {
				routes = append(routes, "`"+r+"`")
			}
			slices.Sort(routes)
			fmt.Fprintf(&b, "\nRoutes claimed missing (expected symptom: the route answers 404 or 405): %s.\n", strings.Join(routes, ", "))
		}
	}
	return b.String()
}

// claimKeyText names a not-applicable key; a label lists the requirements
// it covers.
func claimKeyText(key string) string {
	if _, ok := requirementIndex[key]; ok {
		return key
	}
	var ids []string
	for _, r := range Requirements {
		if slices.Contains(r.Labels, key) {
			ids = append(ids, r.ID)
		}
	}
	return fmt.Sprintf("label `%s` (%s)", key, strings.Join(ids, ", "))
}

func mdCell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}
