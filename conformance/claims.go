package conformance

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	. "github.com/onsi/ginkgo/v2"
)

// A profile's claims are checked, not believed: a check a claim covers
// runs anyway, and what it showed decides the outcome. Only an observed
// claim (its symptom seen) turns the check into a skip; a stale claim is
// reported and the check passes; a failure that is not the documented one
// stays a failure and carries both texts.

// ClaimKind says what a profile claims about a check.
type ClaimKind string

const (
	KindDivergence    ClaimKind = "divergence"
	KindNotApplicable ClaimKind = "not applicable"
	KindMissingRoute  ClaimKind = "missing route"
)

// Outcome is what running a claimed check showed.
type Outcome string

const (
	// DivergenceConfirmed: the check failed with the documented symptom (skipped).
	DivergenceConfirmed Outcome = "divergence confirmed"
	// DivergenceNotObserved: the check passed; the profile is stale (passed).
	DivergenceNotObserved Outcome = "divergence not observed"
	// DifferentFailure: the check failed, but not as documented (failed).
	DifferentFailure Outcome = "different failure"
	// NotApplicableConfirmed: the check failed with the symptom of the
	// missing feature (skipped).
	NotApplicableConfirmed Outcome = "not applicable (confirmed)"
	// AppliesAfterAll: a check claimed not applicable passed, or failed
	// without the claimed symptom (passed or failed as it ran).
	AppliesAfterAll Outcome = "applies after all"
	// RouteMissingConfirmed: the check failed on a route the profile
	// claims missing, which answered 404 or 405 (skipped).
	RouteMissingConfirmed Outcome = "route missing (confirmed)"
)

// Skips reports whether the outcome makes the check a skip.
func (o Outcome) Skips() bool {
	return o == DivergenceConfirmed || o == NotApplicableConfirmed || o == RouteMissingConfirmed
}

// Observation is what one run of a check showed: whether it failed, the
// failure message, and the status and body of the exchange it failed on
// (the spec's last completed exchange).
type Observation struct {
	Failed  bool
	Message string
	Status  int
	Body    string
}

// Classify judges a divergence or not-applicable claim against what the
// check showed.
func Classify(kind ClaimKind, c Claim, o Observation) Outcome {
	switch {
	case kind == KindDivergence && !o.Failed:
		return DivergenceNotObserved
	case kind == KindDivergence && c.matches(o):
		return DivergenceConfirmed
	case kind == KindDivergence:
		return DifferentFailure
	case o.Failed && c.matches(o):
		return NotApplicableConfirmed
	default:
		return AppliesAfterAll
	}
}

func (c Claim) matches(o Observation) bool {
	for _, s := range c.Symptoms {
		if s.matches(o) {
			return true
		}
	}
	return false
}

func (s Symptom) matches(o Observation) bool {
	if s.Status == 0 && s.Body == "" && s.Message == "" {
		return false // a claim without a symptom is never observed
	}
	return (s.Status == 0 || s.Status == o.Status) &&
		(s.Body == "" || symptomRE(s.Body).MatchString(o.Body)) &&
		(s.Message == "" || symptomRE(s.Message).MatchString(o.Message))
}

// missingStatus reports whether a status shows a route is not served.
func missingStatus(code int) bool {
	return code == http.StatusNotFound || code == http.StatusMethodNotAllowed
}

// ClaimResult is one judged claim of the run.
type ClaimResult struct {
	Requirement string    `json:"requirement"`
	Spec        string    `json:"spec"`
	Kind        ClaimKind `json:"kind"`
	// Key is what the claim is filed under: a requirement ID, a label or
	// a route.
	Key      string  `json:"key"`
	Outcome  Outcome `json:"outcome"`
	Why      string  `json:"why"`
	Expected string  `json:"expected"`
	// Observed is the head of the failure ("" when the check passed).
	Observed string `json:"observed,omitempty"`
}

// RouteObservation is what the run saw of a route the profile claims missing.
type RouteObservation struct {
	Route    string      `json:"route"`
	Why      string      `json:"why"`
	Statuses map[int]int `json:"statuses"` // status → count; empty when never called
}

// Present reports whether the route answered anything but 404/405.
func (r RouteObservation) Present() bool {
	for code := range r.Statuses {
		if !missingStatus(code) {
			return true
		}
	}
	return false
}

// Claims returns the judged claims of the run, in order (nil before the
// run has ended).
func (suite *Suite) Claims() []ClaimResult {
	if suite.seen == nil {
		return nil
	}
	return append([]ClaimResult(nil), suite.seen.Claims...)
}

// RouteObservations returns, for every route the profile claims missing,
// what the run saw of it, sorted by route.
func (suite *Suite) RouteObservations() []RouteObservation {
	var seen map[string]map[int]int
	if suite.seen != nil {
		seen = suite.seen.Routes
	}
	return routeObservations(suite.profile, seen)
}

