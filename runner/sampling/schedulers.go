package sampling

import "math"

// SigmaParams are A1111's schedule options. Zero values mean "the default":
// the model's σmin/σmax, the scheduler's default ρ, Beta(0.6, 0.6).
type SigmaParams struct {
	SigmaMin, SigmaMax float64 // opts.sigma_min / opts.sigma_max
	Rho                float64 // opts.rho; used only by schedulers with a default ρ
	BetaAlpha          float64 // opts.beta_dist_alpha (0.6)
	BetaBeta           float64 // opts.beta_dist_beta (0.6)
	// AlwaysDiscardNextToLastSigma is opts.always_discard_next_to_last_sigma.
	AlwaysDiscardNextToLastSigma bool
}

// Scheduler is one entry of A1111's sd_schedulers.schedulers.
type Scheduler struct {
	Name           string   // e.g. "karras"
	Label          string   // e.g. "Karras"
	Aliases        []string // nil when A1111 lists none
	DefaultRho     float64  // -1 when the scheduler has no ρ
	NeedInnerModel bool
	fn             func(n int, s *Schedule, p sigmaArgs) []float64 // nil for Automatic
}

// sigmaArgs are the resolved arguments A1111 passes to a scheduler function.
type sigmaArgs struct {
	sigmaMin, sigmaMax, rho, betaA, betaB float64
}

// Sigmas returns the schedule for n steps with A1111's defaults; Automatic
// gives the model's uniform schedule. Most schedulers return n+1 values ending
// in 0; A1111's KL Optimal ends at σmin instead, and DDIM's count follows
// 1000//n (see ddimSigmas).
func (sc *Scheduler) Sigmas(n int, s *Schedule) []float64 {
	return sc.SigmasWith(n, s, SigmaParams{})
}

// SigmasWith is Sigmas with A1111's schedule options applied as
// KDiffusionSampler.get_sigmas applies them.
func (sc *Scheduler) SigmasWith(n int, s *Schedule, p SigmaParams) []float64 {
	if n < 1 {
		return []float64{0}
	}
	if sc.fn == nil {
		return s.UniformSigmas(n)
	}
	a := sigmaArgs{sigmaMin: s.SigmaMin(), sigmaMax: s.SigmaMax(), rho: sc.DefaultRho, betaA: 0.6, betaB: 0.6}
	if p.SigmaMin != 0 {
		a.sigmaMin = p.SigmaMin
	}
	if p.SigmaMax != 0 {
		a.sigmaMax = p.SigmaMax
	}
	if sc.DefaultRho != -1 && p.Rho != 0 {
		a.rho = p.Rho
	}
	if p.BetaAlpha != 0 {
		a.betaA = p.BetaAlpha
	}
	if p.BetaBeta != 0 {
		a.betaB = p.BetaBeta
	}
	// A1111's schedulers all hand back float32 tensors (torch.FloatTensor for
	// those computed in numpy or Python floats).
	out := sc.fn(n, s, a)
	for i, v := range out {
		out[i] = float64(float32(v))
	}
	return out
}

var schedulers = []*Scheduler{
	{Name: "automatic", Label: "Automatic", DefaultRho: -1},
	{Name: "uniform", Label: "Uniform", DefaultRho: -1, NeedInnerModel: true, fn: uniformSigmas},
	{Name: "karras", Label: "Karras", DefaultRho: 7, fn: karrasSigmas},
	{Name: "exponential", Label: "Exponential", DefaultRho: -1, fn: exponentialSigmas},
	{Name: "polyexponential", Label: "Polyexponential", DefaultRho: 1, fn: polyexponentialSigmas},
	{Name: "sgm_uniform", Label: "SGM Uniform", DefaultRho: -1, NeedInnerModel: true, Aliases: []string{"SGMUniform"}, fn: sgmUniformSigmas},
	{Name: "kl_optimal", Label: "KL Optimal", DefaultRho: -1, fn: klOptimalSigmas},
	{Name: "align_your_steps", Label: "Align Your Steps", DefaultRho: -1, fn: alignYourStepsSigmas},
	{Name: "simple", Label: "Simple", DefaultRho: -1, NeedInnerModel: true, fn: simpleSigmas},
	{Name: "normal", Label: "Normal", DefaultRho: -1, NeedInnerModel: true, fn: normalSigmas},
	{Name: "ddim", Label: "DDIM", DefaultRho: -1, NeedInnerModel: true, fn: ddimSigmas},
	{Name: "beta", Label: "Beta", DefaultRho: -1, NeedInnerModel: true, fn: betaSigmas},
}

