package ort

import (
	"testing"

	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/onnxgen"
)

// The samplers that do not walk one schedule step per request step report
// progress as A1111 counts it: DPM fast once per solver step (⌊n/3⌋+1 of n
// model evaluations), Restart once per Heun step; the total stays the
// requested steps.
func TestGenerateSamplerProgress(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	for _, tc := range []struct {
		sampler string
		steps   int
		reports int
	}{
		{"DPM fast", 6, 3},
		{"DPM fast", 7, 3},
		{"Restart", 20, 20},
		{"LCM", 4, 4},
		{"DDIM CFG++", 4, 3},
	} {
		req := baseRequest(tc.sampler, 1)
		req.Steps = tc.steps
		var got []runner.Progress
		req.OnStep = func(p runner.Progress) { got = append(got, p) }
		if _, err := r.Generate(t.Context(), req); err != nil {
			t.Fatalf("%s: %v", tc.sampler, err)
		}
		if len(got) != tc.reports || got[len(got)-1].Step != tc.reports {
			t.Errorf("%s %d steps: %d reports, want %d", tc.sampler, tc.steps, len(got), tc.reports)
		}
	}
}

// DDIM CFG++ guides with CFG/12.5 and the unconditional ε, so it must not
// reproduce plain DDIM's image; at CFG 12.5 its guidance is the full
// conditional prediction.
func TestGenerateDDIMCFGPPDiffersFromDDIM(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	gen := func(sampler string) runner.Result {
		t.Helper()
		req := baseRequest(sampler, 3)
		req.Steps = 4
		res, err := r.Generate(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b := gen("DDIM"), gen("DDIM CFG++")
	if _, mean := maxDiff(t, a.Images[0], b.Images[0]); mean < 0.5 {
		t.Errorf("DDIM CFG++ mean diff %.3f from DDIM, want a different image", mean)
	}
}
