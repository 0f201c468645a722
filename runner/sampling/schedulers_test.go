package sampling

import (
	"math"
	"testing"
)

func TestSchedulerGoldens(t *testing.T) {
	s := SD1()
	uniform, _ := FindScheduler("uniform")
	karras, _ := FindScheduler("Karras")
	tests := []struct {
		name         string
		got          []float64
		prefix, tail []float64
		n            int
	}{
		{"uniform 4", uniform.Sigmas(4, s), []float64{14.6146, 2.9183, 0.9324, 0.0292, 0}, nil, 5},
		{"karras 4", karras.Sigmas(4, s), []float64{14.6146, 3.1686, 0.4469, 0.0292, 0}, nil, 5},
		{"uniform 20", uniform.Sigmas(20, s), []float64{14.6146, 10.7468, 8.0815, 6.2049}, []float64{0.3555, 0.2322, 0.0292, 0}, 21},
		{"karras 20", karras.Sigmas(20, s), []float64{14.6146, 11.7254, 9.3402}, []float64{0.0292, 0}, 21},
		{"automatic 4 = uniform", schedulers[0].Sigmas(4, s), []float64{14.6146, 2.9183, 0.9324, 0.0292, 0}, nil, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.got) != tc.n {
				t.Fatalf("len = %d, want %d", len(tc.got), tc.n)
			}
			checkPrefix(t, tc.got, tc.prefix, 1e-4)
			if tc.tail != nil {
				checkSuffix(t, tc.got, tc.tail, 1e-4)
			}
		})
	}
}

// Every scheduler gives a decreasing schedule from about σmax to 0 (KL
// Optimal: to σmin), as A1111 computes it.
func TestSchedulersShape(t *testing.T) {
	s := SD1()
	for _, sc := range Schedulers() {
		for _, n := range []int{1, 4, 10, 11, 20, 33} {
			sig := sc.Sigmas(n, s)
			wantLen := n + 1
			switch sc.Name {
			case "ddim":
				wantLen = len(ddimSigmas(n, s, sigmaArgs{}))
			}
			if len(sig) != wantLen {
				t.Errorf("%s(%d): len %d, want %d", sc.Label, n, len(sig), wantLen)
				continue
			}
			last := sig[len(sig)-1]
			if sc.Name == "kl_optimal" {
				if !near(last, s.SigmaMin(), 1e-9) {
					t.Errorf("%s(%d) ends at %v, want σmin", sc.Label, n, last)
				}
			} else if last != 0 {
				t.Errorf("%s(%d) ends at %v, want 0", sc.Label, n, last)
			}
			// A1111's DDIM scheduler starts at σ[1+(k−1)·(1000//n)], and
			// Align Your Steps with n = 1 is [0.029, 0]: both kept as is.
			if sc.Name != "ddim" && !(sc.Name == "align_your_steps" && n == 1) && (sig[0] < 10 || sig[0] > 14.62) {
				t.Errorf("%s(%d) starts at %v", sc.Label, n, sig[0])
			}
			for i := 1; i < len(sig); i++ {
				if !(sig[i] < sig[i-1]) && !(n == 1 && sc.Name == "beta") {
					t.Errorf("%s(%d) not decreasing at %d: %v", sc.Label, n, i, sig)
					break
				}
			}
		}
	}
}

func TestSchedulerDetails(t *testing.T) {
	s := SD1()
	get := func(name string) *Scheduler { sc, _ := FindScheduler(name); return sc }
	t.Run("exponential is geometric", func(t *testing.T) {
		sig := get("exponential").Sigmas(5, s)
		r := sig[1] / sig[0]
		for i := 2; i < 5; i++ {
			if !near(sig[i]/sig[i-1], r, 1e-6) { // float32, as torch
				t.Fatalf("ratios differ: %v", sig)
			}
		}
	})
	t.Run("polyexponential rho 1 = exponential", func(t *testing.T) {
		a, b := get("polyexponential").Sigmas(7, s), get("exponential").Sigmas(7, s)
		for i := range a {
			if !near(a[i], b[i], 1e-6*b[i]) { // equal up to float32 rounding
				t.Fatalf("%v != %v", a, b)
			}
		}
	})
	t.Run("align your steps 10 and 11", func(t *testing.T) {
		sig := get("align_your_steps").Sigmas(11, s)
		// float32, as A1111's torch.FloatTensor of the table
		checkPrefix(t, sig, []float64{14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029, 0}, 1e-6)
		sig = get("align_your_steps").Sigmas(10, s)
		if !near(sig[0], 14.615, 1e-6) || !near(sig[9], 0.029, 1e-8) {
			t.Fatalf("AYS(10) = %v", sig)
		}
	})
	t.Run("ddim 20", func(t *testing.T) {
		sig := get("ddim").Sigmas(20, s)
		if !near(sig[0], s.Sigmas[951], 1e-12) || !near(sig[19], s.Sigmas[1], 1e-12) {
			t.Fatalf("ddim(20) = %v", sig)
		}
	})
	t.Run("simple 4", func(t *testing.T) {
		sig := get("simple").Sigmas(4, s)
		for i, idx := range []int{999, 749, 499, 249} {
			if sig[i] != s.Sigmas[idx] {
				t.Fatalf("simple(4) = %v", sig)
			}
		}
	})
	t.Run("beta symmetric", func(t *testing.T) {
		// Beta(0.6, 0.6) is symmetric: the middle of 3 steps is the midpoint.
		sig := get("beta").Sigmas(3, s)
		if !near(sig[1], (s.SigmaMin()+s.SigmaMax())/2, 1e-6) { // float32
			t.Fatalf("beta(3) = %v", sig)
		}
		if x := betaPPF(0.25, 0.6, 0.6); !near(regIncBeta(x, 0.6, 0.6), 0.25, 1e-12) {
			t.Fatalf("ppf/cdf mismatch at %v", x)
		}
		if x := betaPPF(0.3, 1, 1); !near(x, 0.3, 1e-12) {
			t.Fatalf("Beta(1,1) ppf(0.3) = %v", x)
		}
	})
	t.Run("karras rho override", func(t *testing.T) {
		a := get("karras").SigmasWith(4, s, SigmaParams{Rho: 1})
		if !near(a[1], 14.6146-(14.6146-0.0292)/3, 1e-3) {
			t.Fatalf("rho=1 karras = %v", a)
		}
		b := get("exponential").SigmasWith(4, s, SigmaParams{Rho: 3, SigmaMax: 10})
		if !near(b[0], 10, 1e-12) {
			t.Fatalf("sigma_max override ignored: %v", b)
		}
	})
	t.Run("sgm uniform and normal", func(t *testing.T) {
		sgm := get("sgm_uniform").Sigmas(4, s)
		if !near(sgm[0], s.SigmaMax(), 1e-5) || !near(sgm[1], s.TToSigma(999-999.0/4), 1e-6) {
			t.Fatalf("sgm_uniform(4) = %v", sgm)
		}
		nrm := get("normal").Sigmas(4, s)
		if !near(nrm[3], s.SigmaMin(), 1e-8) {
			t.Fatalf("normal(4) = %v", nrm)
		}
	})
	if math.IsNaN(get("kl_optimal").Sigmas(3, s)[1]) {
		t.Fatal("kl_optimal NaN")
	}
}
