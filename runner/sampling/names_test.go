package sampling

import (
	"slices"
	"testing"
)

func TestResolveSamplerScheduler(t *testing.T) {
	tests := []struct {
		sampler, scheduler string
		wantSampler        string
		wantScheduler      string
	}{
		{"Euler a", "", "Euler a", "Automatic"},
		{"Euler a", "Automatic", "Euler a", "Automatic"},
		{"Euler", "karras", "Euler", "Karras"},
		{"Euler", "Karras", "Euler", "Karras"},
		{"Euler", "Uniform", "Euler", "Uniform"},        // no default scheduler: kept
		{"DPM++ 2M", "Karras", "DPM++ 2M", "Automatic"}, // its default: converted
		{"DPM++ 2M Karras", "", "DPM++ 2M", "Automatic"},
		{"DPM++ 2M Karras", "Exponential", "DPM++ 2M", "Automatic"}, // suffix wins
		{"DPM++ 2M SDE Karras", "", "DPM++ 2M SDE", "Karras"},
		{"DPM++ 2M SDE Exponential", "", "DPM++ 2M SDE", "Automatic"},
		{"DPM++ 2M SDE Heun Karras", "", "DPM++ 2M SDE Heun", "Karras"},
		{"LMS Karras", "", "LMS", "Karras"},
		{"DPM2 a Karras", "", "DPM2 a", "Automatic"},
		{"DPM fast", "", "DPM fast", "Automatic"},
		{"DPM adaptive Karras", "", "DPM adaptive", "Karras"},
		{"Restart", "Karras", "Restart", "Automatic"}, // its default: converted
		{"DDIM CFG++", "", "DDIM CFG++", "Automatic"},
		{"LCM", "", "LCM", "Automatic"},
		{"LCM Karras", "", "LCM", "Karras"},
		{"Euler a SGMUniform", "", "Euler a", "SGM Uniform"}, // alias only in the suffix match
		{"Euler sgm_uniform", "", "Euler", "SGM Uniform"},
		{"Euler", "SGMUniform", "Euler", "Automatic"}, // aliases are not schedulers_map keys
		{"Euler", "bogus", "Euler", "Automatic"},
		{"", "", "DPM++ 2M", "Automatic"},
		{"bogus", "", "DPM++ 2M", "Automatic"},
		{"k_euler_a", "", "DPM++ 2M", "Automatic"}, // aliases are not all_samplers_map keys
		{"euler a", "", "DPM++ 2M", "Automatic"},   // case-sensitive
		{"DDIM", "", "DDIM", "Automatic"},
		{"UniPC", "DDIM", "UniPC", "DDIM"},
		{"Euler DDIM", "", "Euler", "DDIM"},
	}
	for _, tc := range tests {
		gs, gc := ResolveSamplerScheduler(tc.sampler, tc.scheduler)
		if gs != tc.wantSampler || gc != tc.wantScheduler {
			t.Errorf("Resolve(%q, %q) = %q, %q; want %q, %q", tc.sampler, tc.scheduler, gs, gc, tc.wantSampler, tc.wantScheduler)
		}
	}
	if s, c := FixSamplerScheduler("DPM++ 2M Karras", ""); s != "DPM++ 2M" || c != "Karras" {
		t.Errorf("Fix(DPM++ 2M Karras) = %q, %q", s, c)
	}
}

