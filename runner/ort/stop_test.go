package ort

import (
	"context"
	"errors"
	"image"
	"slices"
	"testing"

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
