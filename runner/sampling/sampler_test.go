package sampling

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
)

// The closed-form problem: data ~ N(mu, s²) per element. Its exact denoiser is
// D(x, σ) = (s²·x + σ²·mu)/(s² + σ²), and the probability-flow ODE from
// (x_T, σ_T) gives x(σ) = mu + (x_T − mu)·√(s²+σ²)/√(s²+σ_T²).
const (
	gaussMu = 0.7
	gaussS  = 0.5
)

func gaussD(x, sigma float64) float64 {
	return (gaussS*gaussS*x + sigma*sigma*gaussMu) / (gaussS*gaussS + sigma*sigma)
}

func odeSolution(xT, sigmaT, sigma float64) float64 {
	return gaussMu + (xT-gaussMu)*math.Sqrt(gaussS*gaussS+sigma*sigma)/math.Sqrt(gaussS*gaussS+sigmaT*sigmaT)
}

var gaussDenoiser = DenoiserFunc(func(_ context.Context, x Latent, sigma float64) (Latent, error) {
	out := NewLatent(x.Shape...)
	for i, v := range x.Data {
		out.Data[i] = float32(gaussD(float64(v), sigma))
	}
	return out, nil
})

// gaussEps is the eps-prediction version at UNet timestep t: x = √ᾱ·x0 + √(1−ᾱ)·ε.
func gaussEps(s *Schedule) EpsPredictor {
	return EpsPredictorFunc(func(_ context.Context, x Latent, t float64) (Latent, error) {
		a := s.AlphaCumprodAt(t)
		sigma := math.Sqrt((1 - a) / a)
		out := NewLatent(x.Shape...)
		for i, v := range x.Data {
			y := float64(v) / math.Sqrt(a)
			out.Data[i] = float32((y - gaussD(y, sigma)) / sigma)
		}
		return out, nil
	})
}

// seededNoise gives each image its own PCG stream, as A1111 gives each image its own generator.
func seededNoise(seed uint64, batch int) Noise {
	rngs := make([]*rand.Rand, batch)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(seed, uint64(i)))
	}
	return NoiseFunc(func(i int, dst []float32) {
		for j := range dst {
			dst[j] = float32(rngs[i].NormFloat64())
		}
	})
}

func randLatent(seed uint64, shape ...int) Latent {
	l := NewLatent(shape...)
	n := seededNoise(seed, l.Batch())
	for i := range l.Batch() {
		n.Randn(i, l.Image(i))
	}
	return l
}

func maxAbsErr(got Latent, want func(i int) float64) float64 {
	e := 0.0
	for i, v := range got.Data {
		e = math.Max(e, math.Abs(float64(v)-want(i)))
	}
	return e
}

// kError runs a k-diffusion sampler deterministically (eta 0) and returns the
// max error against the exact ODE solution at the final sigma.
func kError(t *testing.T, name string, steps int) float64 {
	t.Helper()
	sm, ok := FindSampler(name)
	if !ok {
		t.Fatalf("no sampler %s", name)
	}
	s := SD1()
	sigmas, err := sm.Sigmas(steps, "Automatic", s, SigmaParams{})
	if err != nil {
		t.Fatal(err)
	}
	z := randLatent(1, 2, 4, 8, 8)
	x := InitialLatent(z, sigmas[0])
	o := sm.DefaultOptions()
	o.Eta = 0
	out, err := sm.SampleK(t.Context(), gaussDenoiser, x, sigmas, seededNoise(9, 2), o)
	if err != nil {
		t.Fatal(err)
	}
	end := sigmas[len(sigmas)-1]
	return maxAbsErr(out, func(i int) float64 { return odeSolution(float64(x.Data[i]), sigmas[0], end) })
}

func TestDeterministicSamplersConverge(t *testing.T) {
	tests := []struct {
		name string
		tol  float64 // max error at 40 steps
		rate float64 // required err(10)/err(40) at least
	}{
		{"Euler", 0.15, 2.5},
		{"Heun", 2e-3, 3},
		{"DPM2", 2e-3, 3},
		{"LMS", 5e-3, 3},
		{"DPM++ 2M", 6e-3, 3},
		// Ancestral and SDE samplers with eta = 0 are ODE solvers too.
		{"Euler a", 0.15, 2.5},
		{"DPM2 a", 2e-3, 3},
		{"DPM++ 2S a", 6e-3, 3},
		{"DPM++ SDE", 6e-3, 3},
		{"DPM++ 2M SDE", 2e-3, 3},
		{"DPM++ 2M SDE Heun", 2e-3, 3},
		{"DPM++ 3M SDE", 6e-3, 3},
	}
	errs := map[string]float64{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e10, e20, e40 := kError(t, tc.name, 10), kError(t, tc.name, 20), kError(t, tc.name, 40)
			t.Logf("max error: 10 steps %.2e, 20 steps %.2e, 40 steps %.2e", e10, e20, e40)
			errs[tc.name] = e20
			if e40 > tc.tol {
				t.Errorf("40-step error %.2e > %.0e", e40, tc.tol)
			}
			if e10/e40 < tc.rate {
				t.Errorf("error shrinks only %.2fx from 10 to 40 steps, want ≥ %.1fx", e10/e40, tc.rate)
			}
		})
	}
	for _, hi := range []string{"Heun", "DPM++ 2M", "LMS", "DPM2"} {
		if errs[hi] >= errs["Euler"] {
			t.Errorf("%s (%.2e) does not beat Euler (%.2e) at 20 steps", hi, errs[hi], errs["Euler"])
		}
	}
}

