package processing

// Interrupt and skip as A1111 1.10's process_images_inner handles them.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/runnertest"
)

func TestInterruptReturnsFinishedImages(t *testing.T) {
	pr, spy := newProcessor(t)
	spy.GenerateFn = func(ctx context.Context, call int, req runner.Request) (runner.Result, error) {
		if call == 1 {
			pr.State.Interrupt()
			<-ctx.Done() // Interrupt cancels the batch at once
			return runner.Result{}, runner.ErrInterrupted
		}
		return runnertest.SolidByIndex(req), nil
	}
	p := smallTxt2Img()
	p.NIter = 4
	out, err := pr.Process(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(spy.Calls()) != 2 || len(out.Raw) != 1 || len(out.Infotexts) != 1 {
		t.Fatalf("calls %d images %d infotexts %d", len(spy.Calls()), len(out.Raw), len(out.Infotexts))
	}
}

// stoppedResult is what a runner returns when Interrupt or Skip stops it:
// the batch's images decoded from the latent it stopped at, and
// ErrInterrupted. It checks that the stop reached the runner as
// runner.ErrStopRequested, the cause that asks for those images.
func stoppedResult(t *testing.T, ctx context.Context, req runner.Request) (runner.Result, error) {
	<-ctx.Done()
	if cause := context.Cause(ctx); !errors.Is(cause, runner.ErrStopRequested) {
		t.Errorf("runner's ctx ended with %v, want runner.ErrStopRequested", cause)
	}
	return runnertest.SolidByIndex(req), fmt.Errorf("%w: %w", runner.ErrInterrupted, context.Cause(ctx))
}

// Interrupt during sampling returns the stopped batch's partly denoised
// images with their infotexts, after the batches finished before it, and
// runs no further batch (A1111's process_images_inner decodes the
// sampler's last_latent, then breaks on state.interrupted).
func TestInterruptReturnsStoppedBatch(t *testing.T) {
	pr, spy := newProcessor(t)
	spy.GenerateFn = func(ctx context.Context, call int, req runner.Request) (runner.Result, error) {
		if call == 1 {
			pr.State.Interrupt()
			return stoppedResult(t, ctx, req)
		}
		return runnertest.SolidByIndex(req), nil
	}
	p := smallTxt2Img()
	p.BatchSize, p.NIter = 2, 3
	out, err := pr.Process(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(spy.Calls()) != 2 || len(out.Raw) != 4 || len(out.Infotexts) != 4 {
		t.Fatalf("calls %d images %d infotexts %d, want 2, 4, 4", len(spy.Calls()), len(out.Raw), len(out.Infotexts))
	}
	if !strings.Contains(out.Infotexts[3], "Seed: 1003") {
		t.Errorf("infotext of the last stopped image = %q, want its own seed 1003", out.Infotexts[3])
	}
}

// Skip stops the running batch, keeps its images, and the job goes on with
// the next n_iter batch (A1111 clears state.skipped at the next batch).
func TestSkipKeepsStoppedBatchAndContinues(t *testing.T) {
	pr, spy := newProcessor(t)
	spy.GenerateFn = func(ctx context.Context, call int, req runner.Request) (runner.Result, error) {
		if call == 0 {
			pr.State.Skip()
			return stoppedResult(t, ctx, req)
		}
		if err := ctx.Err(); err != nil {
			t.Errorf("batch %d after the skip starts cancelled: %v", call, err)
		}
		return runnertest.SolidByIndex(req), nil
	}
	p := smallTxt2Img()
	p.NIter = 3
	out, err := pr.Process(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(spy.Calls()) != 3 || len(out.Raw) != 3 {
		t.Fatalf("calls %d images %d, want 3 and 3", len(spy.Calls()), len(out.Raw))
	}
}

// A skip in the first pass of hires fix still runs the hires pass, which
// the still-set skip stops at once: A1111's sample_hr_pass returns early
// only when interrupted, and its sampler then returns the upscaled init
// latent. An interrupt returns the first pass's images.
func TestStopDuringHiresFirstPass(t *testing.T) {
	for _, tc := range []struct {
		name      string
		stop      func(*State)
		calls     int
		wantWidth int
	}{
		{"skip", (*State).Skip, 2, 96},
		{"interrupt", (*State).Interrupt, 1, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, spy := newProcessor(t)
			spy.GenerateFn = func(ctx context.Context, call int, req runner.Request) (runner.Result, error) {
				if call == 0 {
					tc.stop(pr.State)
				}
				return stoppedResult(t, ctx, req)
			}
			out, err := pr.Process(t.Context(), hiresParams("Latent"))
			if err != nil {
				t.Fatal(err)
			}
			if len(spy.Calls()) != tc.calls || len(out.Raw) != 1 {
				t.Fatalf("calls %d images %d, want %d and 1", len(spy.Calls()), len(out.Raw), tc.calls)
			}
			if w := out.Raw[0].Bounds().Dx(); w != tc.wantWidth {
				t.Errorf("image width %d, want %d", w, tc.wantWidth)
			}
		})
	}
}

func TestSkipSkipsOneBatch(t *testing.T) {
	pr, spy := newProcessor(t)
	spy.GenerateFn = func(ctx context.Context, call int, req runner.Request) (runner.Result, error) {
		if call == 0 {
			pr.State.Skip()
			<-ctx.Done()
			return runner.Result{}, ctx.Err()
		}
		return runnertest.SolidByIndex(req), nil
	}
	p := smallTxt2Img()
	p.NIter = 3
	out, err := pr.Process(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(spy.Calls()) != 3 || len(out.Raw) != 2 || out.Seed != 1000 {
		t.Fatalf("calls %d images %d", len(spy.Calls()), len(out.Raw))
	}
}
