package sampling

import (
	"fmt"
	"math"
	"sort"
)

// Schedule is a discrete DDPM noise schedule seen the k-diffusion way
// (k_diffusion/external.py DiscreteSchedule): alphas_cumprod and the training
// sigmas sqrt((1 − ᾱ)/ᾱ), ascending with the timestep. Like A1111 (whose
// model holds alphas_cumprod as a float32 buffer, and k-diffusion's
// CompVisDenoiser derives sigmas and log_sigmas from it in float32), every
// value is a float32 held in a float64.
type Schedule struct {
	AlphasCumprod []float64
	Sigmas        []float64 // sigmas_train, index = timestep
	logSigmas     []float64
	// SDXL selects SDXL's table in the Align Your Steps scheduler.
	SDXL bool
	// skip is set on an LCM schedule (LCM): index i stands for UNet
	// timestep i·skip + skip − 1.
	skip int
}

// NewSchedule builds a Schedule from alphas_cumprod (values in (0, 1),
// decreasing), rounded to float32 as A1111 stores them; the sigmas are
// ((1 − ᾱ)/ᾱ)^0.5 and their logs in float32 arithmetic.
func NewSchedule(alphasCumprod []float64) (*Schedule, error) {
	if len(alphasCumprod) < 2 {
		return nil, fmt.Errorf("sampling: need at least 2 alphas_cumprod, got %d", len(alphasCumprod))
	}
	s := &Schedule{
		AlphasCumprod: append([]float64(nil), alphasCumprod...),
		Sigmas:        make([]float64, len(alphasCumprod)),
		logSigmas:     make([]float64, len(alphasCumprod)),
	}
	for i, a64 := range alphasCumprod {
		a := float32(a64)
		if !(a > 0 && a < 1) {
			return nil, fmt.Errorf("sampling: alphas_cumprod[%d] = %v is outside (0, 1)", i, a64)
		}
		sig := sqrt32((1 - a) / a)
		s.AlphasCumprod[i] = float64(a)
		s.Sigmas[i] = float64(sig)
		s.logSigmas[i] = float64(log32(sig))
		if i > 0 && s.Sigmas[i] <= s.Sigmas[i-1] {
			return nil, fmt.Errorf("sampling: sigmas are not increasing at timestep %d", i)
		}
	}
	return s, nil
}

// NewScheduleFromConfig builds a Schedule from a diffusers scheduler_config's
// beta_schedule ("scaled_linear" or "linear"), beta_start, beta_end and
// num_train_timesteps, computed as ldm's register_schedule does: betas from a
// float64 torch.linspace (of the square roots, squared, for scaled_linear,
// which is ldm's "linear"), a float64 cumulative product, then float32.
func NewScheduleFromConfig(betaSchedule string, betaStart, betaEnd float64, numTrainTimesteps int) (*Schedule, error) {
	n := numTrainTimesteps
	if n < 2 {
		return nil, fmt.Errorf("sampling: num_train_timesteps %d is too small", n)
	}
	var betas []float64
	switch betaSchedule {
	case "scaled_linear":
		betas = torchLinspace64(math.Sqrt(betaStart), math.Sqrt(betaEnd), n)
		for i, b := range betas {
			betas[i] = b * b
		}
	case "linear":
		betas = torchLinspace64(betaStart, betaEnd, n)
	default:
		return nil, fmt.Errorf("sampling: unsupported beta_schedule %q", betaSchedule)
	}
	ac := make([]float64, n)
	p := 1.0
	for i, b := range betas {
		p *= 1 - b
		ac[i] = p
	}
	return NewSchedule(ac)
}

// SD1 returns Stable Diffusion 1.x's schedule: scaled_linear betas from
// 0.00085 to 0.012 over 1000 steps (CompVis linear_start/linear_end; diffusers
// scaled_linear). σmin = 0.029167533 (float32 0x3ceef0c0), σmax = 14.614642
// (0x4169d593).
func SD1() *Schedule {
	s, err := NewScheduleFromConfig("scaled_linear", 0.00085, 0.012, 1000)
	if err != nil {
		panic(err) // constant input
	}
	return s
}

// SigmaMin is the smallest training sigma (timestep 0).
func (s *Schedule) SigmaMin() float64 { return s.Sigmas[0] }

