package sampling

import (
	"context"
	"math"
	"slices"
	"testing"
)

func TestLCMSchedule(t *testing.T) {
	s := SD1()
	l := s.LCM()
	if len(l.Sigmas) != 50 || l.SigmaMin() != s.Sigmas[19] || l.SigmaMax() != s.Sigmas[999] || l.LCM() != l {
		t.Fatalf("LCM schedule: %d sigmas, σmin %v (want σ[19] %v), σmax %v", len(l.Sigmas), l.SigmaMin(), s.Sigmas[19], l.SigmaMax())
	}
	for _, tc := range []struct{ sigma, t float64 }{
		{s.Sigmas[999], 999}, {s.Sigmas[19], 19}, {s.Sigmas[0], 19}, {100, 999},
		{s.Sigmas[500], 499}, {s.Sigmas[519], 519}, {s.Sigmas[531], 539},
	} {
		if got := l.SigmaToT(tc.sigma); got != tc.t {
			t.Errorf("LCM SigmaToT(%v) = %v, want %v", tc.sigma, got, tc.t)
		}
	}
	// get_sigmas(4): t = linspace(999, 19, 4) mapped to index space (t−19)/20
	// (float32, so the ends are σmax and σmin up to exp(log σ) rounding).
	got := l.UniformSigmas(4)
	want := []float64{l.Sigmas[49], l.TToSigma(999 - 980.0/3), l.TToSigma(19 + 980.0/3), l.Sigmas[0], 0}
	for i := range want {
		if !near(got[i], want[i], 1e-6*want[i]) {
			t.Fatalf("LCM UniformSigmas(4) = %v, want %v", got, want)
		}
	}
	if !near(l.TToSigma(999-980.0/3), math.Exp((1.0/3)*math.Log(l.Sigmas[32])+(2.0/3)*math.Log(l.Sigmas[33])), 1e-6) {
		t.Error("LCM TToSigma does not interpolate in index space")
	}
	lcm, _ := FindSampler("LCM")
	sig, err := lcm.Sigmas(4, "Automatic", s, SigmaParams{})
	if err != nil || !slices.Equal(sig, got) {
		t.Errorf("LCM sampler sigmas %v, want its schedule's %v", sig, got)
	}
	k, _ := lcm.Sigmas(4, "Karras", s, SigmaParams{})
	if !near(k[0], l.SigmaMax(), 1e-5) || !near(k[3], l.SigmaMin(), 1e-6) { // float32 pow round trip
		t.Errorf("LCM Karras runs %v → %v, want the LCM σmax → σmin", k[0], k[3])
	}
}

// lcmFake records the timesteps and scalings the LCM sampler asks for and
// returns cSkip·x + cOut·0.5.
type lcmFake struct {
	ts, skips, outs []float64
}

func (f *lcmFake) Denoise(context.Context, Latent, float64) (Latent, error) {
	panic("LCM must call DenoiseAt")
}

func (f *lcmFake) DenoiseAt(_ context.Context, x Latent, sigma, t, cSkip, cOut float64) (Latent, error) {
	f.ts, f.skips, f.outs = append(f.ts, t), append(f.skips, cSkip), append(f.outs, cOut)
	out := NewLatent(x.Shape...)
	for j, v := range x.Data {
		out.Data[j] = float32(cSkip*float64(v) + cOut*0.5)
	}
	return out, nil
}