func TestSamplerLists(t *testing.T) {
	var names []string
	for _, sm := range Samplers() {
		names = append(names, sm.Name)
	}
	want := []string{"DPM++ 2M", "DPM++ SDE", "DPM++ 2M SDE", "DPM++ 2M SDE Heun", "DPM++ 2S a", "DPM++ 3M SDE",
		"Euler a", "Euler", "LMS", "Heun", "DPM2", "DPM2 a", "DPM fast", "DPM adaptive", "Restart",
		"DDIM", "DDIM CFG++", "PLMS", "UniPC", "LCM"}
	if !slices.Equal(names, want) {
		t.Errorf("Samplers() = %q", names)
	}
	var labels []string
	for _, sc := range Schedulers() {
		labels = append(labels, sc.Label)
	}
	wantLabels := []string{"Automatic", "Uniform", "Karras", "Exponential", "Polyexponential", "SGM Uniform",
		"KL Optimal", "Align Your Steps", "Simple", "Normal", "DDIM", "Beta"}
	if !slices.Equal(labels, wantLabels) {
		t.Errorf("Schedulers() = %q", labels)
	}
	k, _ := FindScheduler("karras")
	p, _ := FindScheduler("polyexponential")
	u, _ := FindScheduler("uniform")
	if k.DefaultRho != 7 || p.DefaultRho != 1 || u.DefaultRho != -1 || !u.NeedInnerModel || k.NeedInnerModel {
		t.Error("scheduler metadata differs from A1111")
	}

	tests := []struct {
		lookup, want string
		ok           bool
	}{
		{"k_euler_a", "Euler a", true},
		{"K_EULER_ANCESTRAL", "Euler a", true},
		{"euler a", "Euler a", true},
		{"k_dpmpp_2m", "DPM++ 2M", true},
		{"ddim", "DDIM", true},
		{"k_dpm_fast", "DPM fast", true},
		{"k_dpm_ad", "DPM adaptive", true},
		{"restart", "Restart", true},
		{"ddim_cfgpp", "DDIM CFG++", true},
		{"k_lcm", "LCM", true},
		{"DPM faster", "", false},
	}
	for _, tc := range tests {
		sm, ok := LookupSampler(tc.lookup)
		if ok != tc.ok || (ok && sm.Name != tc.want) {
			t.Errorf("LookupSampler(%q) = %v, %v", tc.lookup, sm, ok)
		}
	}
	defaults := map[string]string{"DPM++ 2M": "karras", "Euler a": "uniform", "Euler": "uniform", "LMS": "uniform",
		"DPM++ 2M SDE": "exponential", "DPM2": "karras", "DDIM": "uniform",
		"DPM fast": "uniform", "DPM adaptive": "uniform", "Restart": "karras", "DDIM CFG++": "uniform", "LCM": "uniform"}
	for name, want := range defaults {
		sm, _ := FindSampler(name)
		if got := sm.DefaultScheduler(); got != want {
			t.Errorf("%s default scheduler = %s, want %s", name, got, want)
		}
	}
}

func TestSamplerSigmas(t *testing.T) {
	s := SD1()
	get := func(name string) *Sampler { sm, _ := FindSampler(name); return sm }
	sig, _ := get("DPM++ 2M").Sigmas(4, "Automatic", s, SigmaParams{})
	checkPrefix(t, sig, []float64{14.6146, 3.1686, 0.4469, 0.0292, 0}, 1e-4)
	sig, _ = get("Euler a").Sigmas(4, "", s, SigmaParams{})
	checkPrefix(t, sig, []float64{14.6146, 2.9183, 0.9324, 0.0292, 0}, 1e-4)
	// DPM2: 5 Karras sigmas, penultimate (σmin) dropped.
	sig, _ = get("DPM2").Sigmas(4, "Automatic", s, SigmaParams{})
	karras5 := schedulers[2].Sigmas(5, s)
	want := append(append([]float64(nil), karras5[:4]...), 0)
	if len(sig) != 5 || !slices.Equal(sig, want) {
		t.Errorf("DPM2 sigmas = %v, want %v", sig, want)
	}
	sig, _ = get("Euler").Sigmas(4, "Uniform", s, SigmaParams{AlwaysDiscardNextToLastSigma: true})
	if len(sig) != 5 || sig[3] == s.SigmaMin() {
		t.Errorf("always-discard sigmas = %v", sig)
	}
	if _, err := get("Euler").Sigmas(0, "", s, SigmaParams{}); err == nil {
		t.Error("0 steps accepted")
	}
}
