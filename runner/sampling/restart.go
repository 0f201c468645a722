package sampling

import (
	"context"
	"math"
)

// restartSegment is one (σ_old → σ_new) Heun step of the Restart plan.
type restartSegment struct{ from, to float64 }

// argminAbs is torch.argmin(abs(sigmas − v)): the first index nearest v.
func argminAbs(sigmas []float64, v float64) int {
	best, bestD := 0, math.Inf(1)
	for i, s := range sigmas {
		if d := math.Abs(s - v); d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

// restartPlan is the step list of A1111's restart_sampler with its automatic
// restart_list: below 20 steps the plain schedule; from 20 steps a Karras
// schedule of steps − 9 sigmas between the schedule's ends plus one restart
// of 9 steps from σ ≈ 2 down to the σ nearest 0.1; from 36 steps two
// restarts of steps/4 each.
func restartPlan(sigmas []float64) []restartSegment {
	steps := len(sigmas) - 1
	type restart struct{ steps, times int }
	restarts := map[int]restart{}
	const restartMin, restartMax = 0.1, 2.0
	if steps >= 20 {
		rs, times := 9, 1
		if steps >= 36 {
			rs, times = steps/4, 2
		}
		sigmas = karrasSigmas(steps-rs*times, nil, sigmaArgs{sigmaMin: sigmas[len(sigmas)-2], sigmaMax: sigmas[0], rho: 7})
		restarts[argminAbs(sigmas, restartMin)] = restart{rs + 1, times}
	}
	var plan []restartSegment
	for i := range len(sigmas) - 1 {
		plan = append(plan, restartSegment{sigmas[i], sigmas[i+1]})
		r, ok := restarts[i+1]
		if !ok {
			continue
		}
		minIdx, maxIdx := i+1, argminAbs(sigmas, restartMax)
		if maxIdx >= minIdx {
			continue
		}
		sr := karrasSigmas(r.steps, nil, sigmaArgs{sigmaMin: sigmas[minIdx], sigmaMax: sigmas[maxIdx], rho: 7})
		sr = sr[:len(sr)-1]
		for range r.times {
			for j := range len(sr) - 1 {
				plan = append(plan, restartSegment{sr[j], sr[j+1]})
			}
		}
	}
	return plan
}

// sampleRestart is A1111's modules/sd_samplers_extra.py restart_sampler
// (Restart Sampling, Xu et al. 2023): Heun steps along restartPlan; when the
// plan jumps back up to a larger σ, fresh noise of σ_old² − σ_last² is added
// first. A1111 passes it no s_noise, so the noise is unscaled. The callback
// runs once per Heun step.
func sampleRestart(ctx context.Context, d Denoiser, x Latent, sigmas []float64, n Noise, o Options) (Latent, error) {
	x = x.Clone()
	x2 := NewLatent(x.Shape...)
	last := math.NaN()
	for step, seg := range restartPlan(sigmas) {
		if math.IsNaN(last) {
			last = seg.from
		} else if last < seg.from {
			addNoise(x, n, math.Sqrt(seg.from*seg.from-last*last))
		}
		den, err := denoise(ctx, d, x, seg.from)
		if err != nil {
			return Latent{}, err
		}
		dt := seg.to - seg.from
		if seg.to == 0 {
			eulerTo(x, den, seg.from, seg.to)
		} else {
			for j, v := range x.Data {
				x2.Data[j] = float32(float64(v) + (float64(v)-float64(den.Data[j]))/seg.from*dt)
			}
			den2, err := denoise(ctx, d, x2, seg.to)
			if err != nil {
				return Latent{}, err
			}
			for j, v := range x.Data {
				d1 := (float64(v) - float64(den.Data[j])) / seg.from
				d2 := (float64(x2.Data[j]) - float64(den2.Data[j])) / seg.to
				x.Data[j] = float32(float64(v) + (d1+d2)/2*dt)
			}
		}
		last = seg.to
		o.report(step, seg.to, x, den)
	}
	return x, nil
}