// tError runs a timestep sampler and returns the max error against the ODE
// solution in the VE variable y = x/√ᾱ, mapped back to x at the last timestep.
func tError(t *testing.T, name string, steps int, opt func(*Options)) float64 {
	t.Helper()
	sm, _ := FindSampler(name)
	s := SD1()
	ts := DDIMTimesteps(steps, false)
	x := randLatent(2, 2, 4, 8, 8)
	o := sm.DefaultOptions()
	if opt != nil {
		opt(&o)
	}
	out, err := sm.SampleT(t.Context(), gaussEps(s), x, ts, s, seededNoise(5, 2), o)
	if err != nil {
		t.Fatal(err)
	}
	tStart, tEnd := float64(ts[len(ts)-1]), float64(ts[0])
	if name == "UniPC" {
		tStart, tEnd = 999, 0
	}
	aS, aE := s.AlphaCumprodAt(tStart), s.AlphaCumprodAt(tEnd)
	sigS, sigE := math.Sqrt((1-aS)/aS), math.Sqrt((1-aE)/aE)
	return maxAbsErr(out, func(i int) float64 {
		yT := float64(x.Data[i]) / math.Sqrt(aS)
		return math.Sqrt(aE) * odeSolution(yT, sigS, sigE)
	})
}

func TestTimestepSamplersConverge(t *testing.T) {
	errs := map[string][3]float64{}
	for _, name := range []string{"DDIM", "PLMS", "UniPC"} {
		t.Run(name, func(t *testing.T) {
			e := [3]float64{tError(t, name, 10, nil), tError(t, name, 20, nil), tError(t, name, 50, nil)}
			t.Logf("max error: 10 steps %.2e, 20 steps %.2e, 50 steps %.2e", e[0], e[1], e[2])
			errs[name] = e
			if !(e[2] < e[1] && e[1] < e[0]) {
				t.Errorf("error does not shrink with steps: %v", e)
			}
			// The last step (ts[1] → 1, or UniPC's t = 1/N + 0.999/steps → 1/N)
			// spans a large log-SNR interval that shrinks only logarithmically
			// with steps, so all three converge slowly on this problem.
			if e[2] > 0.1 {
				t.Errorf("50-step error %.2e too large", e[2])
			}
		})
	}
	for _, hi := range []string{"PLMS", "UniPC"} {
		if errs[hi][1] >= errs["DDIM"][1] {
			t.Errorf("%s (%.2e) does not beat DDIM (%.2e) at 20 steps", hi, errs[hi][1], errs["DDIM"][1])
		}
	}
	bh2 := tError(t, "UniPC", 20, func(o *Options) { o.UniPCVariant = "bh2" })
	ord2 := tError(t, "UniPC", 20, func(o *Options) { o.UniPCOrder = 2 })
	few := tError(t, "UniPC", 2, nil) // order clamped to steps
	t.Logf("UniPC 20 steps: bh2 %.2e, order 2 %.2e; 2 steps %.2e", bh2, ord2, few)
	if bh2 > 0.2 || ord2 > 0.2 || math.IsNaN(few) || few > 2 {
		t.Errorf("UniPC variants fail to converge: bh2 %.2e, order 2 %.2e, 2 steps %v", bh2, ord2, few)
	}
}

