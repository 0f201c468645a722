package sampling

import (
	"context"
	"math"
)

// The timestep samplers of A1111's modules/sd_samplers_timesteps_impl.py.
// They walk ts (ascending, from DDIMTimesteps) from the top: index k goes
// len−1 … 1, with ᾱ_t = ᾱ[ts[k]] and ᾱ_prev = ᾱ[ts[k−1]], so N timesteps make
// N−1 steps and the last lands on ts[0] = 1, not 0 (A1111's quirk, kept).

// ddimAlphas returns ᾱ[ts[k]] and ᾱ_prev[k] = ᾱ[ts[k−1]] (ᾱ[0] for k = 0).
func ddimAlphas(ts []int, s *Schedule) (a, aPrev []float64) {
	a = make([]float64, len(ts))
	aPrev = make([]float64, len(ts))
	for k, t := range ts {
		a[k] = s.AlphasCumprod[t]
		if k == 0 {
			aPrev[k] = s.AlphasCumprod[0]
		} else {
			aPrev[k] = s.AlphasCumprod[ts[k-1]]
		}
	}
	return a, aPrev
}

// sampleDDIM is A1111's ddim(eta): pred_x0 = (x − √(1−ᾱ_t)·ε)/√ᾱ_t;
// x = √ᾱ_prev·pred_x0 + √(1−ᾱ_prev−σ_t²)·ε + σ_t·randn.
func sampleDDIM(ctx context.Context, m EpsPredictor, x Latent, ts []int, s *Schedule, n Noise, o Options) (Latent, error) {
	a, aPrev := ddimAlphas(ts, s)
	x = x.Clone()
	pred := NewLatent(x.Shape...)
	for i := range len(ts) - 1 {
		k := len(ts) - 1 - i
		eps, err := predictEps(ctx, m, x, float64(ts[k]))
		if err != nil {
			return Latent{}, err
		}
		at, ap := a[k], aPrev[k]
		sigmaT := o.Eta * math.Sqrt((1-ap)/(1-at)*(1-at/ap))
		sq1, sqa, sqp := math.Sqrt(1-at), math.Sqrt(at), math.Sqrt(ap)
		dir := math.Sqrt(math.Max(0, 1-ap-sigmaT*sigmaT))
		for j, v := range x.Data {
			e := float64(eps.Data[j])
			p := (float64(v) - sq1*e) / sqa
			pred.Data[j] = float32(p)
			x.Data[j] = float32(sqp*p + dir*e)
		}
		if sigmaT > 0 {
			addNoise(x, n, sigmaT)
		}
		o.report(i, float64(ts[k]), x, pred)
	}
	return x, nil
}

// samplePLMS is A1111's plms: pseudo improved Euler on the first step, then
// Adams–Bashforth of order 2, 3, 4 on ε.
func samplePLMS(ctx context.Context, m EpsPredictor, x Latent, ts []int, s *Schedule, _ Noise, o Options) (Latent, error) {
	a, aPrev := ddimAlphas(ts, s)
	x = x.Clone()
	var oldEps [][]float64 // newest last, at most 3
	prev := NewLatent(x.Shape...)
	pred := NewLatent(x.Shape...)
	// step writes x_prev and pred_x0 for ε' at index k into prev and pred.
	step := func(e []float64, k int) {
		at, ap := a[k], aPrev[k]
		sq1, sqa, sqp, dir := math.Sqrt(1-at), math.Sqrt(at), math.Sqrt(ap), math.Sqrt(1-ap)
		for j, v := range x.Data {
			p := (float64(v) - sq1*e[j]) / sqa
			pred.Data[j] = float32(p)
			prev.Data[j] = float32(sqp*p + dir*e[j])
		}
	}
	for i := range len(ts) - 1 {
		k := len(ts) - 1 - i
		epsL, err := predictEps(ctx, m, x, float64(ts[k]))
		if err != nil {
			return Latent{}, err
		}
		e := make([]float64, len(x.Data))
		for j, v := range epsL.Data {
			e[j] = float64(v)
		}
		ep := make([]float64, len(e))
		switch len(oldEps) {
		case 0:
			step(e, k)
			next, err := predictEps(ctx, m, prev, float64(ts[max(k-1, 0)]))
			if err != nil {
				return Latent{}, err
			}
			for j := range ep {
				ep[j] = (e[j] + float64(next.Data[j])) / 2
			}
		case 1:
			o1 := oldEps[0]
			for j := range ep {
				ep[j] = (3*e[j] - o1[j]) / 2
			}
		case 2:
			o1, o2 := oldEps[1], oldEps[0]
			for j := range ep {
				ep[j] = (23*e[j] - 16*o1[j] + 5*o2[j]) / 12
			}
		default:
			o1, o2, o3 := oldEps[2], oldEps[1], oldEps[0]
			for j := range ep {
				ep[j] = (55*e[j] - 59*o1[j] + 37*o2[j] - 9*o3[j]) / 24
			}
		}
		step(ep, k)
		oldEps = append(oldEps, e)
		if len(oldEps) >= 4 {
			oldEps = oldEps[1:]
		}
		copy(x.Data, prev.Data)
		o.report(i, float64(ts[k]), x, pred)
	}
	return x, nil
}
