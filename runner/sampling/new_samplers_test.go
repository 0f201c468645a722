package sampling

import (
	"context"
	"math"
	"slices"
	"testing"
)

// countingDenoiser wraps gaussDenoiser and counts model evaluations.
func countingDenoiser(calls *int) Denoiser {
	return DenoiserFunc(func(ctx context.Context, x Latent, sigma float64) (Latent, error) {
		*calls++
		return gaussDenoiser.Denoise(ctx, x, sigma)
	})
}

func TestDPMFastOrders(t *testing.T) {
	tests := []struct {
		nfe  int
		want []int
	}{
		{1, []int{1}},
		{2, []int{2}},
		{3, []int{2, 1}},
		{4, []int{3, 1}},
		{6, []int{3, 2, 1}},
		{20, []int{3, 3, 3, 3, 3, 3, 2}},
	}
	for _, tc := range tests {
		got := dpmFastOrders(tc.nfe)
		sum := 0
		for _, o := range got {
			sum += o
		}
		if !slices.Equal(got, tc.want) || sum != tc.nfe {
			t.Errorf("dpmFastOrders(%d) = %v, want %v", tc.nfe, got, tc.want)
		}
	}
}

// DPM fast and DPM adaptive at eta 0 solve the probability-flow ODE from
// σmax to σmin: on the Gaussian problem they must land on its exact solution
// there, with exactly n model evaluations (fast) and one callback per step.
func TestDPMSolversSolveTheODE(t *testing.T) {
	s := SD1()
	tests := []struct {
		name          string
		steps         int
		tol           float64
		calls, events int // −1: not fixed
	}{
		{"DPM fast", 6, 0.5, 6, 3}, // orders 3, 2, 1 over h ≈ 2 each
		{"DPM fast", 20, 5e-3, 20, 7},
		{"DPM fast", 60, 3e-4, 60, 21},     // ends with orders 2, 1
		{"DPM adaptive", 20, 6e-2, -1, -1}, // A1111's rtol 0.05, atol 0.0078
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sm, _ := FindSampler(tc.name)
			if !sm.UsesSigmaRange() || sm.UsesTimesteps() {
				t.Fatal("not a sigma-range sampler")
			}
			z := randLatent(1, 2, 4, 8, 8)
			x := InitialLatent(z, s.SigmaMax())
			o := sm.DefaultOptions()
			o.Eta = 0
			events := 0
			o.Callback = func(StepInfo) { events++ }
			calls := 0
			out, err := sm.SampleRange(t.Context(), countingDenoiser(&calls), x, s.SigmaMin(), s.SigmaMax(), tc.steps, seededNoise(2, 2), o)
			if err != nil {
				t.Fatal(err)
			}
			e := maxAbsErr(out, func(i int) float64 { return odeSolution(float64(x.Data[i]), s.SigmaMax(), s.SigmaMin()) })
			t.Logf("%d steps: max error %.2e, %d model calls, %d callbacks", tc.steps, e, calls, events)
			if e > tc.tol {
				t.Errorf("max error %.2e > %.0e", e, tc.tol)
			}
			if tc.calls >= 0 && (calls != tc.calls || events != tc.events) {
				t.Errorf("%d model calls and %d callbacks, want %d and %d", calls, events, tc.calls, tc.events)
			}
			if tc.calls < 0 && (calls != 3*events || events < 3) {
				t.Errorf("adaptive: %d calls for %d attempts (order 3 makes 3 per attempt)", calls, events)
			}
		})
	}
}

// With tight tolerances the adaptive controller takes more steps and the
// embedded pair converges on the exact solution.
func TestDPMAdaptiveTolerance(t *testing.T) {
	s := SD1()
	x := InitialLatent(randLatent(1, 2, 4, 8, 8), s.SigmaMax())
	o := Options{SNoise: 1}
	var errs, calls []float64
	for _, rtol := range []float64{0.05, 1e-3, 1e-5} {
		c := 0
		out, err := dpmAdaptive(t.Context(), countingDenoiser(&c), x, s.SigmaMin(), s.SigmaMax(), rtol, rtol/10, nil, o)
		if err != nil {
			t.Fatal(err)
		}
		errs = append(errs, maxAbsErr(out, func(i int) float64 { return odeSolution(float64(x.Data[i]), s.SigmaMax(), s.SigmaMin()) }))
		calls = append(calls, float64(c))
	}
	t.Logf("max errors %.2e, model calls %v", errs, calls)
	if !(errs[2] < 1e-4 && errs[1] < errs[0] && calls[2] > calls[1] && calls[1] > calls[0]) {
		t.Errorf("tighter tolerances do not converge: errors %v, calls %v", errs, calls)
	}
}