func routeObservations(p Profile, seen map[string]map[int]int) []RouteObservation {
	var out []RouteObservation
	for r, why := range p.MissingRoutes {
		statuses := map[int]int{}
		for code, n := range seen[r] {
			statuses[code] = n
		}
		out = append(out, RouteObservation{Route: r, Why: why, Statuses: statuses})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Route < out[j].Route })
	return out
}

// runUnderProfile runs body for the running check's requirement under the
// run's profile. Only a requirement the reference server alone promises,
// and a missing capability, skip before the body; every profile claim is
// judged by what the body shows (judgeFailure on a failure, here on a
// pass).
func (suite *Suite) runUnderProfile(ctx SpecContext, run *specState, body func(SpecContext)) {
	p, r := suite.profile, run.req
	if r.ReferenceOnly && p.Name != "reference" {
		Skip(fmt.Sprintf("%s applies to the reference profile only (profile %s)", r.ID, p.Name))
	}
	if r.Needs != "" {
		suite.requireCapability(ctx, r.Needs)
	}
	if c, key, ok := p.notApplicable(r); ok {
		run.kind, run.key, run.claim = KindNotApplicable, key, c
	} else if c, ok := p.Divergences[r.ID]; ok {
		run.kind, run.key, run.claim = KindDivergence, r.ID, c
	}
	body(ctx)
	if run.kind != "" && run.judged.CompareAndSwap(false, true) {
		suite.settle(run, run.kind, run.key, run.claim.Why, run.claim.Expected(), Classify(run.kind, run.claim, Observation{}), "")
	}
}

// noteExchange is called with every recorded exchange once it is complete.
func (suite *Suite) noteExchange(ex *Exchange) {
	if run := suite.current.Load(); run != nil {
		run.done.Store(ex)
	}
	if _, ok := suite.profile.routeMissing(ex.Req.Method, ex.Req.Path); ok && ex.Err == nil {
		k := routeKey(ex.Req.Method, ex.Req.Path)
		suite.rec.with(func(e *ledgerEntry) {
			if e.Routes[k] == nil {
				e.Routes[k] = map[int]int{}
			}
			e.Routes[k][ex.Status]++
		})
	}
}

// judgeFailure judges the running check's failure against the profile's
// claims. An observed claim skips the check (Skip does not return); a
// claim that was not observed returns the lines that go in front of the
// check's own headline (ending in "observed instead …: "); without a claim
// it returns "". skip is the caller's offset for the skip's code location.
func (suite *Suite) judgeFailure(run *specState, message string, skip int) string {
	if !run.judged.CompareAndSwap(false, true) {
		return ""
	}
	p := suite.profile
	o := Observation{Failed: true, Message: message}
	ex := run.done.Load()
	if ex != nil {
		o.Status, o.Body = ex.Status, string(ex.Body)
		if why, ok := p.routeMissing(ex.Req.Method, ex.Req.Path); ok && missingStatus(ex.Status) {
			route := routeKey(ex.Req.Method, ex.Req.Path)
			suite.settle(run, KindMissingRoute, route, why, "answers 404 or 405", RouteMissingConfirmed, message)
			Skip(fmt.Sprintf("%s on profile %s: %s answered %d (%s)", RouteMissingConfirmed, p.Name, route, ex.Status, why), skip+1)
		}
	}
	if run.kind == "" {
		return ""
	}
	out := Classify(run.kind, run.claim, o)
	suite.settle(run, run.kind, run.key, run.claim.Why, run.claim.Expected(), out, message)
	if out.Skips() {
		Skip(fmt.Sprintf("%s on profile %s: %s (%s %s; expected symptom: %s)\nobserved: %s",
			out, p.Name, run.key, run.kind, run.claim.Why, run.claim.Expected(), firstLines(message, 3)), skip+1)
	}
	observed := "observed instead"
	if o.Status != 0 {
		observed = fmt.Sprintf("observed instead (the last exchange answered %d)", o.Status)
	}
	return fmt.Sprintf("%s: profile %s claims %s %s: %s\nexpected symptom: %s; %s: ",
		out, p.Name, run.key, run.kind, run.claim.Why, run.claim.Expected(), observed)
}

// settle records a judged claim in the ledger and in the spec's report.
func (suite *Suite) settle(run *specState, kind ClaimKind, key, why, expected string, out Outcome, message string) {
	res := ClaimResult{Requirement: run.req.ID, Spec: CurrentSpecReport().LeafNodeText, Kind: kind, Key: key,
		Outcome: out, Why: why, Expected: expected, Observed: strings.TrimSpace(firstLines(message, 3))}
	suite.rec.with(func(e *ledgerEntry) { e.Claims = append(e.Claims, res) })
	AddReportEntry("profile-claim", fmt.Sprintf("%s: %s %s (%s); expected symptom: %s", out, kind, key, why, expected),
		ReportEntryVisibilityFailureOrVerbose)
}
