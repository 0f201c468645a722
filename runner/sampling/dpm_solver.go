package sampling

import (
	"context"
	"math"
)

// DPM fast and DPM adaptive: k-diffusion's DPMSolver class (sample_dpm_fast,
// sample_dpm_adaptive). They ignore the schedule except for its ends: they
// integrate in t = −log σ from σmax to σmin, then stop (they never step to
// σ = 0). A1111 passes them eta (opts.eta_ancestral, 1 by default), so they
// are ancestral; DPM fast also gets s_noise, DPM adaptive does not.

// dpmSolver evaluates ε through a denoiser and caches it per step by key, as
// DPMSolver.eps does: the low and high order solutions of one adaptive step
// share ε(x, s) and ε at the first stage.
type dpmSolver struct {
	d     Denoiser
	cache map[string]Latent
	// den is the denoised estimate at the step's start (for callbacks).
	den Latent
}

func dpmSigma(t float64) float64 { return math.Exp(-t) }
func dpmT(sigma float64) float64 { return -math.Log(sigma) }

// eps returns (x − D(x, σ(t)))/σ(t), cached under key.
func (s *dpmSolver) eps(ctx context.Context, key string, x Latent, t float64) (Latent, error) {
	if e, ok := s.cache[key]; ok {
		return e, nil
	}
	sig := dpmSigma(t)
	den, err := denoise(ctx, s.d, x, sig)
	if err != nil {
		return Latent{}, err
	}
	if key == "eps" {
		s.den = den
	}
	e := NewLatent(x.Shape...)
	for j, v := range x.Data {
		e.Data[j] = float32((float64(v) - float64(den.Data[j])) / sig)
	}
	s.cache[key] = e
	return e, nil
}

// step1 is dpm_solver_1_step: x − σ(t')·expm1(h)·ε.
func (s *dpmSolver) step1(ctx context.Context, x Latent, t, tNext float64) (Latent, error) {
	h := tNext - t
	e, err := s.eps(ctx, "eps", x, t)
	if err != nil {
		return Latent{}, err
	}
	c := dpmSigma(tNext) * math.Expm1(h)
	out := NewLatent(x.Shape...)
	for j, v := range x.Data {
		out.Data[j] = float32(float64(v) - c*float64(e.Data[j]))
	}
	return out, nil
}

// step2 is dpm_solver_2_step with the intermediate point at r1.
func (s *dpmSolver) step2(ctx context.Context, x Latent, t, tNext, r1 float64) (Latent, error) {
	h := tNext - t
	e, err := s.eps(ctx, "eps", x, t)
	if err != nil {
		return Latent{}, err
	}
	s1 := t + r1*h
	c1 := dpmSigma(s1) * math.Expm1(r1*h)
	u1 := NewLatent(x.Shape...)
	for j, v := range x.Data {
		u1.Data[j] = float32(float64(v) - c1*float64(e.Data[j]))
	}
	e1, err := s.eps(ctx, "eps_r1", u1, s1)
	if err != nil {
		return Latent{}, err
	}
	a := dpmSigma(tNext) * math.Expm1(h)
	b := dpmSigma(tNext) / (2 * r1) * math.Expm1(h)
	out := NewLatent(x.Shape...)
	for j, v := range x.Data {
		ej := float64(e.Data[j])
		out.Data[j] = float32(float64(v) - a*ej - b*(float64(e1.Data[j])-ej))
	}
	return out, nil
}

