package ort

// A1111's refiner (modules/sd_samplers_common.py apply_refiner, called by
// CFGDenoiser.forward before every model call): once the completed ratio
// reaches refiner_switch_at, the refiner's weights are loaded, the
// conditionings are computed again with its text encoders (setup_conds)
// and sampling goes on with its UNet from the same latent; the decode then
// uses the refiner's VAE, the model loaded at that point. The ratio is
// (999 − argmin|σ_train − σ|)/1000 for the k-diffusion samplers, (999 −
// int(t))/1000 for the timestep ones, and model calls / steps with
// refiner_switch_by_sample_steps.

import (
	"context"
	"errors"
	"math"

	"github.com/sdapi/sdapi/runner"
)

// unwrapper is a runner that wraps another (processing's catalog wrapper).
type unwrapper interface{ Unwrap() runner.Runner }

// asORT returns the ONNX Runtime runner inside rr, or nil.
func asORT(rr runner.Runner) *Runner {
	for rr != nil {
		switch v := rr.(type) {
		case *Runner:
			return v
		case unwrapper:
			rr = v.Unwrap()
		default:
			return nil
		}
	}
	return nil
}

// ratioAtSigma is A1111's completed ratio at σ: the nearest training
// sigma's timestep counted from the end.
func (g *job) ratioAtSigma(sigma float64) float64 {
	s := g.r.sched.Sigmas
	best, bestD := 0, math.Inf(1)
	for i, v := range s {
		if d := math.Abs(v - sigma); d < bestD {
			best, bestD = i, d
		}
	}
	return float64(len(s)-1-best) / float64(len(s))
}

// ratioAtT is the completed ratio at a timestep sampler's t (truncated).
func (g *job) ratioAtT(t float64) float64 {
	n := len(g.r.sched.Sigmas)
	return float64(n-1-int(t)) / float64(n)
}

// refine switches the run to the request's refiner when ratio (or, with
// BySteps, the model calls done) has reached SwitchAt. It is called
// before every model call.
func (g *job) refine(ctx context.Context, ratio float64) error {
	ref := g.req.Refiner
	if ref == nil || g.refined {
		return nil
	}
	if ref.BySteps {
		ratio = float64(g.calls) / float64(max(g.steps, 1))
	}
	if ratio < ref.SwitchAt {
		return nil
	}
	target := asORT(ref.Runner)
	if target == nil {
		return invalid("the refiner is not an ONNX Runtime model")
	}
	g.refined = true // decided once, switched or not
	if target == g.r {
		return nil // A1111: the refiner is the loaded model
	}
	target.mu.Lock()
	g.releases = append(g.releases, target.mu.Unlock)
	if target.unet.sess == nil {
		return errors.New("ort: refiner runner is closed")
	}
	if g.req.Tiling {
		restore, err := target.useTiling(ctx)
		if err != nil {
			return err
		}
		g.releases = append(g.releases, restore)
	}
	if needsAnySize(g.lh, g.lw) {
		restore, err := target.useAnySize(ctx, g.req.Tiling)
		if err != nil {
			return err
		}
		g.releases = append(g.releases, restore)
	}
	g.r = target
	var err error
	g.cond, g.uncond, err = g.conditioning()
	g.switched = err == nil
	return err
}

// release undoes what refine took, last first.
func (g *job) release() {
	for i := len(g.releases) - 1; i >= 0; i-- {
		g.releases[i]()
	}
	g.releases = nil
}