// At A1111's default eta 1 both are ancestral: from the exact marginal at
// σmax they end near the data distribution's marginal at σmin, drawing noise
// per image on every (accepted) step.
func TestDPMSolversAncestral(t *testing.T) {
	s := SD1()
	for _, name := range []string{"DPM fast", "DPM adaptive"} {
		t.Run(name, func(t *testing.T) {
			sm, _ := FindSampler(name)
			const batch = 2
			z := randLatent(3, batch, 4000)
			x := NewLatent(z.Shape...)
			scale := math.Sqrt(gaussS*gaussS + s.SigmaMax()*s.SigmaMax())
			for i, v := range z.Data {
				x.Data[i] = float32(gaussMu + float64(v)*scale)
			}
			draws := make([]int, batch)
			base := seededNoise(7, batch)
			noise := NoiseFunc(func(i int, dst []float32) { draws[i]++; base.Randn(i, dst) })
			o := sm.DefaultOptions()
			if o.Eta != 1 {
				t.Fatalf("default eta %v, want A1111's eta_ancestral 1", o.Eta)
			}
			events := 0
			o.Callback = func(StepInfo) { events++ }
			out, err := sm.SampleRange(t.Context(), gaussDenoiser, x, s.SigmaMin(), s.SigmaMax(), 30, noise, o)
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
			wantStd := math.Sqrt(gaussS*gaussS + s.SigmaMin()*s.SigmaMin())
			t.Logf("mean %.4f std %.4f (want %.2f %.4f), draws %v, callbacks %d", mean, std, gaussMu, wantStd, draws, events)
			if math.Abs(mean-gaussMu) > 0.04 || math.Abs(std-wantStd) > 0.04 {
				t.Errorf("mean %.4f std %.4f", mean, std)
			}
			if draws[0] == 0 || draws[0] != draws[1] || draws[0] > events {
				t.Errorf("noise draws %v for %d steps", draws, events)
			}
			if name == "DPM fast" && draws[0] != events {
				t.Errorf("DPM fast drew %d times in %d steps; A1111 draws every step", draws[0], events)
			}
		})
	}
}

