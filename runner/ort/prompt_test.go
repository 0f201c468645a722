package ort

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/runner/onnxgen"
)

func TestLongPrompts(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	long := strings.Repeat("a cat, ", 60) // > 75 tokens: two chunks
	for _, tc := range []struct {
		name          string
		prompt, neg   string
		wantUNetCalls int
	}{
		{"long prompt, short negative: separate cond and uncond calls", long, "", 6},
		{"both long: one batch", long, long + " dog", 3},
		{"short: one batch", "a cat", "", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := baseRequest("Euler", 1)
			req.Prompts, req.NegativePrompts = []string{tc.prompt}, []string{tc.neg}
			res, err := r.Generate(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Timing.UNetRuns != tc.wantUNetCalls {
				t.Errorf("UNet calls = %d, want %d", res.Timing.UNetRuns, tc.wantUNetCalls)
			}
		})
	}
	// A batch mixing one- and two-chunk prompts pads the shorter one.
	req := baseRequest("Euler", 1, 2)
	req.Prompts = []string{long, "a cat"}
	if _, err := r.Generate(t.Context(), req); err != nil {
		t.Fatal(err)
	}
}

func TestEmphasisChangesImage(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	a := baseRequest("Euler", 1)
	b := baseRequest("Euler", 1)
	b.Prompts = []string{"a photo of a (cat:1.5)"}
	ra, err := r.Generate(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := r.Generate(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	if _, mean := maxDiff(t, ra.Images[0], rb.Images[0]); mean == 0 {
		t.Errorf("emphasis did not change the image")
	}
}

func TestSubseedStrengthIsGradual(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	base, err := r.Generate(t.Context(), baseRequest("Euler", 1))
	if err != nil {
		t.Fatal(err)
	}
	prev := -1.0
	for _, s := range []float64{0.05, 0.3, 0.7, 1} {
		req := baseRequest("Euler", 1)
		req.Subseeds, req.SubseedStrength = []int64{99}, s
		res, err := r.Generate(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		_, mean := maxDiff(t, base.Images[0], res.Images[0])
		t.Logf("subseed strength %.2f: mean diff %.2f", s, mean)
		if mean <= prev {
			t.Errorf("strength %.2f: mean diff %.2f, not above %.2f at the smaller strength", s, mean, prev)
		}
		prev = mean
	}
}

func TestVPredictionModel(t *testing.T) {
	dir := copyDir(t, emit(t, onnxgen.Config{}))
	cfg := `{"_class_name":"EulerDiscreteScheduler","beta_schedule":"scaled_linear","beta_start":0.00085,"beta_end":0.012,"num_train_timesteps":1000,"prediction_type":"v_prediction"}`
	if err := os.WriteFile(filepath.Join(dir, "scheduler", "scheduler_config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(t.Context(), dir, Config{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if k := r.Model().Kind; k != "SD2" {
		t.Errorf("kind = %s, want SD2", k)
	}
	eps := openShared(t, onnxgen.Config{})
	for _, smp := range []string{"Euler", "DDIM"} {
		rv, err := r.Generate(t.Context(), baseRequest(smp, 1))
		if err != nil {
			t.Fatal(err)
		}
		re, err := eps.Generate(t.Context(), baseRequest(smp, 1))
		if err != nil {
			t.Fatal(err)
		}
		if _, mean := maxDiff(t, rv.Images[0], re.Images[0]); mean == 0 {
			t.Errorf("%s: v-prediction gave the eps model's image", smp)
		}
	}
}
