package ort

import (
	"context"
	"errors"
	"image"
	"testing"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/onnxgen"
	"github.com/sdapi/sdapi/runner/sampling"
)

func TestGenerateEverySampler(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	for _, smp := range sampling.Samplers() {
		t.Run(smp.Name, func(t *testing.T) {
			gen := func(req runner.Request) []image.Image {
				t.Helper()
				res, err := r.Generate(t.Context(), req)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Images) != len(req.Seeds) {
					t.Fatalf("got %d images, want %d", len(res.Images), len(req.Seeds))
				}
				for _, im := range res.Images {
					if im.Bounds() != image.Rect(0, 0, req.Width, req.Height) {
						t.Fatalf("bounds %v", im.Bounds())
					}
				}
				return res.Images
			}
			a := gen(baseRequest(smp.Name, 1))[0]
			b := gen(baseRequest(smp.Name, 1))[0]
			if d, _ := maxDiff(t, a, b); d != 0 {
				t.Errorf("same seed: max diff %d, want 0", d)
			}
			c := gen(baseRequest(smp.Name, 2))[0]
			if _, mean := maxDiff(t, a, c); mean < 0.5 {
				t.Errorf("seeds 1 and 2: mean diff %.3f, want images to differ", mean)
			}
			batch := gen(baseRequest(smp.Name, 1, 2))
			if smp.Name == "DPM adaptive" {
				// Its error norm, and so its steps, span the whole batch (as
				// in k-diffusion): a batch differs from single runs, but
				// repeats itself.
				again := gen(baseRequest(smp.Name, 1, 2))
				for i := range batch {
					if d, _ := maxDiff(t, batch[i], again[i]); d != 0 {
						t.Errorf("batch image %d: max diff %d between two runs, want 0", i, d)
					}
				}
				return
			}
			for i, want := range []image.Image{a, c} {
				if d, _ := maxDiff(t, batch[i], want); d > 1 {
					t.Errorf("batch image %d: max diff %d from the single run with seed %d, want ≤ 1", i, d, i+1)
				}
			}
		})
	}
}

func TestGenerateCancelledWithinOneStep(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	for _, smp := range sampling.Samplers() {
		t.Run(smp.Name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			req := baseRequest(smp.Name, 1)
			req.Steps = 4
			var steps []int
			req.OnStep = func(p runner.Progress) {
				steps = append(steps, p.Step)
				if p.Step == 1 {
					cancel()
				}
			}
			_, err := r.Generate(ctx, req)
			if !errors.Is(err, runner.ErrInterrupted) {
				t.Fatalf("err = %v, want ErrInterrupted", err)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want it to wrap context.Canceled", err)
			}
			if len(steps) != 1 {
				t.Errorf("steps reported = %v, want [1]", steps)
			}
		})
	}
}

func TestGenerateProgressAndPreview(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	req := baseRequest("Euler a", 1, 2)
	req.Steps = 4
	req.PreviewEvery = 2
	var got []runner.Progress
	req.OnStep = func(p runner.Progress) { got = append(got, p) }
	if _, err := r.Generate(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d progress reports, want 4", len(got))
	}
	for i, p := range got {
		if p.Step != i+1 || p.Steps != 4 {
			t.Errorf("report %d = %d/%d, want %d/4", i, p.Step, p.Steps, i+1)
		}
		wantPreview := (i+1)%2 == 0
		if (p.Preview != nil) != wantPreview {
			t.Errorf("step %d: preview %v, want %v", p.Step, p.Preview != nil, wantPreview)
		}
		if wantPreview && (len(p.Preview) != 2 || p.Preview[0].Bounds() != image.Rect(0, 0, 8, 8)) {
			t.Errorf("step %d: previews %d of %v", p.Step, len(p.Preview), p.Preview[0].Bounds())
		}
	}
}

func TestGenerateAlreadyCancelled(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := r.Generate(ctx, baseRequest("Euler", 1)); !errors.Is(err, runner.ErrInterrupted) {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
}

// TestTerminatedRunOptionsStopModelCalls checks the mechanism behind
// mid-step cancellation: a run with terminated RunOptions fails at once.
func TestTerminatedRunOptionsStopModelCalls(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	ro, err := onnxruntime.NewRunOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Destroy()
	if err := ro.Terminate(); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	g := &job{r: r, req: baseRequest("Euler", 1), ro: ro, timing: &runner.Timing{}, b: 1, lh: 8, lw: 8}
	if _, _, err := g.conditioning(); err == nil {
		t.Fatal("text encoder ran with terminated run options")
	}
}

// The runner takes the sampler and scheduler names processing resolved,
// exactly: an alias, a name with a scheduler suffix or an unknown name is
// refused, never resolved a second time or replaced by a fallback.
func TestGenerateTakesExactSamplerNames(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	for _, tc := range []struct{ sampler, scheduler string }{
		{"k_euler", ""}, {"DPM++ 2M Karras", ""}, {"", ""}, {"no such sampler", ""}, {"Euler", "no such scheduler"},
	} {
		req := baseRequest(tc.sampler, 1)
		req.Scheduler = tc.scheduler
		if _, err := r.Generate(t.Context(), req); !errors.Is(err, runner.ErrInvalidRequest) {
			t.Errorf("sampler %q, scheduler %q: err = %v, want ErrInvalidRequest", tc.sampler, tc.scheduler, err)
		}
	}
	for _, sched := range []string{"", "Automatic", "Karras"} {
		req := baseRequest("Euler", 1)
		req.Scheduler = sched
		if _, err := r.Generate(t.Context(), req); err != nil {
			t.Errorf("Euler with scheduler %q: %v", sched, err)
		}
	}
}