// step3 is dpm_solver_3_step with r1 = 1/3, r2 = 2/3.
func (s *dpmSolver) step3(ctx context.Context, x Latent, t, tNext float64) (Latent, error) {
	const r1, r2 = 1.0 / 3, 2.0 / 3
	h := tNext - t
	e, err := s.eps(ctx, "eps", x, t)
	if err != nil {
		return Latent{}, err
	}
	s1, s2 := t+r1*h, t+r2*h
	c1 := dpmSigma(s1) * math.Expm1(r1*h)
	u1 := NewLatent(x.Shape...)
	for j, v := range x.Data {
		u1.Data[j] = float32(float64(v) - c1*float64(e.Data[j]))
	}
	e1, err := s.eps(ctx, "eps_r1", u1, s1)
	if err != nil {
		return Latent{}, err
	}
	a2 := dpmSigma(s2) * math.Expm1(r2*h)
	b2 := dpmSigma(s2) * (r2 / r1) * (math.Expm1(r2*h)/(r2*h) - 1)
	u2 := NewLatent(x.Shape...)
	for j, v := range x.Data {
		ej := float64(e.Data[j])
		u2.Data[j] = float32(float64(v) - a2*ej - b2*(float64(e1.Data[j])-ej))
	}
	e2, err := s.eps(ctx, "eps_r2", u2, s2)
	if err != nil {
		return Latent{}, err
	}
	a := dpmSigma(tNext) * math.Expm1(h)
	b := dpmSigma(tNext) / r2 * (math.Expm1(h)/h - 1)
	out := NewLatent(x.Shape...)
	for j, v := range x.Data {
		ej := float64(e.Data[j])
		out.Data[j] = float32(float64(v) - a*ej - b*(float64(e2.Data[j])-ej))
	}
	return out, nil
}

// ancestralT is the ancestral split of a step from t to tNext: the t to
// solve to (never past tEnd) and the noise to add after it.
func ancestralT(t, tNext, tEnd, eta float64) (float64, float64) {
	if eta == 0 {
		return tNext, 0
	}
	sd, _ := ancestralStep(dpmSigma(t), dpmSigma(tNext), eta)
	to := math.Min(tEnd, dpmT(sd))
	su := math.Sqrt(math.Max(0, dpmSigma(tNext)*dpmSigma(tNext)-dpmSigma(to)*dpmSigma(to)))
	return to, su
}

// dpmFastOrders is DPM-Solver-Fast's order plan for nfe model evaluations.
func dpmFastOrders(nfe int) []int {
	m := nfe/3 + 1
	var orders []int
	if nfe%3 == 0 {
		for range m - 2 {
			orders = append(orders, 3)
		}
		return append(orders, 2, 1)
	}
	for range m - 1 {
		orders = append(orders, 3)
	}
	return append(orders, nfe%3)
}

// sampleDPMFast is sample_dpm_fast(σmin, σmax, n): n model evaluations in
// ⌊n/3⌋+1 steps of order 3 (then 2, 1) evenly spaced in t. The callback runs
// once per step, so a 20-step run reports 7 steps, as A1111's does.
func sampleDPMFast(ctx context.Context, d Denoiser, x Latent, sigmaMin, sigmaMax float64, nfe int, n Noise, o Options) (Latent, error) {
	if sigmaMin <= 0 || sigmaMax <= 0 {
		return Latent{}, errSigmaRange
	}
	tStart, tEnd := dpmT(sigmaMax), dpmT(sigmaMin)
	orders := dpmFastOrders(nfe)
	ts := linspace(tStart, tEnd, nfe/3+2)
	x = x.Clone()
	s := &dpmSolver{d: d}
	for i, order := range orders {
		s.cache = map[string]Latent{}
		t, tNext := ts[i], ts[i+1]
		to, su := ancestralT(t, tNext, tEnd, o.Eta)
		var err error
		if _, err = s.eps(ctx, "eps", x, t); err != nil {
			return Latent{}, err
		}
		switch order {
		case 1:
			x, err = s.step1(ctx, x, t, to)
		case 2:
			x, err = s.step2(ctx, x, t, to, 0.5)
		default:
			x, err = s.step3(ctx, x, t, to)
		}
		if err != nil {
			return Latent{}, err
		}
		// A1111 draws the noise on every step, also when it is scaled by 0.
		addNoiseAlways(x, n, su*o.SNoise)
		o.report(i, dpmSigma(t), x, s.den)
	}
	return x, nil
}

// pidController is k-diffusion's PIDStepSizeController.
type pidController struct {
	h, b1, b2, b3, acceptSafety, eps float64
	errs                             []float64
}