func TestLCMSampler(t *testing.T) {
	s := SD1()
	lcm, _ := FindSampler("LCM")
	sigmas, _ := lcm.Sigmas(4, "", s, SigmaParams{})
	x := InitialLatent(randLatent(8, 2, 16), sigmas[0])
	var zs [][]float32
	base := seededNoise(4, 2)
	noise := NoiseFunc(func(i int, dst []float32) { base.Randn(i, dst); zs = append(zs, append([]float32(nil), dst...)) })
	o := lcm.DefaultOptions()
	o.Schedule = s
	var xs []Latent
	o.Callback = func(si StepInfo) { xs = append(xs, si.X.Clone()) }
	f := &lcmFake{}
	out, err := lcm.SampleK(t.Context(), f, x, sigmas, noise, o)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.ts, []float64{999, 679, 339, 19}) {
		t.Errorf("UNet timesteps %v, want [999 679 339 19]", f.ts)
	}
	for i, tt := range f.ts {
		st := tt * 10
		if !near(f.skips[i], 0.25/(st*st+0.25), 1e-15) || !near(f.outs[i], st/math.Sqrt(st*st+0.25), 1e-15) {
			t.Errorf("step %d scalings %v, %v", i, f.skips[i], f.outs[i])
		}
	}
	// x = denoised, then + σ_next·randn while σ_next > 0: 3 draws per image.
	if len(zs) != 6 || len(xs) != 4 {
		t.Fatalf("%d noise draws, %d callbacks", len(zs), len(xs))
	}
	den0 := f.skips[0]*float64(x.Data[0]) + f.outs[0]*0.5
	if want := float32(float64(float32(den0)) + float64(zs[0][0])*sigmas[1]); xs[0].Data[0] != want {
		t.Errorf("after step 0: x[0] = %v, want %v", xs[0].Data[0], want)
	}
	last := f.skips[3]*float64(xs[2].Data[5]) + f.outs[3]*0.5
	if !near(float64(out.Data[5]), last, 1e-6) {
		t.Errorf("final x[5] = %v, want the last denoised %v", out.Data[5], last)
	}
	o.Schedule = nil
	if _, err := lcm.SampleK(t.Context(), f, x, sigmas, noise, o); err == nil {
		t.Error("LCM without the model schedule accepted")
	}
	o.Schedule = s
	if _, err := lcm.SampleK(t.Context(), gaussDenoiser, x, sigmas, noise, o); err == nil {
		t.Error("LCM on a denoiser without DenoiseAt fell back silently")
	}
}

// cfgppFake gives eps = 0.1·x + 0.3·scaleMul and uncond = −0.2·x.
type cfgppFake struct{ scaleMuls []float64 }

func (f *cfgppFake) PredictEps(context.Context, Latent, float64) (Latent, error) {
	panic("DDIM CFG++ must call PredictEpsCFGPP")
}

func (f *cfgppFake) PredictEpsCFGPP(_ context.Context, x Latent, _, scaleMul float64) (Latent, Latent, error) {
	f.scaleMuls = append(f.scaleMuls, scaleMul)
	eps, unc := NewLatent(x.Shape...), NewLatent(x.Shape...)
	for j, v := range x.Data {
		eps.Data[j] = float32(0.1*float64(v) + 0.3*scaleMul)
		unc.Data[j] = float32(-0.2 * float64(v))
	}
	return eps, unc, nil
}

func TestDDIMCFGPP(t *testing.T) {
	s := SD1()
	sm, _ := FindSampler("DDIM CFG++")
	if !sm.UsesTimesteps() {
		t.Fatal("DDIM CFG++ is a timestep sampler")
	}
	x := randLatent(3, 2, 8)
	ts := []int{1, 501}
	f := &cfgppFake{}
	out, err := sm.SampleT(t.Context(), f, x, ts, s, seededNoise(1, 2), sm.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	at, ap := s.AlphasCumprod[501], s.AlphasCumprod[1]
	for j, v := range x.Data {
		xv := float64(v)
		eps := float64(float32(0.1*xv + 0.3/12.5))
		unc := float64(float32(-0.2 * xv))
		pred := (xv - math.Sqrt(1-at)*eps) / math.Sqrt(at)
		want := math.Sqrt(ap)*pred + math.Sqrt(1-ap)*unc
		if !near(float64(out.Data[j]), want, 1e-5) {
			t.Fatalf("x[%d] = %v, want %v", j, out.Data[j], want)
		}
	}
	if !slices.Equal(f.scaleMuls, []float64{1 / 12.5}) {
		t.Errorf("CFG scale multipliers %v, want [0.08]", f.scaleMuls)
	}
	if _, err := sm.SampleT(t.Context(), gaussEps(s), x, ts, s, nil, sm.DefaultOptions()); err == nil {
		t.Error("DDIM CFG++ without the unconditional prediction fell back silently")
	}
}
