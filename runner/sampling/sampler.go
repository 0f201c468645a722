package sampling

import (
	"context"
	"errors"
	"fmt"
)

// ErrNoSteps is returned when a schedule or timestep list has nothing to do.
var ErrNoSteps = errors.New("sampling: need at least one step")

// errSigmaRange is k-diffusion's refusal of a zero σmin or σmax (DPM fast,
// DPM adaptive).
var errSigmaRange = errors.New("sampling: sigma_min and sigma_max must not be 0")

type kFunc func(ctx context.Context, d Denoiser, x Latent, sigmas []float64, n Noise, o Options) (Latent, error)
type tFunc func(ctx context.Context, m EpsPredictor, x Latent, ts []int, s *Schedule, n Noise, o Options) (Latent, error)

// rFunc is a sampler that takes only the ends of the schedule and a count
// (k-diffusion's sample_dpm_fast and sample_dpm_adaptive).
type rFunc func(ctx context.Context, d Denoiser, x Latent, sigmaMin, sigmaMax float64, n int, noise Noise, o Options) (Latent, error)

// Sampler is one entry of A1111's sd_samplers.all_samplers, with the fields
// /sdapi/v1/samplers reports (name, aliases, options) and the math to run it.
type Sampler struct {
	Name    string
	Aliases []string
	// Options are A1111's sampler options: "scheduler" (the Automatic
	// scheduler's name), "second_order", "brownian_noise", "uses_ensd",
	// "discard_next_to_last_sigma", "solver_type".
	Options map[string]any
	kfn     kFunc
	tfn     tFunc
	rfn     rFunc
	// lcm marks A1111's LCM sampler: its own 50-timestep schedule
	// (LCMSchedule) and denoiser scaling.
	lcm bool
}

// UsesTimesteps reports whether the sampler is a timestep sampler (DDIM,
// PLMS, UniPC): run it with DDIMTimesteps and SampleT, on plain randn, with an
// EpsPredictor. The others are k-diffusion samplers: Sigmas, InitialLatent,
// SampleK, Denoiser.
func (sm *Sampler) UsesTimesteps() bool { return sm.tfn != nil }

// UsesSigmaRange reports whether the sampler integrates between two sigmas
// instead of walking a schedule (DPM fast, DPM adaptive). For txt2img run it
// with SampleRange on the model's σmin, σmax and the requested steps, as
// A1111's KDiffusionSampler.sample does; SampleK runs it the img2img way.
func (sm *Sampler) UsesSigmaRange() bool { return sm.rfn != nil }

// ModelSchedule is the schedule the sampler's denoiser sees: LCM's
// 50-timestep LCMSchedule for LCM, s itself for the others. Sigmas uses it.
func (sm *Sampler) ModelSchedule(s *Schedule) *Schedule {
	if sm.lcm {
		return s.LCM()
	}
	return s
}

// DefaultScheduler is the name of the scheduler "Automatic" means for this
// sampler: its "scheduler" option, or "uniform" (the model's own schedule).
func (sm *Sampler) DefaultScheduler() string {
	if s, ok := sm.Options["scheduler"].(string); ok {
		return s
	}
	return "uniform"
}

func (sm *Sampler) flag(name string) bool {
	b, _ := sm.Options[name].(bool)
	return b
}

// DefaultOptions returns A1111's defaults for this sampler: eta 1
// (opts.eta_ancestral) for k-diffusion samplers and 0 (opts.eta_ddim) for
// timestep samplers; s_churn 0, s_tmin 0, s_tmax +Inf, s_noise 1; UniPC bh1,
// order 3, lower_order_final.
func (sm *Sampler) DefaultOptions() Options {
	o := Options{Eta: 1, STmax: inf, SNoise: 1, UniPCVariant: "bh1", UniPCOrder: 3, UniPCLowerOrderFinal: true}
	if sm.UsesTimesteps() {
		o.Eta = 0
	}
	return o
}

// Sigmas computes the sampler's sigmas for steps as A1111's
// KDiffusionSampler.get_sigmas does: "Automatic" (or "") becomes the
// sampler's default scheduler; an unknown scheduler gives the uniform
// schedule; with discard_next_to_last_sigma (DPM2, DPM2 a, DPM++ 3M SDE, or
// p.AlwaysDiscardNextToLastSigma) it makes steps+1 sigmas and drops the
// penultimate one.
func (sm *Sampler) Sigmas(steps int, scheduler string, s *Schedule, p SigmaParams) ([]float64, error) {
	if steps < 1 {
		return nil, ErrNoSteps
	}
	discard := sm.flag("discard_next_to_last_sigma") || p.AlwaysDiscardNextToLastSigma
	if discard {
		steps++
	}
	if scheduler == "" || scheduler == "Automatic" {
		scheduler = sm.DefaultScheduler()
	}
	s = sm.ModelSchedule(s)
	var sigmas []float64
	if sc, ok := FindScheduler(scheduler); ok {
		sigmas = sc.SigmasWith(steps, s, p)
	} else {
		sigmas = s.UniformSigmas(steps)
	}
	if discard && len(sigmas) >= 2 {
		sigmas = append(sigmas[:len(sigmas)-2:len(sigmas)-2], sigmas[len(sigmas)-1])
	}
	return sigmas, nil
}

