package conformance

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEveryCheckCitesItsRequirement reads the spec files: every conformIt
// call must be preceded by a "Requirement: ID." comment that names its ID
// and nothing more (the catalogue in requirements.go is the one place of
// each requirement's MUST wording), every ID must be in the catalogue, and
// every catalogued requirement must be checked somewhere.
func TestEveryCheckCitesItsRequirement(t *testing.T) {
	files, err := filepath.Glob("spec_*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no spec files: %v", err)
	}
	call := regexp.MustCompile(`conformIt\("([A-Z0-9]+-\d{3})"|conformIt\(c\.id`)
	used := map[string]bool{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(src), "\n")
		for i, line := range lines {
			m := call.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			id := m[1]
			comment := ""
			for j := i - 1; j >= 0 && strings.HasPrefix(strings.TrimSpace(lines[j]), "//"); j-- {
				comment = strings.TrimSpace(lines[j]) + " " + comment
			}
			if !strings.Contains(comment, "Requirement:") {
				t.Errorf("%s:%d: conformIt without a preceding \"Requirement: ID.\" comment", f, i+1)
			}
			if strings.Contains(comment, "MUST") {
				t.Errorf("%s:%d: the Requirement comment repeats the catalogue's wording; name the ID only (requirements.go holds the MUST text): %s", f, i+1, comment)
			}
			if id == "" { // the generated negative-data specs: ERR-003..ERR-006
				for _, n := range []string{"ERR-003", "ERR-004", "ERR-005", "ERR-006"} {
					used[n] = true
				}
				continue
			}
			if !strings.Contains(comment, id) {
				t.Errorf("%s:%d: the Requirement comment does not name %s", f, i+1, id)
			}
			if _, ok := requirementIndex[id]; !ok {
				t.Errorf("%s:%d: %s is not in the catalogue", f, i+1, id)
			}
			used[id] = true
		}
	}
	for _, r := range Requirements {
		if !used[r.ID] {
			t.Errorf("requirement %s is never checked", r.ID)
		}
		if !strings.Contains(r.Must, "MUST") {
			t.Errorf("requirement %s is not in MUST wording: %q", r.ID, r.Must)
		}
	}
}

func TestProfilesNameKnownRequirementsAndLabels(t *testing.T) {
	for name, p := range Profiles {
		if p.Name != name {
			t.Errorf("profile %q has Name %q", name, p.Name)
		}
		for k := range p.Divergences {
			if _, ok := requirementIndex[k]; !ok {
				t.Errorf("profile %s: divergence for unknown requirement %s", name, k)
			}
		}
		for k := range p.NotApplicable {
			_, isReq := requirementIndex[k]
			isLabel := false
			for _, l := range Vocabulary {
				isLabel = isLabel || l == k
			}
			if !isReq && !isLabel {
				t.Errorf("profile %s: NotApplicable key %q is neither a requirement nor a label", name, k)
			}
		}
	}
}

func TestParseInfotextFollowsA1111(t *testing.T) {
	got := parseInfotext("a cat, sitting\nNegative prompt: dogs\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 123, Size: 512x768, Model: \"a, b\"")
	want := map[string]string{"Prompt": "a cat, sitting", "Negative prompt": "dogs", "Steps": "20", "Sampler": "Euler a",
		"CFG scale": "7", "Seed": "123", "Size-1": "512", "Size-2": "768", "Model": "a, b"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	// Fewer than 3 parameters: the last line belongs to the prompt.
	if got := parseInfotext("line one\nSteps: 3"); got["Prompt"] != "line one\nSteps: 3" {
		t.Errorf("Prompt = %q", got["Prompt"])
	}
}

func TestPNGTextChunkRoundTrip(t *testing.T) {
	img := withTextChunk(encodePNG(testImage(8, 8, 1)), "parameters", "a\nSteps: 1, Seed: 2, Size: 8x8")
	chunks, err := pngTextChunks(img)
	if err != nil {
		t.Fatal(err)
	}
	if chunks["parameters"] != "a\nSteps: 1, Seed: 2, Size: 8x8" {
		t.Errorf("parameters = %q", chunks["parameters"])
	}
}
