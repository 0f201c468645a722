package sampling

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// Reference values from crowsonkb/k-diffusion at A1111 1.10's pinned commit
// (ab527a9, "Release 0.0.16"): sample_dpm_fast and sample_dpm_adaptive run in
// float64 under torch 1.13 on the Gaussian problem of sampler_test.go, 16
// values x0 = 1.5·sin(0.37j + 0.2)·σmax, SD 1.x's float32 σmin/σmax, and
// noise draw k = sin(1.3k + 0.7j + 0.1) (each rounded to float32), with
// their noise-draw and step (callback) counts.
func TestDPMSolversMatchKDiffusion(t *testing.T) {
	tests := []struct {
		name          string
		steps         int
		eta           float64
		draws, events int
		want          []float64
	}{
		{"DPM fast", 6, 0, 3, 3, []float64{0.853483288, 1.16734163, 1.41396931, 1.55998629, 1.58562999, 1.48742965, 1.2786761, 0.987623267, 0.653663777, 0.32199744, 0.0375137712, -0.16128371, -0.247488715, -0.20943378, -0.052269477, 0.202732763}},
		{"DPM fast", 10, 0, 4, 4, []float64{0.823657668, 1.07652553, 1.27522732, 1.39286957, 1.41353006, 1.33441248, 1.16622494, 0.931730913, 0.662668058, 0.395452738, 0.166251322, 0.00608513512, -0.0633680928, -0.0327081785, 0.0939151917, 0.299364154}},
		{"DPM fast", 20, 0, 7, 7, []float64{0.825487156, 1.08209614, 1.28373768, 1.40312042, 1.42408658, 1.34379847, 1.17312263, 0.935159321, 0.66211574, 0.390947029, 0.158354628, -0.00418118265, -0.0746619558, -0.0435484348, 0.0849483003, 0.293436835}},
		{"DPM adaptive", 20, 0, 8, 10, []float64{0.828629678, 1.09166482, 1.29835598, 1.42072837, 1.44221958, 1.35992085, 1.18497085, 0.941048317, 0.66116702, 0.383207545, 0.14479043, -0.0218156962, -0.0940614898, -0.062168806, 0.0695458189, 0.283255444}},
		{"DPM fast", 6, 1, 3, 3, []float64{1.13701391, 2.08938301, 2.51855607, 2.29321592, 1.56110111, 0.673870174, 0.0207185687, -0.150864835, 0.156584025, 0.702962407, 1.13645129, 1.17181835, 0.735578522, 0.00824950575, -0.657211609, -0.902882786}},
		{"DPM fast", 10, 1, 4, 4, []float64{1.16517117, 1.296117, 1.1710923, 0.862106336, 0.522300062, 0.312863014, 0.327037553, 0.546977316, 0.853653774, 1.08494685, 1.1143133, 0.912706033, 0.56429741, 0.228332702, 0.0648594305, 0.15917858}},
		{"DPM fast", 20, 1, 7, 7, []float64{0.745649268, 0.632403339, 0.561643659, 0.572440552, 0.663144608, 0.79169838, 0.895335282, 0.920411607, 0.848299583, 0.705073069, 0.550306107, 0.450108243, 0.446936217, 0.540257793, 0.687075904, 0.822029965}},
		{"DPM adaptive", 20, 1, 10, 13, []float64{0.792587977, 0.83805592, 0.827501826, 0.770712965, 0.69725377, 0.642174767, 0.629459898, 0.661006437, 0.716285245, 0.762766337, 0.772102311, 0.73433846, 0.663347722, 0.590832144, 0.551641206, 0.567280825}},
	}
	s := SD1()
	for _, tc := range tests {
		sm, _ := FindSampler(tc.name)
		x := NewLatent(1, len(tc.want))
		for j := range x.Data {
			x.Data[j] = float32(float64(float32(math.Sin(0.37*float64(j)+0.2)*1.5)) * s.SigmaMax())
		}
		draws, events := 0, 0
		noise := NoiseFunc(func(_ int, dst []float32) {
			for j := range dst {
				dst[j] = float32(math.Sin(1.3*float64(draws) + 0.7*float64(j) + 0.1))
			}
			draws++
		})
		o := sm.DefaultOptions()
		o.Eta = tc.eta
		o.Callback = func(StepInfo) { events++ }
		out, err := sm.SampleRange(t.Context(), gaussDenoiser, x, s.SigmaMin(), s.SigmaMax(), tc.steps, noise, o)
		if err != nil {
			t.Fatal(err)
		}
		// float32 latents against a float64 reference; the adaptive
		// controller's step sizes follow the float32 error estimate.
		tol := 1e-5
		if tc.name == "DPM adaptive" {
			tol = 5e-4
		}
		worst := 0.0
		for j, w := range tc.want {
			worst = math.Max(worst, math.Abs(float64(out.Data[j])-w))
		}
		if worst > tol || draws != tc.draws || events != tc.events {
			t.Errorf("%s %d steps eta %g: max diff %.2e, %d noise draws, %d callbacks; want ≤ %.0e, %d, %d",
				tc.name, tc.steps, tc.eta, worst, draws, events, tol, tc.draws, tc.events)
		}
	}
}

