package sampling

import (
	"context"
	"fmt"
	"math"
)

// A1111's LCM sampler (modules/sd_samplers_lcm.py): LCMCompVisDenoiser sees
// only the 50 timesteps an LCM was distilled on (19, 39, …, 999), snaps every
// σ to the nearest of them, and scales its output with the consistency
// model's boundary condition; sample_lcm then jumps to each denoised estimate
// and re-noises it to the next σ.

const (
	lcmOriginalSteps = 50  // "LCM Original Timesteps"
	lcmSigmaData     = 0.5 // sigma_data of get_scaled_out
)

// LCM returns the schedule LCMCompVisDenoiser builds from s: alphas_cumprod
// at timesteps skip−1, 2·skip−1, …, len−1 (skip = len/50), whose SigmaToT
// snaps to the nearest of those timesteps and whose TToSigma maps a timestep
// back through (t − (skip−1))/skip. σmin is the training σ at timestep 19.
func (s *Schedule) LCM() *Schedule {
	if s.skip > 0 {
		return s
	}
	n := len(s.AlphasCumprod)
	skip := max(n/lcmOriginalSteps, 1)
	ac := make([]float64, lcmOriginalSteps)
	for x := range lcmOriginalSteps {
		ac[lcmOriginalSteps-1-x] = s.AlphasCumprod[n-1-x*skip]
	}
	l, err := NewSchedule(ac)
	if err != nil {
		panic(err) // a subset of a valid schedule is valid
	}
	l.skip, l.SDXL = skip, s.SDXL
	return l
}

// lcmSigmaToT is LCMCompVisDenoiser.sigma_to_t: the nearest LCM index in
// log σ (the first on a tie), as a UNet timestep.
func (s *Schedule) lcmSigmaToT(sigma float64) float64 {
	ls := math.Log(sigma)
	best, bestD := 0, math.Inf(1)
	for i, l := range s.logSigmas {
		if d := math.Abs(ls - l); d < bestD {
			best, bestD = i, d
		}
	}
	return float64(best*s.skip + s.skip - 1)
}

// LCMDenoiser is what the LCM sampler needs from the model: Denoise with
// the UNet run at an explicit timestep t, the result scaled as
// cSkip·x + cOut·denoised before any inpainting blend (A1111 blends after
// the whole LCM denoiser).
type LCMDenoiser interface {
	Denoiser
	DenoiseAt(ctx context.Context, x Latent, sigma, t, cSkip, cOut float64) (Latent, error)
}

// lcmScalings are get_scaled_out's c_skip and c_out at UNet timestep t.
func lcmScalings(t float64) (cSkip, cOut float64) {
	st := t * 10
	d := st*st + lcmSigmaData*lcmSigmaData
	return lcmSigmaData * lcmSigmaData / d, st / math.Sqrt(d)
}

// sampleLCM is sample_lcm with LCMCompVisDenoiser around d.
func sampleLCM(ctx context.Context, d Denoiser, x Latent, sigmas []float64, n Noise, o Options) (Latent, error) {
	ld, ok := d.(LCMDenoiser)
	if !ok {
		return Latent{}, fmt.Errorf("sampling: LCM needs a denoiser that runs the model at a given timestep (%T does not)", d)
	}
	if o.Schedule == nil {
		return Latent{}, fmt.Errorf("sampling: LCM needs Options.Schedule")
	}
	ls := o.Schedule.LCM()
	x = x.Clone()
	for i := range len(sigmas) - 1 {
		if err := ctx.Err(); err != nil {
			return Latent{}, err
		}
		t := ls.lcmSigmaToT(sigmas[i])
		cSkip, cOut := lcmScalings(t)
		den, err := ld.DenoiseAt(ctx, x, sigmas[i], t, cSkip, cOut)
		if err != nil {
			return Latent{}, err
		}
		if len(den.Data) != len(x.Data) {
			return Latent{}, fmt.Errorf("sampling: denoiser returned %d values for %d", len(den.Data), len(x.Data))
		}
		copy(x.Data, den.Data)
		if sigmas[i+1] > 0 {
			addNoise(x, n, sigmas[i+1])
		}
		o.report(i, sigmas[i], x, den)
	}
	return x, nil
}
