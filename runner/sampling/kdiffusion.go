package sampling

import (
	"context"
	"math"
)

// The k-diffusion ODE/ancestral samplers (k_diffusion/sampling.py), on float32
// latents with float64 coefficients. Each returns a new latent.

// ancestralStep is get_ancestral_step(σ_from, σ_to, eta): the σ to step down to
// and the noise to add.
func ancestralStep(from, to, eta float64) (down, up float64) {
	if eta == 0 {
		return to, 0
	}
	up = math.Min(to, eta*math.Sqrt(math.Max(0, to*to*(from*from-to*to)/(from*from))))
	down = math.Sqrt(math.Max(0, to*to-up*up))
	return down, up
}

// addNoise does x += randn·scale, image by image from n.
func addNoise(x Latent, n Noise, scale float64) {
	if scale == 0 {
		return
	}
	z := randnLike(n, x)
	for j, v := range z.Data {
		x.Data[j] = float32(float64(x.Data[j]) + float64(v)*scale)
	}
}

// addNoiseAlways does x += randn·scale and draws the noise even when scale
// is 0, for the samplers whose A1111 code calls the noise sampler
// unconditionally (the draw advances each image's generator).
func addNoiseAlways(x Latent, n Noise, scale float64) {
	if n == nil && scale == 0 { // nothing to advance
		return
	}
	z := randnLike(n, x)
	for j, v := range z.Data {
		x.Data[j] = float32(float64(x.Data[j]) + float64(v)*scale)
	}
}

// eulerTo does x += (x − den)/σ · (σnext − σ) in place.
func eulerTo(x, den Latent, sigma, next float64) {
	dt := next - sigma
	for j, v := range x.Data {
		d := (float64(v) - float64(den.Data[j])) / sigma
		x.Data[j] = float32(float64(v) + d*dt)
	}
}

// churn applies Karras' s_churn step to x in place and returns σ̂.
func churn(x Latent, sigma float64, steps int, n Noise, o Options) float64 {
	gamma := 0.0
	if o.STmin <= sigma && sigma <= o.STmax {
		gamma = math.Min(o.SChurn/float64(steps), math.Sqrt2-1)
	}
	hat := sigma * (gamma + 1)
	if gamma > 0 {
		addNoise(x, n, o.SNoise*math.Sqrt(hat*hat-sigma*sigma))
	}
	return hat
}

// sampleEuler is sample_euler (Karras et al. Algorithm 2 with Euler steps).
func sampleEuler(ctx context.Context, d Denoiser, x Latent, sigmas []float64, n Noise, o Options) (Latent, error) {
	x = x.Clone()
	steps := len(sigmas) - 1
	for i := range steps {
		hat := churn(x, sigmas[i], steps, n, o)
		den, err := denoise(ctx, d, x, hat)
		if err != nil {
			return Latent{}, err
		}
		eulerTo(x, den, hat, sigmas[i+1])
		o.report(i, sigmas[i], x, den)
	}
	return x, nil
}

// sampleHeun is sample_heun: Heun's method, Euler on the last step to σ = 0.
func sampleHeun(ctx context.Context, d Denoiser, x Latent, sigmas []float64, n Noise, o Options) (Latent, error) {
	x = x.Clone()
	steps := len(sigmas) - 1
	x2 := NewLatent(x.Shape...)
	for i := range steps {
		hat := churn(x, sigmas[i], steps, n, o)
		den, err := denoise(ctx, d, x, hat)
		if err != nil {
			return Latent{}, err
		}
		next := sigmas[i+1]
		if next == 0 {
			eulerTo(x, den, hat, next)
		} else {
			dt := next - hat
			for j, v := range x.Data {
				x2.Data[j] = float32(float64(v) + (float64(v)-float64(den.Data[j]))/hat*dt)
			}
			den2, err := denoise(ctx, d, x2, next)
			if err != nil {
				return Latent{}, err
			}
			for j, v := range x.Data {
				d1 := (float64(v) - float64(den.Data[j])) / hat
				d2 := (float64(x2.Data[j]) - float64(den2.Data[j])) / next
				x.Data[j] = float32(float64(v) + (d1+d2)/2*dt)
			}
		}
		o.report(i, sigmas[i], x, den)
	}
	return x, nil
}