// SigmaMax is the largest training sigma (last timestep).
func (s *Schedule) SigmaMax() float64 { return s.Sigmas[len(s.Sigmas)-1] }

// SigmaToT maps σ to a fractional timestep by linear interpolation in log σ
// (DiscreteSchedule.sigma_to_t with quantize=False), in float32 as torch
// computes it for A1111's float32 sigmas. Values outside the training range
// clamp to 0 or len−1. An LCM schedule snaps to the nearest of its timesteps
// instead.
func (s *Schedule) SigmaToT(sigma float64) float64 {
	if s.skip > 0 {
		return s.lcmSigmaToT(sigma)
	}
	ls := log32(float32(sigma))
	n := len(s.logSigmas)
	// low = last index with logSigmas[low] <= ls (0 when none), at most n−2.
	low := sort.Search(n, func(i int) bool { return float32(s.logSigmas[i]) > ls }) - 1
	low = max(0, min(low, n-2))
	lo, hi := float32(s.logSigmas[low]), float32(s.logSigmas[low+1])
	w := (lo - ls) / (lo - hi)
	w = max(0, min(1, w))
	a := float32((1 - w) * float32(low))
	b := float32(w * float32(low+1))
	return float64(a + b)
}

// TToSigma maps a fractional timestep to σ by interpolating log σ
// (DiscreteSchedule.t_to_sigma), in float32 as torch does; an LCM schedule
// first maps the timestep to its index space, (t − (skip−1))/skip.
func (s *Schedule) TToSigma(t float64) float64 {
	return float64(s.tToSigma32(float32(t)))
}

func (s *Schedule) tToSigma32(t float32) float32 {
	n := len(s.logSigmas)
	if s.skip > 0 {
		t = (t - float32(s.skip-1)) / float32(s.skip)
	}
	t = max(0, min(float32(n-1), t))
	low := float32(math.Floor(float64(t)))
	high := float32(math.Ceil(float64(t)))
	w := t - low
	a := float32((1 - w) * float32(s.logSigmas[int(low)]))
	b := float32(w * float32(s.logSigmas[int(high)]))
	return exp32(a + b)
}

// AlphaCumprodAt is ᾱ at a fractional timestep, with log √ᾱ interpolated
// linearly as UniPC's discrete NoiseScheduleVP does.
func (s *Schedule) AlphaCumprodAt(t float64) float64 {
	return math.Exp(2 * s.logAlphaAtIndex(t))
}

// logAlphaAtIndex interpolates 0.5·log ᾱ at fractional index t, extrapolating
// linearly with the outermost segments (UniPC interpolate_fn).
func (s *Schedule) logAlphaAtIndex(t float64) float64 {
	n := len(s.AlphasCumprod)
	low := int(math.Floor(t))
	if low < 0 {
		low = 0
	}
	if low > n-2 {
		low = n - 2
	}
	y0 := 0.5 * math.Log(s.AlphasCumprod[low])
	y1 := 0.5 * math.Log(s.AlphasCumprod[low+1])
	return y0 + (y1-y0)*(t-float64(low))
}

// UniformSigmas is k-diffusion's DiscreteSchedule.get_sigmas(n): n sigmas at
// t = linspace(len−1, 0, n), then 0. For an LCM schedule it is
// LCMCompVisDenoiser.get_sigmas: t = linspace(t(σmax), t(σmin), n).
func (s *Schedule) UniformSigmas(n int) []float64 {
	out := make([]float64, 0, n+1)
	tmax, tmin := float32(len(s.Sigmas)-1), float32(0)
	if s.skip > 0 {
		tmax, tmin = float32(s.SigmaToT(s.SigmaMax())), float32(s.SigmaToT(s.SigmaMin()))
	}
	for _, t := range torchLinspace32(tmax, tmin, n) {
		out = append(out, float64(s.tToSigma32(t)))
	}
	return append(out, 0)
}

// linspace is numpy/torch linspace with n points (n = 1 gives [a]).
func linspace(a, b float64, n int) []float64 {
	if n <= 0 {
		return nil
	}
	out := make([]float64, n)
	if n == 1 {
		out[0] = a
		return out
	}
	step := (b - a) / float64(n-1)
	for i := range out {
		out[i] = a + step*float64(i)
	}
	out[n-1] = b
	return out
}