// SampleK runs a k-diffusion sampler from x (already scaled by sigmas[0])
// down the sigmas, drawing ancestral/SDE noise from n. x is not modified.
// A sigma-range sampler (DPM fast, DPM adaptive) runs as A1111's
// sample_img2img runs it: from sigmas[0] to the last non-final sigma with
// len(sigmas)−1 steps.
func (sm *Sampler) SampleK(ctx context.Context, d Denoiser, x Latent, sigmas []float64, n Noise, o Options) (Latent, error) {
	if sm.kfn == nil && sm.rfn == nil {
		return Latent{}, fmt.Errorf("sampling: %s is a timestep sampler; use SampleT", sm.Name)
	}
	if err := x.Validate(); err != nil {
		return Latent{}, err
	}
	if len(sigmas) < 2 {
		return Latent{}, ErrNoSteps
	}
	if sm.rfn != nil {
		return sm.rfn(ctx, d, x, sigmas[len(sigmas)-2], sigmas[0], len(sigmas)-1, n, o)
	}
	return sm.kfn(ctx, d, x, sigmas, n, o)
}

// SampleRange runs a sigma-range sampler (UsesSigmaRange) from x (already
// scaled by the schedule's first sigma) between sigmaMax and sigmaMin with
// steps as its step count (DPM fast: model evaluations; DPM adaptive:
// ignored). x is not modified.
func (sm *Sampler) SampleRange(ctx context.Context, d Denoiser, x Latent, sigmaMin, sigmaMax float64, steps int, n Noise, o Options) (Latent, error) {
	if sm.rfn == nil {
		return Latent{}, fmt.Errorf("sampling: %s walks a schedule; use SampleK or SampleT", sm.Name)
	}
	if err := x.Validate(); err != nil {
		return Latent{}, err
	}
	if steps < 1 {
		return Latent{}, ErrNoSteps
	}
	return sm.rfn(ctx, d, x, sigmaMin, sigmaMax, steps, n, o)
}

// SampleT runs a timestep sampler from x (plain randn) over ts (ascending, as
// DDIMTimesteps returns them). x is not modified.
func (sm *Sampler) SampleT(ctx context.Context, m EpsPredictor, x Latent, ts []int, s *Schedule, n Noise, o Options) (Latent, error) {
	if sm.tfn == nil {
		return Latent{}, fmt.Errorf("sampling: %s is a k-diffusion sampler; use SampleK", sm.Name)
	}
	if err := x.Validate(); err != nil {
		return Latent{}, err
	}
	if len(ts) < 2 {
		return Latent{}, ErrNoSteps
	}
	return sm.tfn(ctx, m, x, ts, s, n, o)
}

// DDIMTimesteps is A1111's CompVisSampler.get_timesteps:
// clip(range(0, 1000, 1000//steps) + 1, 0, 999), with one more step when
// discardNextToLast is set. 4 steps give [1 251 501 751]. The timestep samplers
// make len−1 UNet steps over it (DDIM's "N steps, N−1 calls" quirk).
func DDIMTimesteps(steps int, discardNextToLast bool) []int {
	if discardNextToLast {
		steps++
	}
	if steps < 1 {
		return nil
	}
	stride := max(1000/steps, 1)
	var ts []int
	for t := 0; t < 1000; t += stride {
		ts = append(ts, min(max(t+1, 0), 999))
	}
	return ts
}

// denoise calls d and checks the result's size.
func denoise(ctx context.Context, d Denoiser, x Latent, sigma float64) (Latent, error) {
	if err := ctx.Err(); err != nil {
		return Latent{}, err
	}
	den, err := d.Denoise(ctx, x, sigma)
	if err != nil {
		return Latent{}, err
	}
	if len(den.Data) != len(x.Data) {
		return Latent{}, fmt.Errorf("sampling: denoiser returned %d values for %d", len(den.Data), len(x.Data))
	}
	return den, nil
}

// predictEps calls m and checks the result's size.
func predictEps(ctx context.Context, m EpsPredictor, x Latent, t float64) (Latent, error) {
	if err := ctx.Err(); err != nil {
		return Latent{}, err
	}
	eps, err := m.PredictEps(ctx, x, t)
	if err != nil {
		return Latent{}, err
	}
	if len(eps.Data) != len(x.Data) {
		return Latent{}, fmt.Errorf("sampling: eps model returned %d values for %d", len(eps.Data), len(x.Data))
	}
	return eps, nil
}
