package ort

import (
	"context"
	"errors"
	"image"
	"math"
	"slices"
	"testing"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/onnxgen"
	"github.com/sdapi/sdapi/runner/sampling"
)

// A stop request (A1111's interrupt or skip) during sampling ends the run
// before its next model call and returns the decoded last latent, one image
// per batch entry, with an error wrapping ErrInterrupted; the same stop
// point gives the same pixels, and they are not the finished images.
func TestGenerateStopDecodesLastLatent(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	for _, smp := range sampling.Samplers() {
		t.Run(smp.Name, func(t *testing.T) {
			stopAt := 2
			run := func() ([]image.Image, []int) {
				t.Helper()
				ctx, cancel := context.WithCancelCause(t.Context())
				defer cancel(nil)
				req := baseRequest(smp.Name, 1, 2)
				req.Steps = 6
				var steps []int
				req.OnStep = func(p runner.Progress) {
					steps = append(steps, p.Step)
					if p.Step == stopAt {
						cancel(runner.ErrStopRequested)
					}
				}
				res, err := r.Generate(ctx, req)
				if !errors.Is(err, runner.ErrInterrupted) || !errors.Is(err, runner.ErrStopRequested) {
					t.Fatalf("err = %v, want ErrInterrupted wrapping ErrStopRequested", err)
				}
				if len(res.Images) != 2 {
					t.Fatalf("%d images, want 2 (one per batch entry)", len(res.Images))
				}
				for _, im := range res.Images {
					if im.Bounds() != image.Rect(0, 0, 64, 64) {
						t.Fatalf("bounds %v", im.Bounds())
					}
				}
				return res.Images, steps
			}
			a, steps := run()
			if !slices.Equal(steps, []int{1, 2}) {
				t.Errorf("steps reported = %v, want [1 2]: no model call after the stop", steps)
			}
			b, _ := run()
			for i := range a {
				if d, _ := maxDiff(t, a[i], b[i]); d != 0 {
					t.Errorf("image %d: max diff %d between two stops at the same step, want 0", i, d)
				}
			}
			full := baseRequest(smp.Name, 1, 2)
			full.Steps = 6
			done, err := r.Generate(t.Context(), full)
			if err != nil {
				t.Fatal(err)
			}
			if _, mean := maxDiff(t, a[0], done.Images[0]); mean == 0 {
				t.Errorf("stopped image equals the finished one")
			}
		})
	}
}

// A stop requested before the run starts still decodes the starting
// latent, as A1111's sampler returns last_latent before its first step: for
// img2img that is the init latent, which a strength-0 exact-steps run
// returns unchanged.
func TestGenerateStopBeforeStart(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	for _, name := range []string{"Euler", "DDIM"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(t.Context())
			cancel(runner.ErrStopRequested)
			steps := 0
			req := img2imgRequest(t, name, 1)
			req.OnStep = func(runner.Progress) { steps++ }
			res, err := r.Generate(ctx, req)
			if !errors.Is(err, runner.ErrInterrupted) || len(res.Images) != 1 {
				t.Fatalf("err = %v, %d images; want ErrInterrupted and 1 image", err, len(res.Images))
			}
			if steps != 0 {
				t.Errorf("%d steps ran after a stop before the start", steps)
			}
			want := img2imgRequest(t, name, 1)
			want.Init.DenoisingStrength, want.Init.ExactSteps = 0, true
			init, err := r.Generate(t.Context(), want)
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := maxDiff(t, res.Images[0], init.Images[0]); d != 0 {
				t.Errorf("max diff %d from the decoded init latent, want 0", d)
			}
		})
	}
	t.Run("txt2img", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(t.Context())
		cancel(runner.ErrStopRequested)
		res, err := r.Generate(ctx, baseRequest("Euler a", 1, 2))
		if !errors.Is(err, runner.ErrInterrupted) || len(res.Images) != 2 {
			t.Fatalf("err = %v, %d images; want ErrInterrupted and 2 images", err, len(res.Images))
		}
	})
}

// The latent a stop decodes is A1111's last_latent: the last model call's
// denoised prediction for the prompt alone (get_pred_x0 of the cond
// output), not the CFG result, which is what the same call returns with CFG
// scale 1.
func TestLastLatentIsCondPrediction(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	ro, err := onnxruntime.NewRunOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Destroy()
	r.mu.Lock()
	defer r.mu.Unlock()
	req := baseRequest("Euler", 1, 2)
	g := &job{r: r, req: req, ro: ro, timing: &runner.Timing{}, b: 2, lh: 8, lw: 8}
	if g.cond, g.uncond, err = g.conditioning(); err != nil {
		t.Fatal(err)
	}
	x := sampling.NewLatent(2, 4, 8, 8)
	for i := range x.Data {
		x.Data[i] = float32(i%17)/8 - 1
	}
	near := func(what string, got, want []float32) {
		t.Helper()
		for i := range want {
			if d := got[i] - want[i]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("%s: value %d = %g, want %g", what, i, got[i], want[i])
			}
		}
	}
	sigma, step := 3.0, 501.0
	g.req.CFGScale = 7
	if _, err := g.Denoise(t.Context(), x, sigma); err != nil {
		t.Fatal(err)
	}
	last := slices.Clone(g.last)
	g.req.CFGScale = 1
	cond, err := g.Denoise(t.Context(), x, sigma)
	if err != nil {
		t.Fatal(err)
	}
	near("k-diffusion", last, cond.Data)

	g.req.CFGScale = 7
	if _, err := g.PredictEps(t.Context(), x, step); err != nil {
		t.Fatal(err)
	}
	last = slices.Clone(g.last)
	g.req.CFGScale = 1
	eps, err := g.PredictEps(t.Context(), x, step)
	if err != nil {
		t.Fatal(err)
	}
	at := r.sched.AlphaCumprodAt(step)
	want := make([]float32, len(x.Data))
	for i, v := range x.Data {
		want[i] = float32((float64(v) - math.Sqrt(1-at)*float64(eps.Data[i])) / math.Sqrt(at))
	}
	near("timesteps", last, want)
}
