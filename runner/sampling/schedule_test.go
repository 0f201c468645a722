package sampling

import (
	"math"
	"slices"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func checkPrefix(t *testing.T, got, want []float64, tol float64) {
	t.Helper()
	if len(got) < len(want) {
		t.Fatalf("got %d values, want at least %d", len(got), len(want))
	}
	for i, w := range want {
		if !near(got[i], w, tol) {
			t.Errorf("[%d] = %.6f, want %.4f (all: %.4f)", i, got[i], w, got)
			return
		}
	}
}

func checkSuffix(t *testing.T, got, want []float64, tol float64) {
	t.Helper()
	checkPrefix(t, got[len(got)-len(want):], want, tol)
}

func TestSD1Schedule(t *testing.T) {
	s := SD1()
	tests := []struct {
		name      string
		got, want float64
		tol       float64
	}{
		// float32, as A1111 holds them (torch: 0x3f7fc84b, 0x3b98b3bd,
		// 0x3ceef0c0, 0x4169d593; see TestSD1ScheduleMatchesTorchBits).
		{"alphas_cumprod[0]", s.AlphasCumprod[0], 0.9991499781608582, 0},
		{"alphas_cumprod[999]", s.AlphasCumprod[999], 0.004660098347812891, 0},
		{"sigma_min", s.SigmaMin(), 0.029167532920837402, 0},
		{"sigma_max", s.SigmaMax(), 14.614642143249512, 0},
	}
	for _, tc := range tests {
		if !near(tc.got, tc.want, tc.tol) {
			t.Errorf("%s = %.8f, want %.8f", tc.name, tc.got, tc.want)
		}
	}
	cfg, err := NewScheduleFromConfig("scaled_linear", 0.00085, 0.012, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Sigmas, s.Sigmas) {
		t.Error("NewScheduleFromConfig(scaled_linear) differs from SD1")
	}
	if _, err := NewScheduleFromConfig("squaredcos_cap_v2", 0.00085, 0.012, 1000); err == nil {
		t.Error("unsupported beta_schedule accepted")
	}
	lin, err := NewScheduleFromConfig("linear", 0.0001, 0.02, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if lin.AlphasCumprod[0] != float64(float32(0.9999)) {
		t.Errorf("linear ac[0] = %v", lin.AlphasCumprod[0])
	}
}

func TestSigmaToTRoundTrip(t *testing.T) {
	s := SD1()
	// Both directions run in float32, as in torch: a round trip keeps about
	// 1e-5 of a timestep.
	for _, tt := range []float64{0, 0.25, 1, 17.5, 500, 998.9, 999} {
		sig := s.TToSigma(tt)
		if got := s.SigmaToT(sig); !near(got, tt, 1e-4) {
			t.Errorf("SigmaToT(TToSigma(%v)) = %v", tt, got)
		}
	}
	for i := 0; i < 1000; i += 37 {
		if got := s.SigmaToT(s.Sigmas[i]); got != float64(i) {
			t.Errorf("SigmaToT(sigmas[%d]) = %v", i, got)
		}
	}
	if got := s.SigmaToT(100); got != 999 {
		t.Errorf("SigmaToT above range = %v, want 999", got)
	}
	if got := s.SigmaToT(0.001); got != 0 {
		t.Errorf("SigmaToT below range = %v, want 0", got)
	}
	if got := s.AlphaCumprodAt(251); !near(got, s.AlphasCumprod[251], 1e-15) {
		t.Errorf("AlphaCumprodAt(251) = %v", got)
	}
}

func TestDDIMTimesteps(t *testing.T) {
	tests := []struct {
		steps   int
		discard bool
		want    []int
	}{
		{4, false, []int{1, 251, 501, 751}},
		{3, false, []int{1, 334, 667, 999}},
		{3, true, []int{1, 251, 501, 751}},
		{1, false, []int{1}},
	}
	for _, tc := range tests {
		if got := DDIMTimesteps(tc.steps, tc.discard); !slices.Equal(got, tc.want) {
			t.Errorf("DDIMTimesteps(%d, %v) = %v, want %v", tc.steps, tc.discard, got, tc.want)
		}
	}
	ts := DDIMTimesteps(20, false)
	if len(ts) != 20 || ts[0] != 1 || ts[1] != 51 || ts[19] != 951 {
		t.Errorf("DDIMTimesteps(20) = %v", ts)
	}
}