// Schedulers returns A1111 1.10's schedulers in its order (as
// /sdapi/v1/schedulers lists them). The slice is a copy; the entries are shared.
func Schedulers() []*Scheduler { return append([]*Scheduler(nil), schedulers...) }

// FindScheduler looks a scheduler up by name or label, case-sensitively, as
// A1111's sd_schedulers.schedulers_map does (aliases are not keys there).
func FindScheduler(nameOrLabel string) (*Scheduler, bool) {
	for _, sc := range schedulers {
		if sc.Name == nameOrLabel || sc.Label == nameOrLabel {
			return sc, true
		}
	}
	return nil, false
}

func uniformSigmas(n int, s *Schedule, _ sigmaArgs) []float64 { return s.UniformSigmas(n) }

// karrasSigmas is k-diffusion get_sigmas_karras as torch evaluates it: a
// float32 ramp = linspace(0, 1, n); σmin^(1/ρ) and σmax^(1/ρ) in float64
// (Python floats), rounded to float32 where they meet the tensor; then
// (max + ramp·(min − max))^ρ in float32.
func karrasSigmas(n int, _ *Schedule, a sigmaArgs) []float64 {
	minInv := math.Pow(a.sigmaMin, 1/a.rho)
	maxInv := math.Pow(a.sigmaMax, 1/a.rho)
	d, m := float32(minInv-maxInv), float32(maxInv)
	out := make([]float64, 0, n+1)
	for _, r := range torchLinspace32(0, 1, n) {
		out = append(out, float64(pow32(m+float32(r*d), a.rho)))
	}
	return append(out, 0)
}

// exponentialSigmas is k-diffusion get_sigmas_exponential: exp of a float32
// linspace(log σmax, log σmin, n), the logs taken in float64.
func exponentialSigmas(n int, _ *Schedule, a sigmaArgs) []float64 {
	out := make([]float64, 0, n+1)
	for _, l := range torchLinspace32(float32(math.Log(a.sigmaMax)), float32(math.Log(a.sigmaMin)), n) {
		out = append(out, float64(exp32(l)))
	}
	return append(out, 0)
}

// polyexponentialSigmas is k-diffusion get_sigmas_polyexponential:
// exp(linspace(1, 0, n)^ρ·(log σmax − log σmin) + log σmin) in float32.
func polyexponentialSigmas(n int, _ *Schedule, a sigmaArgs) []float64 {
	lmin, lmax := math.Log(a.sigmaMin), math.Log(a.sigmaMax)
	span, lo := float32(lmax-lmin), float32(lmin)
	out := make([]float64, 0, n+1)
	for _, r := range torchLinspace32(1, 0, n) {
		p := float32(pow32(r, a.rho) * span)
		out = append(out, float64(exp32(p+lo)))
	}
	return append(out, 0)
}

// sgmUniformSigmas is A1111 sgm_uniform: n timesteps from the float32
// linspace(t(σmax), t(σmin), n+1)[:-1].
func sgmUniformSigmas(n int, s *Schedule, a sigmaArgs) []float64 {
	ts := torchLinspace32(float32(s.SigmaToT(a.sigmaMax)), float32(s.SigmaToT(a.sigmaMin)), n+1)[:n]
	out := make([]float64, 0, n+1)
	for _, t := range ts {
		out = append(out, float64(s.tToSigma32(t)))
	}
	return append(out, 0)
}