// dpm2Step does the DPM-Solver-2 midpoint step from σ̂ to `to`, with the
// midpoint at the geometric mean (log-space lerp), in place.
func dpm2Step(ctx context.Context, d Denoiser, x, den Latent, hat, to float64) error {
	mid := math.Exp((math.Log(hat) + math.Log(to)) / 2)
	x2 := NewLatent(x.Shape...)
	for j, v := range x.Data {
		x2.Data[j] = float32(float64(v) + (float64(v)-float64(den.Data[j]))/hat*(mid-hat))
	}
	den2, err := denoise(ctx, d, x2, mid)
	if err != nil {
		return err
	}
	dt := to - hat
	for j := range x.Data {
		d2 := (float64(x2.Data[j]) - float64(den2.Data[j])) / mid
		x.Data[j] = float32(float64(x.Data[j]) + d2*dt)
	}
	return nil
}

// sampleDPM2 is sample_dpm_2.
func sampleDPM2(ctx context.Context, d Denoiser, x Latent, sigmas []float64, n Noise, o Options) (Latent, error) {
	x = x.Clone()
	steps := len(sigmas) - 1
	for i := range steps {
		hat := churn(x, sigmas[i], steps, n, o)
		den, err := denoise(ctx, d, x, hat)
		if err != nil {
			return Latent{}, err
		}
		if sigmas[i+1] == 0 {
			eulerTo(x, den, hat, 0)
		} else if err := dpm2Step(ctx, d, x, den, hat, sigmas[i+1]); err != nil {
			return Latent{}, err
		}
		o.report(i, sigmas[i], x, den)
	}
	return x, nil
}

// sampleEulerAncestral is sample_euler_ancestral.
func sampleEulerAncestral(ctx context.Context, d Denoiser, x Latent, sigmas []float64, n Noise, o Options) (Latent, error) {
	x = x.Clone()
	for i := range len(sigmas) - 1 {
		den, err := denoise(ctx, d, x, sigmas[i])
		if err != nil {
			return Latent{}, err
		}
		down, up := ancestralStep(sigmas[i], sigmas[i+1], o.Eta)
		eulerTo(x, den, sigmas[i], down)
		if sigmas[i+1] > 0 {
			addNoise(x, n, o.SNoise*up)
		}
		o.report(i, sigmas[i], x, den)
	}
	return x, nil
}

// sampleDPM2Ancestral is sample_dpm_2_ancestral.
func sampleDPM2Ancestral(ctx context.Context, d Denoiser, x Latent, sigmas []float64, n Noise, o Options) (Latent, error) {
	x = x.Clone()
	for i := range len(sigmas) - 1 {
		den, err := denoise(ctx, d, x, sigmas[i])
		if err != nil {
			return Latent{}, err
		}
		down, up := ancestralStep(sigmas[i], sigmas[i+1], o.Eta)
		if down == 0 {
			eulerTo(x, den, sigmas[i], 0)
		} else {
			if err := dpm2Step(ctx, d, x, den, sigmas[i], down); err != nil {
				return Latent{}, err
			}
			addNoise(x, n, o.SNoise*up)
		}
		o.report(i, sigmas[i], x, den)
	}
	return x, nil
}

// lmsCoeff is linear_multistep_coeff: ∫_{σ_i}^{σ_{i+1}} of the Lagrange basis
// polynomial j over σ_i, σ_{i−1}, …. The integrand has degree order−1 ≤ 3, so
// 2-point Gauss–Legendre is exact (k-diffusion uses scipy quad).
func lmsCoeff(order int, t []float64, i, j int) float64 {
	fn := func(tau float64) float64 {
		p := 1.0
		for k := range order {
			if k == j {
				continue
			}
			p *= (tau - t[i-k]) / (t[i-j] - t[i-k])
		}
		return p
	}
	a, b := t[i], t[i+1]
	half, mid := (b-a)/2, (a+b)/2
	g := 1 / math.Sqrt(3)
	return half * (fn(mid-half*g) + fn(mid+half*g))
}