// Reference values for A1111 1.10's restart_sampler (modules/sd_samplers_extra.py)
// and LCMCompVisDenoiser.get_sigmas / sigma_to_t (modules/sd_samplers_lcm.py),
// evaluated with torch 1.13 and k-diffusion ab527a9 on SD 1.x's float32
// schedule, the Gaussian problem and the noise of
// TestDPMSolversMatchKDiffusion: the Restart step plan as float32 bits
// (from:to), the final latent, and the noise draws.
func TestRestartMatchesA1111(t *testing.T) {
	tests := []struct {
		steps, draws int
		plan         string
		want         []float64
	}{
		{10, 0, "4169d594:4111a59e 4111a59e:40af4f0c 40af4f0c:404aca7f 404aca7f:3fdfed1b 3fdfed1b:3f6a00ec 3f6a00ec:3ee4d2d0 3ee4d2d0:3e4e3bc2 3e4e3bc2:3da7c0ff 3da7c0ff:3ceef0c3 3ceef0c3:00000000",
			[]float64{0.833509337, 1.1065229, 1.32105503, 1.4480697, 1.4703762, 1.38495541, 1.20336856, 0.950192655, 0.659693866, 0.371189803, 0.123728169, -0.0491982775, -0.124184766, -0.0910822107, 0.0456291006, 0.26744595}},
		{20, 1, "4169d594:4118eeab 4118eeab:40c2a10d 40c2a10d:407014ad 407014ad:400edbba 400edbba:3fa315df 3fa315df:3f314c86 3f314c86:3eb5dac7 3eb5dac7:3e2dd508 3e2dd508:3d984bf5 400edbba:3fd26858 3fd26858:3f98cbda 3f98cbda:3f5a8b33 3f5a8b33:3f19ad34 3f19ad34:3ed42190 3ed42190:3e8f6773 3e8f6773:3e3d7094 3e3d7094:3df3ccb8 3df3ccb8:3d984bf5 3d984bf5:3ceef0c3 3ceef0c3:00000000",
			[]float64{0.778903988, 1.14457014, 1.3305316, 1.26523853, 0.988819348, 0.632932677, 0.358622317, 0.281433359, 0.418892205, 0.684804926, 0.932711758, 1.02766523, 0.912182195, 0.635014707, 0.328974047, 0.148135093}},
		{40, 2, "4169d594:413b9b1c 413b9b1c:4115717e 4115717e:40ec46ad 40ec46ad:40b942f0 40b942f0:408ffeb8 408ffeb8:405dbe8a 405dbe8a:402903a2 402903a2:3ffed67e 3ffed67e:3fbdda0d 3fbdda0d:3f8b9f07 3f8b9f07:3f4a7baa 3f4a7baa:3f1091cb 3f1091cb:3ecaf3ee 3ecaf3ee:3e8bcbde 3e8bcbde:3e3c96e5 3e3c96e5:3df88265 3ffed67e:3fc990fd 3fc990fd:3f9e23d3 3f9e23d3:3f75fc7e 3f75fc7e:3f3d885e 3f3d885e:3f1091c7 3f1091c7:3eda27b5 3eda27b5:3ea2aa34 3ea2aa34:3e6f7b4f 3e6f7b4f:3e2dd508 3e2dd508:3df88265 3ffed67e:3fc990fd 3fc990fd:3f9e23d3 3f9e23d3:3f75fc7e 3f75fc7e:3f3d885e 3f3d885e:3f1091c7 3f1091c7:3eda27b5 3eda27b5:3ea2aa34 3ea2aa34:3e6f7b4f 3e6f7b4f:3e2dd508 3e2dd508:3df88265 3df88265:3d9f757d 3d9f757d:3d4694f5 3d4694f5:3ceef0c3 3ceef0c3:00000000",
			[]float64{1.20062299, 1.23365563, 1.02374108, 0.673958651, 0.35139382, 0.208206497, 0.310006595, 0.605231243, 0.949894309, 1.17600067, 1.17135473, 0.933120171, 0.569833451, 0.250832374, 0.126819872, 0.258895016}},
	}
	s := SD1()
	sm, _ := FindSampler("Restart")
	for _, tc := range tests {
		sigmas := sm.mustSigmas(t, tc.steps, s)
		var plan []string
		for _, seg := range restartPlan(sigmas) {
			plan = append(plan, fmt.Sprintf("%08x:%08x", math.Float32bits(float32(seg.from)), math.Float32bits(float32(seg.to))))
		}
		if got := strings.Join(plan, " "); got != tc.plan {
			t.Errorf("%d steps: plan\n%s\nwant\n%s", tc.steps, got, tc.plan)
		}
		x := NewLatent(1, len(tc.want))
		for j := range x.Data {
			x.Data[j] = float32(float64(float32(math.Sin(0.37*float64(j)+0.2)*1.5)) * sigmas[0])
		}
		draws := 0
		noise := NoiseFunc(func(_ int, dst []float32) {
			for j := range dst {
				dst[j] = float32(math.Sin(1.3*float64(draws) + 0.7*float64(j) + 0.1))
			}
			draws++
		})
		out, err := sm.SampleK(t.Context(), gaussDenoiser, x, sigmas, noise, sm.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for j, w := range tc.want {
			worst = math.Max(worst, math.Abs(float64(out.Data[j])-w))
		}
		if worst > 1e-5 || draws != tc.draws {
			t.Errorf("%d steps: max diff %.2e, %d noise draws (want %d)", tc.steps, worst, draws, tc.draws)
		}
	}
}

func TestLCMMatchesA1111(t *testing.T) {
	tests := []struct {
		steps  int
		sigmas string
		ts     []float64
	}{
		{4, "4169d594 403f6d76 3f790b1f 3e09ad69 00000000", []float64{999, 679, 339, 19}},
		{8, "4169d594 40d89698 40667699 4007b411 3fa95a10 3f5471ad 3ef3f1d4 3e09ad69 00000000", []float64{999, 859, 719, 579, 439, 299, 159, 19}},
	}
	l := SD1().LCM()
	for _, tc := range tests {
		got := l.UniformSigmas(tc.steps)
		checkBits(t, fmt.Sprintf("LCM sigmas(%d)", tc.steps), got, bits32(t, tc.sigmas))
		for i, want := range tc.ts {
			if ts := l.SigmaToT(got[i]); ts != want {
				t.Errorf("LCM sigmas(%d)[%d]: timestep %v, want %v", tc.steps, i, ts, want)
			}
		}
	}
}