// Stochastic samplers started from the exact marginal N(mu, s²+σmax²) must end
// with samples whose mean and std approach mu and s (100 steps: Euler a and
// DDPM still shrink the std by a few percent there, a first-order bias).
func TestStochasticSamplersMatchData(t *testing.T) {
	names := []string{"Euler a", "DPM2 a", "DPM++ 2S a", "DPM++ SDE", "DPM++ 2M SDE", "DPM++ 2M SDE Heun", "DPM++ 3M SDE"}
	s := SD1()
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			sm, _ := FindSampler(name)
			sigmas, _ := sm.Sigmas(100, "Automatic", s, SigmaParams{})
			const batch = 4
			z := randLatent(3, batch, 2000)
			x := NewLatent(z.Shape...)
			scale := math.Sqrt(gaussS*gaussS + sigmas[0]*sigmas[0])
			for i, v := range z.Data {
				x.Data[i] = float32(gaussMu + float64(v)*scale)
			}
			calls := make([]int, batch)
			base := seededNoise(11, batch)
			noise := NoiseFunc(func(i int, dst []float32) { calls[i]++; base.Randn(i, dst) })
			out, err := sm.SampleK(t.Context(), gaussDenoiser, x, sigmas, noise, sm.DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			var sum, sq float64
			for _, v := range out.Data {
				sum += float64(v)
			}
			mean := sum / float64(len(out.Data))
			for _, v := range out.Data {
				sq += (float64(v) - mean) * (float64(v) - mean)
			}
			std := math.Sqrt(sq / float64(len(out.Data)))
			t.Logf("mean %.4f (want %.2f), std %.4f (want %.2f), noise draws per image %d", mean, gaussMu, std, gaussS, calls[0])
			if math.Abs(mean-gaussMu) > 0.035 || math.Abs(std-gaussS) > 0.035 {
				t.Errorf("mean %.4f std %.4f, want %.2f %.2f", mean, std, gaussMu, gaussS)
			}
			for i := 1; i < batch; i++ {
				if calls[i] != calls[0] || calls[0] == 0 {
					t.Errorf("noise draws per image %v", calls)
				}
			}
		})
	}
	// DDIM with eta = 1 is the DDPM posterior sampler: same test in x at t = 1.
	t.Run("DDIM eta 1", func(t *testing.T) {
		sm, _ := FindSampler("DDIM")
		ts := DDIMTimesteps(100, false)
		a := s.AlphasCumprod[ts[len(ts)-1]]
		z := randLatent(4, 4, 2000)
		x := NewLatent(z.Shape...)
		for i, v := range z.Data { // exact marginal at the first timestep
			x.Data[i] = float32(math.Sqrt(a)*gaussMu + float64(v)*math.Sqrt(a*gaussS*gaussS+1-a))
		}
		o := sm.DefaultOptions()
		o.Eta = 1
		out, err := sm.SampleT(t.Context(), gaussEps(s), x, ts, s, seededNoise(12, 4), o)
		if err != nil {
			t.Fatal(err)
		}
		a1 := s.AlphasCumprod[1]
		wantMean, wantStd := math.Sqrt(a1)*gaussMu, math.Sqrt(a1*gaussS*gaussS+1-a1)
		var sum, sq float64
		for _, v := range out.Data {
			sum += float64(v)
		}
		mean := sum / float64(len(out.Data))
		for _, v := range out.Data {
			sq += (float64(v) - mean) * (float64(v) - mean)
		}
		std := math.Sqrt(sq / float64(len(out.Data)))
		t.Logf("mean %.4f (want %.4f), std %.4f (want %.4f)", mean, wantMean, std, wantStd)
		if math.Abs(mean-wantMean) > 0.035 || math.Abs(std-wantStd) > 0.035 {
			t.Errorf("mean %.4f std %.4f", mean, std)
		}
	})
}

func TestSamplerPlumbing(t *testing.T) {
	s := SD1()
	euler, _ := FindSampler("Euler")
	ddim, _ := FindSampler("DDIM")
	x := randLatent(1, 1, 4)
	sigmas := euler.mustSigmas(t, 3, s)
	steps := 0
	o := euler.DefaultOptions()
	o.Callback = func(StepInfo) { steps++ }
	if _, err := euler.SampleK(t.Context(), gaussDenoiser, x, sigmas, nil, o); err != nil || steps != 3 {
		t.Errorf("callback steps %d, err %v", steps, err)
	}
	if _, err := euler.SampleT(t.Context(), gaussEps(s), x, []int{1, 2}, s, nil, o); err == nil {
		t.Error("SampleT on a k-diffusion sampler accepted")
	}
	if _, err := ddim.SampleK(t.Context(), gaussDenoiser, x, sigmas, nil, o); err == nil {
		t.Error("SampleK on a timestep sampler accepted")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := euler.SampleK(ctx, gaussDenoiser, x, sigmas, nil, o); err == nil {
		t.Error("cancelled context ignored")
	}
	bad := Latent{Shape: []int{2, 3}, Data: make([]float32, 5)}
	if _, err := euler.SampleK(t.Context(), gaussDenoiser, bad, sigmas, nil, o); err == nil {
		t.Error("bad latent accepted")
	}
	// Churn draws noise per image and still converges roughly.
	o = euler.DefaultOptions()
	o.SChurn = 1
	if _, err := euler.SampleK(t.Context(), gaussDenoiser, x, sigmas, seededNoise(1, 1), o); err != nil {
		t.Error(err)
	}
}

func (sm *Sampler) mustSigmas(t *testing.T, steps int, s *Schedule) []float64 {
	t.Helper()
	sig, err := sm.Sigmas(steps, "Automatic", s, SigmaParams{})
	if err != nil {
		t.Fatal(err)
	}
	return sig
}
