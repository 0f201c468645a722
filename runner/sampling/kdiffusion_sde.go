package sampling

import (
	"context"
	"math"
)

// The DPM-Solver++ SDE samplers. A1111 feeds them a torchsde
// BrownianTreeNoiseSampler seeded with the images' seeds; here the Brownian
// increments come from the caller's Noise instead (same distribution, not the
// same numbers). Within a DPM++ SDE step the two overlapping increments
// W(σ→σ_s) and W(σ→σ_next) are drawn consistently with a Brownian bridge.

// sampleDPMPPSDE is sample_dpmpp_sde with r = 1/2.
func sampleDPMPPSDE(ctx context.Context, d Denoiser, x Latent, sigmas []float64, n Noise, o Options) (Latent, error) {
	const r = 0.5
	x = x.Clone()
	x2 := NewLatent(x.Shape...)
	sigmaFn := func(t float64) float64 { return math.Exp(-t) }
	tFn := func(s float64) float64 { return -math.Log(s) }
	for i := range len(sigmas) - 1 {
		den, err := denoise(ctx, d, x, sigmas[i])
		if err != nil {
			return Latent{}, err
		}
		if sigmas[i+1] == 0 {
			eulerTo(x, den, sigmas[i], 0)
			o.report(i, sigmas[i], x, den)
			continue
		}
		t, tNext := tFn(sigmas[i]), tFn(sigmas[i+1])
		h := tNext - t
		s := t + h*r
		fac := 1 / (2 * r)

		// Brownian increments (normalised): z1 over [σ_s, σ], z2 over [σ_next, σ].
		sig, sigS, sigN := sigmaFn(t), sigmaFn(s), sigmaFn(tNext)
		z1 := randnLike(n, x)
		zRest := randnLike(n, x)
		d1, dAll := sig-sigS, sig-sigN
		w1, w2 := math.Sqrt(d1/dAll), math.Sqrt((dAll-d1)/dAll)

		// Step 1
		sd, su := ancestralStep(sig, sigS, o.Eta)
		s1 := tFn(sd)
		a, b := sigmaFn(s1)/sig, -math.Expm1(t-s1)
		for j, v := range x.Data {
			x2.Data[j] = float32(a*float64(v) + b*float64(den.Data[j]) + float64(z1.Data[j])*o.SNoise*su)
		}
		den2, err := denoise(ctx, d, x2, sigS)
		if err != nil {
			return Latent{}, err
		}

		// Step 2
		sd, su = ancestralStep(sig, sigN, o.Eta)
		tn := tFn(sd)
		a, b = sigmaFn(tn)/sig, -math.Expm1(t-tn)
		for j, v := range x.Data {
			dd := (1-fac)*float64(den.Data[j]) + fac*float64(den2.Data[j])
			z2 := w1*float64(z1.Data[j]) + w2*float64(zRest.Data[j])
			x.Data[j] = float32(a*float64(v) + b*dd + z2*o.SNoise*su)
		}
		o.report(i, sigmas[i], x, den)
	}
	return x, nil
}

func sampleDPMPP2MSDEMidpoint(ctx context.Context, d Denoiser, x Latent, sigmas []float64, n Noise, o Options) (Latent, error) {
	return sampleDPMPP2MSDE(ctx, d, x, sigmas, n, o, false)
}

func sampleDPMPP2MSDEHeun(ctx context.Context, d Denoiser, x Latent, sigmas []float64, n Noise, o Options) (Latent, error) {
	return sampleDPMPP2MSDE(ctx, d, x, sigmas, n, o, true)
}

// sampleDPMPP2MSDE is sample_dpmpp_2m_sde with solver_type midpoint or heun.
func sampleDPMPP2MSDE(ctx context.Context, d Denoiser, x Latent, sigmas []float64, n Noise, o Options, heun bool) (Latent, error) {
	x = x.Clone()
	var old Latent
	var hLast float64
	for i := range len(sigmas) - 1 {
		den, err := denoise(ctx, d, x, sigmas[i])
		if err != nil {
			return Latent{}, err
		}
		if sigmas[i+1] == 0 {
			copy(x.Data, den.Data)
		} else {
			t, s := -math.Log(sigmas[i]), -math.Log(sigmas[i+1])
			h := s - t
			etaH := o.Eta * h
			a := sigmas[i+1] / sigmas[i] * math.Exp(-etaH)
			b := -math.Expm1(-h - etaH)
			var c float64
			if old.Data != nil {
				r := hLast / h
				if heun {
					c = (b/(-h-etaH) + 1) / r
				} else {
					c = 0.5 * b / r
				}
			}
			for j, v := range x.Data {
				nv := a*float64(v) + b*float64(den.Data[j])
				if old.Data != nil {
					nv += c * (float64(den.Data[j]) - float64(old.Data[j]))
				}
				x.Data[j] = float32(nv)
			}
			if o.Eta != 0 {
				addNoise(x, n, sigmas[i+1]*math.Sqrt(-math.Expm1(-2*etaH))*o.SNoise)
			}
			hLast = h
		}
		old = den
		o.report(i, sigmas[i], x, den)
	}
	return x, nil
}

// sampleDPMPP3MSDE is sample_dpmpp_3m_sde.
func sampleDPMPP3MSDE(ctx context.Context, d Denoiser, x Latent, sigmas []float64, n Noise, o Options) (Latent, error) {
	x = x.Clone()
	var den1, den2 Latent
	var h1, h2 float64
	have1, have2 := false, false
	for i := range len(sigmas) - 1 {
		den, err := denoise(ctx, d, x, sigmas[i])
		if err != nil {
			return Latent{}, err
		}
		var h float64
		if sigmas[i+1] == 0 {
			copy(x.Data, den.Data)
		} else {
			t, s := -math.Log(sigmas[i]), -math.Log(sigmas[i+1])
			h = s - t
			hEta := h * (o.Eta + 1)
			a, b := math.Exp(-hEta), -math.Expm1(-hEta)
			phi2 := math.Expm1(-hEta)/hEta + 1
			phi3 := phi2/hEta - 0.5
			for j, v := range x.Data {
				dn := float64(den.Data[j])
				nv := a*float64(v) + b*dn
				switch {
				case have2:
					r0, r1 := h1/h, h2/h
					d10 := (dn - float64(den1.Data[j])) / r0
					d11 := (float64(den1.Data[j]) - float64(den2.Data[j])) / r1
					dd1 := d10 + (d10-d11)*r0/(r0+r1)
					dd2 := (d10 - d11) / (r0 + r1)
					nv += phi2*dd1 - phi3*dd2
				case have1:
					r := h1 / h
					nv += phi2 * (dn - float64(den1.Data[j])) / r
				}
				x.Data[j] = float32(nv)
			}
			if o.Eta != 0 {
				addNoise(x, n, sigmas[i+1]*math.Sqrt(-math.Expm1(-2*h*o.Eta))*o.SNoise)
			}
		}
		den1, den2 = den, den1
		h1, h2 = h, h1
		have2 = have1
		have1 = true
		o.report(i, sigmas[i], x, den)
	}
	return x, nil
}
