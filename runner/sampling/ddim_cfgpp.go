package sampling

import (
	"context"
	"fmt"
	"math"
)

// cfgppScaleMultiplier maps the CFG scale onto CFG++'s guidance range: A1111
// sets cond_scale_miltiplier = 1/12.5, so CFG 12.5 becomes λ = 1.
const cfgppScaleMultiplier = 1 / 12.5

// CFGPPPredictor is what DDIM CFG++ needs from the model: the CFG-combined
// noise prediction with the CFG scale multiplied by scaleMul, and the
// unconditional noise prediction alone (A1111's last_noise_uncond), both for
// the same model input.
type CFGPPPredictor interface {
	EpsPredictor
	PredictEpsCFGPP(ctx context.Context, x Latent, t, scaleMul float64) (eps, uncond Latent, err error)
}

// sampleDDIMCFGPP is A1111's ddim_cfgpp (CFG++, Chung et al. 2024): DDIM
// whose pred_x0 uses the guided ε at CFG scale/12.5 while the direction
// back to x_t uses the unconditional ε.
func sampleDDIMCFGPP(ctx context.Context, m EpsPredictor, x Latent, ts []int, s *Schedule, n Noise, o Options) (Latent, error) {
	pm, ok := m.(CFGPPPredictor)
	if !ok {
		return Latent{}, fmt.Errorf("sampling: DDIM CFG++ needs the unconditional noise prediction (%T does not give it)", m)
	}
	a, aPrev := ddimAlphas(ts, s)
	x = x.Clone()
	pred := NewLatent(x.Shape...)
	for i := range len(ts) - 1 {
		k := len(ts) - 1 - i
		if err := ctx.Err(); err != nil {
			return Latent{}, err
		}
		eps, unc, err := pm.PredictEpsCFGPP(ctx, x, float64(ts[k]), cfgppScaleMultiplier)
		if err != nil {
			return Latent{}, err
		}
		if len(eps.Data) != len(x.Data) || len(unc.Data) != len(x.Data) {
			return Latent{}, fmt.Errorf("sampling: eps model returned %d and %d values for %d", len(eps.Data), len(unc.Data), len(x.Data))
		}
		at, ap := a[k], aPrev[k]
		sigmaT := o.Eta * math.Sqrt((1-ap)/(1-at)*(1-at/ap))
		sq1, sqa, sqp := math.Sqrt(1-at), math.Sqrt(at), math.Sqrt(ap)
		dir := math.Sqrt(math.Max(0, 1-ap-sigmaT*sigmaT))
		for j, v := range x.Data {
			p := (float64(v) - sq1*float64(eps.Data[j])) / sqa
			pred.Data[j] = float32(p)
			x.Data[j] = float32(sqp*p + dir*float64(unc.Data[j]))
		}
		// A1111 draws noise on every step, scaled by σ_t (0 at eta 0).
		addNoiseAlways(x, n, sigmaT)
		o.report(i, float64(ts[k]), x, pred)
	}
	return x, nil
}