func newPID(h, p, i, d, order, acceptSafety float64) *pidController {
	return &pidController{h: h, b1: (p + i + d) / order, b2: -(p + 2*d) / order, b3: d / order, acceptSafety: acceptSafety, eps: 1e-8}
}

// propose scales h by the limited PID factor and reports whether the step
// whose error was err is accepted.
func (c *pidController) propose(err float64) bool {
	inv := 1 / (err + c.eps)
	if c.errs == nil {
		c.errs = []float64{inv, inv, inv}
	}
	c.errs[0] = inv
	f := math.Pow(c.errs[0], c.b1) * math.Pow(c.errs[1], c.b2) * math.Pow(c.errs[2], c.b3)
	f = 1 + math.Atan(f-1)
	accept := f >= c.acceptSafety
	if accept {
		c.errs[2], c.errs[1] = c.errs[1], c.errs[0]
	}
	c.h *= f
	return accept
}

// DPM adaptive's fixed parameters (sample_dpm_adaptive's defaults; A1111
// passes none of them).
const (
	dpmAdaptiveOrder = 3
	dpmAdaptiveRtol  = 0.05
	dpmAdaptiveAtol  = 0.0078
	dpmAdaptiveHInit = 0.05
)

// sampleDPMAdaptive is sample_dpm_adaptive(σmin, σmax) with order 3: an
// embedded DPM-Solver-2/3 pair and an I controller (safety 0.81) choose the
// steps; the step count follows the error, not the request. Every attempt,
// accepted or not, calls the callback (A1111's progress counts them). A1111
// passes no s_noise to it, so its noise is unscaled.
func sampleDPMAdaptive(ctx context.Context, d Denoiser, x Latent, sigmaMin, sigmaMax float64, _ int, n Noise, o Options) (Latent, error) {
	return dpmAdaptive(ctx, d, x, sigmaMin, sigmaMax, dpmAdaptiveRtol, dpmAdaptiveAtol, n, o)
}

// dpmAdaptive is DPMSolver.dpm_solver_adaptive with order 3 and the given
// tolerances.
func dpmAdaptive(ctx context.Context, d Denoiser, x Latent, sigmaMin, sigmaMax, rtol, atol float64, n Noise, o Options) (Latent, error) {
	if sigmaMin <= 0 || sigmaMax <= 0 {
		return Latent{}, errSigmaRange
	}
	tStart, tEnd := dpmT(sigmaMax), dpmT(sigmaMin)
	order := float64(dpmAdaptiveOrder)
	if o.Eta != 0 {
		order = 1.5
	}
	pid := newPID(dpmAdaptiveHInit, 0, 1, 0, order, 0.81)
	x = x.Clone()
	prev := x
	sv := &dpmSolver{d: d}
	s := tStart
	for step := 0; s < tEnd-1e-5; step++ {
		sv.cache = map[string]Latent{}
		t := math.Min(tEnd, s+pid.h)
		to, su := ancestralT(s, t, tEnd, o.Eta)
		if _, err := sv.eps(ctx, "eps", x, s); err != nil {
			return Latent{}, err
		}
		low, err := sv.step2(ctx, x, s, to, 1.0/3)
		if err != nil {
			return Latent{}, err
		}
		high, err := sv.step3(ctx, x, s, to)
		if err != nil {
			return Latent{}, err
		}
		sum := 0.0
		for j, lv := range low.Data {
			l := float64(lv)
			delta := math.Max(atol, rtol*math.Max(math.Abs(l), math.Abs(float64(prev.Data[j]))))
			q := (l - float64(high.Data[j])) / delta
			sum += q * q
		}
		errNorm := math.Sqrt(sum) / math.Sqrt(float64(len(x.Data)))
		if pid.propose(errNorm) {
			prev = low
			x = high
			addNoiseAlways(x, n, su)
			s = t
		}
		o.report(step, dpmSigma(s), x, sv.den)
	}
	return x, nil
}