// SampleK runs DPM fast as A1111's sample_img2img does: between the
// schedule's first and last non-zero sigma, with len−1 model evaluations.
func TestDPMFastImg2ImgRange(t *testing.T) {
	s := SD1()
	sm, _ := FindSampler("DPM fast")
	sigmas, err := sm.Sigmas(10, "Automatic", s, SigmaParams{})
	if err != nil {
		t.Fatal(err)
	}
	sched := sigmas[5:]
	x := InitialLatent(randLatent(4, 1, 16), sched[0])
	o := sm.DefaultOptions()
	o.Eta = 0
	calls := 0
	got, err := sm.SampleK(t.Context(), countingDenoiser(&calls), x, sched, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	calls2 := 0
	want, err := sm.SampleRange(t.Context(), countingDenoiser(&calls2), x, sched[len(sched)-2], sched[0], len(sched)-1, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Data, want.Data) || calls != len(sched)-1 {
		t.Errorf("SampleK made %d calls (want %d) or differs from SampleRange", calls, len(sched)-1)
	}
	if _, err := sm.SampleRange(t.Context(), gaussDenoiser, x, 0, 1, 4, nil, o); err == nil {
		t.Error("σmin 0 accepted (k-diffusion refuses it)")
	}
	euler, _ := FindSampler("Euler")
	if _, err := euler.SampleRange(t.Context(), gaussDenoiser, x, 0.1, 1, 4, nil, o); err == nil {
		t.Error("SampleRange on a schedule sampler accepted")
	}
}

func TestRestartPlan(t *testing.T) {
	s := SD1()
	sm, _ := FindSampler("Restart")
	for _, steps := range []int{10, 19, 20, 35, 36, 50} {
		sigmas := sm.mustSigmas(t, steps, s)
		plan := restartPlan(sigmas)
		ups := 0
		for i := 1; i < len(plan); i++ {
			if plan[i].from > plan[i-1].to {
				ups++
			}
		}
		wantUps := 0
		switch {
		case steps >= 36:
			wantUps = 2
		case steps >= 20:
			wantUps = 1
		}
		if len(plan) != steps || ups != wantUps {
			t.Errorf("%d steps: plan of %d segments with %d restarts, want %d and %d", steps, len(plan), ups, steps, wantUps)
		}
		if plan[0].from != sigmas[0] || plan[len(plan)-1].to != 0 {
			t.Errorf("%d steps: plan runs %v → %v", steps, plan[0].from, plan[len(plan)-1].to)
		}
		if wantUps > 0 {
			// The restart climbs back to the σ nearest 2 from the σ nearest 0.1.
			for i := 1; i < len(plan); i++ {
				if plan[i].from > plan[i-1].to && (math.Abs(plan[i].from-2) > 0.6 || math.Abs(plan[i-1].to-0.1) > 0.06) {
					t.Errorf("%d steps: restart from %v up to %v", steps, plan[i-1].to, plan[i].from)
				}
			}
		}
	}
}

// Below 20 steps Restart is Heun; from 20 steps it adds noise only at the
// restart jump and still ends near the ODE solution's distribution.
func TestRestartSampler(t *testing.T) {
	s := SD1()
	restart, _ := FindSampler("Restart")
	heun, _ := FindSampler("Heun")
	sigmas := restart.mustSigmas(t, 10, s)
	x := InitialLatent(randLatent(5, 2, 64), sigmas[0])
	got, err := restart.SampleK(t.Context(), gaussDenoiser, x, sigmas, nil, restart.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	want, err := heun.SampleK(t.Context(), gaussDenoiser, x, sigmas, nil, heun.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Data, want.Data) {
		t.Error("Restart below 20 steps differs from Heun")
	}

	sigmas = restart.mustSigmas(t, 20, s)
	draws, events, calls := make([]int, 2), 0, 0
	base := seededNoise(6, 2)
	noise := NoiseFunc(func(i int, dst []float32) { draws[i]++; base.Randn(i, dst) })
	o := restart.DefaultOptions()
	o.SNoise = 5 // A1111 passes no s_noise to restart_sampler: ignored
	o.Callback = func(StepInfo) { events++ }
	x = InitialLatent(randLatent(5, 2, 4000), sigmas[0])
	out, err := restart.SampleK(t.Context(), countingDenoiser(&calls), x, sigmas, noise, o)
	if err != nil {
		t.Fatal(err)
	}
	// 11 Karras steps + 9 restart steps; every Heun step but the last one to 0 calls the model twice.
	if events != 20 || calls != 2*20-1 || draws[0] != 1 || draws[1] != 1 {
		t.Errorf("%d callbacks, %d model calls, noise draws %v; want 20, 39, [1 1]", events, calls, draws)
	}
	e := maxAbsErr(out, func(i int) float64 { return odeSolution(float64(x.Data[i]), sigmas[0], 0) })
	var sum, sq float64
	for _, v := range out.Data {
		sum += float64(v)
	}
	mean := sum / float64(len(out.Data))
	for _, v := range out.Data {
		sq += (float64(v) - mean) * (float64(v) - mean)
	}
	std := math.Sqrt(sq / float64(len(out.Data)))
	t.Logf("20 steps: mean %.4f std %.4f, max distance to the ODE path %.3f", mean, std, e)
	if math.Abs(mean-gaussMu) > 0.03 || math.Abs(std-gaussS) > 0.03 || e == 0 {
		t.Errorf("mean %.4f std %.4f, distance %.3f", mean, std, e)
	}
}