// klOptimalSigmas is A1111 kl_optimal. Like A1111 it has n+1 values and ends
// at σmin, not 0.
func klOptimalSigmas(n int, _ *Schedule, a sigmaArgs) []float64 {
	amin, amax := math.Atan(a.sigmaMin), math.Atan(a.sigmaMax)
	out := make([]float64, n+1)
	for i := range out {
		f := float64(i) / float64(n)
		out[i] = math.Tan(f*amin + (1-f)*amax)
	}
	return out
}

var (
	aysSD15 = []float64{14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029}
	aysSDXL = []float64{14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113, 0.029}
)

// alignYourStepsSigmas is A1111 get_align_your_steps_sigmas: NVIDIA's 10-step
// table, log-linearly resampled to n values unless n is 11.
func alignYourStepsSigmas(n int, s *Schedule, _ sigmaArgs) []float64 {
	table := aysSD15
	if s.SDXL {
		table = aysSDXL
	}
	if n == len(table) {
		return append(append([]float64(nil), table...), 0)
	}
	k := len(table)
	xs := linspace(0, 1, k)
	ys := make([]float64, k) // log of the reversed (ascending) table
	for i := range ys {
		ys[i] = math.Log(table[k-1-i])
	}
	out := make([]float64, n, n+1)
	for i, x := range linspace(0, 1, n) {
		out[n-1-i] = math.Exp(interp(x, xs, ys))
	}
	return append(out, 0)
}

// interp is numpy.interp for increasing xs.
func interp(x float64, xs, ys []float64) float64 {
	if x <= xs[0] {
		return ys[0]
	}
	last := len(xs) - 1
	if x >= xs[last] {
		return ys[last]
	}
	for i := 1; i <= last; i++ {
		if x <= xs[i] {
			w := (x - xs[i-1]) / (xs[i] - xs[i-1])
			return ys[i-1] + w*(ys[i]-ys[i-1])
		}
	}
	return ys[last]
}

// simpleSigmas is A1111 simple_scheduler: every len/n-th training sigma from the top.
func simpleSigmas(n int, s *Schedule, _ sigmaArgs) []float64 {
	ss := float64(len(s.Sigmas)) / float64(n)
	out := make([]float64, 0, n+1)
	for x := 0; x < n; x++ {
		out = append(out, s.Sigmas[len(s.Sigmas)-1-int(float64(x)*ss)])
	}
	return append(out, 0)
}

// normalSigmas is A1111 normal_scheduler (sgm=False): n timesteps from the
// float32 linspace(t(σmax), t(σmin), n).
func normalSigmas(n int, s *Schedule, a sigmaArgs) []float64 {
	out := make([]float64, 0, n+1)
	for _, t := range torchLinspace32(float32(s.SigmaToT(a.sigmaMax)), float32(s.SigmaToT(a.sigmaMin)), n) {
		out = append(out, float64(s.tToSigma32(t)))
	}
	return append(out, 0)
}

// ddimSigmas is A1111 ddim_scheduler: training sigmas 1, 1+k, 1+2k, … below
// len with k = max(len//n, 1), reversed, then 0. Like A1111 it can return more
// than n steps when n does not divide the training length (n = 7 gives 8).
func ddimSigmas(n int, s *Schedule, _ sigmaArgs) []float64 {
	ss := max(len(s.Sigmas)/n, 1)
	var sigs []float64
	for x := 1; x < len(s.Sigmas); x += ss {
		sigs = append(sigs, s.Sigmas[x])
	}
	out := make([]float64, 0, len(sigs)+1)
	for i := len(sigs) - 1; i >= 0; i-- {
		out = append(out, sigs[i])
	}
	return append(out, 0)
}

// betaSigmas is A1111 beta_scheduler ("Beta Sampling is All You Need"):
// σ = σmin + ppf(1 − i/(n−1); α, β)·(σmax − σmin).
func betaSigmas(n int, _ *Schedule, a sigmaArgs) []float64 {
	out := make([]float64, 0, n+1)
	for _, u := range linspace(0, 1, n) {
		x := betaPPF(1-u, a.betaA, a.betaB)
		out = append(out, a.sigmaMin+x*(a.sigmaMax-a.sigmaMin))
	}
	return append(out, 0)
}
