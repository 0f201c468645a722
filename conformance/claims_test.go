package conformance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClassifyJudgesClaimsByWhatTheCheckShowed(t *testing.T) {
	div := claim("answers its own 404", Symptom{Status: 404, Body: `^$`})
	na := claim("no basic auth", Symptom{Status: 200})
	for _, tc := range []struct {
		name string
		kind ClaimKind
		c    Claim
		o    Observation
		want Outcome
	}{
		{"divergence seen as documented", KindDivergence, div, Observation{Failed: true, Message: "expected 404 body", Status: 404}, DivergenceConfirmed},
		{"divergence: the check passed (stale)", KindDivergence, div, Observation{}, DivergenceNotObserved},
		{"divergence: another status", KindDivergence, div, Observation{Failed: true, Message: "expected 404", Status: 500}, DifferentFailure},
		{"divergence: the status but another body", KindDivergence, div, Observation{Failed: true, Status: 404, Body: `{"detail":"x"}`}, DifferentFailure},
		{"not applicable seen as claimed", KindNotApplicable, na, Observation{Failed: true, Message: "expected 401", Status: 200}, NotApplicableConfirmed},
		{"not applicable: the check passed", KindNotApplicable, na, Observation{}, AppliesAfterAll},
		{"not applicable: failed otherwise", KindNotApplicable, na, Observation{Failed: true, Message: "expected 401", Status: 403}, AppliesAfterAll},
		{"any one symptom suffices", KindDivergence, claim("x", Symptom{Status: 400}, Symptom{Message: `len:2\b`}),
			Observation{Failed: true, Message: "<[]int64 | len:2, cap:2>", Status: 200}, DivergenceConfirmed},
		{"every field of a symptom must match", KindDivergence, claim("x", Symptom{Status: 200, Message: `len:2\b`}),
			Observation{Failed: true, Message: "<[]int64 | len:2, cap:2>", Status: 500}, DifferentFailure},
		{"a claim without a symptom is never observed", KindDivergence, claim("x"), Observation{Failed: true, Status: 404}, DifferentFailure},
	} {
		if got := Classify(tc.kind, tc.c, tc.o); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
	for o, skips := range map[Outcome]bool{DivergenceConfirmed: true, NotApplicableConfirmed: true, RouteMissingConfirmed: true,
		DivergenceNotObserved: false, DifferentFailure: false, AppliesAfterAll: false} {
		if o.Skips() != skips {
			t.Errorf("%s: Skips() = %v", o, !skips)
		}
	}
}

// Every built-in claim names what it covers and the symptom that proves it.
func TestProfilesClaimSymptoms(t *testing.T) {
	for _, name := range ProfileNames() {
		if err := Profiles[name].Validate(); err != nil {
			t.Errorf("profile %s: %v", name, err)
		}
	}
}

func TestRoutesAreKeyedByMethodAndPath(t *testing.T) {
	for _, r := range []string{"GET /sdapi/v1/options", "POST /sdapi/v1/options", "POST /internal/progress"} {
		if !strings.Contains(strings.Join(contractRoutes, "\n")+"\n", r+"\n") {
			t.Errorf("the route list lacks %s", r)
		}
	}
	p := Profiles["sdcpp"]
	if _, ok := p.routeMissing("GET", "/sdapi/v1/options"); ok {
		t.Error("sdcpp serves GET /options")
	}
	if _, ok := p.routeMissing("POST", "/sdapi/v1/options?x=1"); !ok {
		t.Error("sdcpp lacks POST /options")
	}
	if _, ok := p.routeMissing("POST", "/internal/progress"); !ok {
		t.Error("sdcpp lacks POST /internal/progress")
	}
}

func TestLoadProfileFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, []byte(`{"name":"test-own-server","description":"mine","pixel_tolerance":4,
		"divergences":{"ERR-001":{"why":"own 404 body","symptoms":[{"status":404}]}},
		"not_applicable":{"auth":{"why":"no auth","symptoms":[{"status":200}]}},
		"missing_routes":{"POST /sdapi/v1/options":"read-only options"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadProfileFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "test-own-server" || p.Divergences["ERR-001"].Symptoms[0].Status != 404 || p.MissingRoutes["POST /sdapi/v1/options"] == "" {
		t.Errorf("not read: %+v", p)
	}
	if _, ok := Profiles[p.Name]; ok {
		t.Errorf("LoadProfileFile registered %s in Profiles; a run takes it through Config.OwnProfile", p.Name)
	}
	for name, body := range map[string]string{
		"no symptom":    `{"name":"x","divergences":{"ERR-001":{"why":"y","symptoms":[]}}}`,
		"empty symptom": `{"name":"x","divergences":{"ERR-001":{"why":"y","symptoms":[{}]}}}`,
		"bad pattern":   `{"name":"x","divergences":{"ERR-001":{"why":"y","symptoms":[{"body":"("}]}}}`,
		"unknown ID":    `{"name":"x","divergences":{"NOPE-001":{"why":"y","symptoms":[{"status":1}]}}}`,
		"route no verb": `{"name":"x","missing_routes":{"/sdapi/v1/options":"y"}}`,
		"unknown field": `{"name":"x","divergence":{}}`,
		"no name":       `{"description":"x"}`,
	} {
		f := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadProfileFile(f); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestChooseSamplerIgnoresCase(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{[]string{"DPM++ 2M", "Euler a", "Euler"}, "Euler"},
		{[]string{"default", "euler", "euler_a"}, "euler"}, // sd.cpp: never "default" because of case
		{[]string{"LCM", "Heun"}, "LCM"},
		{[]string{"default", "Heun"}, "Heun"}, // a "default" placeholder is never the choice
	} {
		list := make([]listedSampler, len(tc.names))
		for i, n := range tc.names {
			list[i].Name = n
		}
		if got := chooseSampler(list); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.names, got, tc.want)
		}
	}
}