// sampleLMS is sample_lms with order 4.
func sampleLMS(ctx context.Context, d Denoiser, x Latent, sigmas []float64, _ Noise, o Options) (Latent, error) {
	const order = 4
	x = x.Clone()
	var ds [][]float64 // newest last
	for i := range len(sigmas) - 1 {
		den, err := denoise(ctx, d, x, sigmas[i])
		if err != nil {
			return Latent{}, err
		}
		dv := make([]float64, len(x.Data))
		for j, v := range x.Data {
			dv[j] = (float64(v) - float64(den.Data[j])) / sigmas[i]
		}
		ds = append(ds, dv)
		if len(ds) > order {
			ds = ds[1:]
		}
		cur := min(i+1, order)
		for j := range cur {
			c := lmsCoeff(cur, sigmas, i, j)
			dj := ds[len(ds)-1-j]
			for k := range x.Data {
				x.Data[k] = float32(float64(x.Data[k]) + c*dj[k])
			}
		}
		o.report(i, sigmas[i], x, den)
	}
	return x, nil
}

// sampleDPMPP2SAncestral is sample_dpmpp_2s_ancestral (r = 1/2).
func sampleDPMPP2SAncestral(ctx context.Context, d Denoiser, x Latent, sigmas []float64, n Noise, o Options) (Latent, error) {
	x = x.Clone()
	x2 := NewLatent(x.Shape...)
	for i := range len(sigmas) - 1 {
		den, err := denoise(ctx, d, x, sigmas[i])
		if err != nil {
			return Latent{}, err
		}
		down, up := ancestralStep(sigmas[i], sigmas[i+1], o.Eta)
		if down == 0 {
			eulerTo(x, den, sigmas[i], down)
		} else {
			t, tNext := -math.Log(sigmas[i]), -math.Log(down)
			h := tNext - t
			s := t + h/2
			a1, b1 := math.Exp(-s)/math.Exp(-t), -math.Expm1(-h/2)
			for j, v := range x.Data {
				x2.Data[j] = float32(a1*float64(v) + b1*float64(den.Data[j]))
			}
			den2, err := denoise(ctx, d, x2, math.Exp(-s))
			if err != nil {
				return Latent{}, err
			}
			a2, b2 := math.Exp(-tNext)/math.Exp(-t), -math.Expm1(-h)
			for j, v := range x.Data {
				x.Data[j] = float32(a2*float64(v) + b2*float64(den2.Data[j]))
			}
		}
		if sigmas[i+1] > 0 {
			addNoise(x, n, o.SNoise*up)
		}
		o.report(i, sigmas[i], x, den)
	}
	return x, nil
}

// sampleDPMPP2M is sample_dpmpp_2m.
func sampleDPMPP2M(ctx context.Context, d Denoiser, x Latent, sigmas []float64, _ Noise, o Options) (Latent, error) {
	x = x.Clone()
	var old Latent
	for i := range len(sigmas) - 1 {
		den, err := denoise(ctx, d, x, sigmas[i])
		if err != nil {
			return Latent{}, err
		}
		if sigmas[i+1] == 0 {
			// σ_next/σ = 0 and −expm1(−∞) = 1: the step lands on den.
			copy(x.Data, den.Data)
		} else {
			t, tNext := -math.Log(sigmas[i]), -math.Log(sigmas[i+1])
			h := tNext - t
			a, b := sigmas[i+1]/sigmas[i], -math.Expm1(-h)
			if old.Data == nil {
				for j, v := range x.Data {
					x.Data[j] = float32(a*float64(v) + b*float64(den.Data[j]))
				}
			} else {
				hLast := t + math.Log(sigmas[i-1])
				r := hLast / h
				c1, c2 := 1+1/(2*r), 1/(2*r)
				for j, v := range x.Data {
					dd := c1*float64(den.Data[j]) - c2*float64(old.Data[j])
					x.Data[j] = float32(a*float64(v) + b*dd)
				}
			}
		}
		old = den
		o.report(i, sigmas[i], x, den)
	}
	return x, nil
}
