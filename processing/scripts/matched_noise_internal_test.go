package scripts

import (
	"math"
	"math/cmplx"
	"slices"
	"testing"
)

// TestFFTMatchesDFT checks the mixed-radix FFT against the defining sum,
// for powers of two, composite and prime lengths.
func TestFFTMatchesDFT(t *testing.T) {
	for _, n := range []int{1, 2, 6, 7, 12, 64, 192, 13 * 4} {
		x := make([]complex128, n)
		for i := range x {
			x[i] = complex(math.Sin(float64(i)*1.3)+0.1*float64(i%5), math.Cos(float64(i)*0.7))
		}
		for _, inverse := range []bool{false, true} {
			got := slices.Clone(x)
			fft1(got, inverse)
			sign := -1.0
			if inverse {
				sign = 1
			}
			for k := range n {
				var want complex128
				for j := range n {
					want += x[j] * cmplx.Rect(1, sign*2*math.Pi*float64(j*k)/float64(n))
				}
				if cmplx.Abs(got[k]-want) > 1e-9*float64(n) {
					t.Fatalf("n=%d inverse=%v: X[%d] = %v, want %v", n, inverse, k, got[k], want)
				}
			}
		}
	}
}

// TestFFT2OrthoRoundTrip: numpy's ortho fft2 then ifft2, with the
// shifts of _fft2/_ifft2, gives the input back.
func TestFFT2OrthoRoundTrip(t *testing.T) {
	a := plane{4, 6, make([]complex128, 24)}
	for i := range a.v {
		a.v[i] = complex(float64(i*i%7), 0)
	}
	back := shiftedFFT2(shiftedFFT2(a, false), true)
	for i := range a.v {
		if cmplx.Abs(back.v[i]-a.v[i]) > 1e-12 {
			t.Fatalf("round trip [%d] = %v, want %v", i, back.v[i], a.v[i])
		}
	}
	// Ortho scaling keeps the energy (Parseval).
	f := fft2Ortho(a, false)
	var e1, e2 float64
	for i := range a.v {
		e1 += real(a.v[i]) * real(a.v[i])
		e2 += cmplx.Abs(f.v[i]) * cmplx.Abs(f.v[i])
	}
	if math.Abs(e1-e2) > 1e-9 {
		t.Errorf("energy %g, transformed %g", e1, e2)
	}
}

// TestMatchCumulativeCDF works skimage's _match_cumulative_cdf by hand:
// source quantiles 0.25, 0.75, 1 over template quantiles 0.5, 1.
func TestMatchCumulativeCDF(t *testing.T) {
	got := matchCumulativeCDF([]float64{0.5, 0.1, 0.9, 0.5}, []float64{1, 0})
	if want := []float64{0.5, 0, 1, 0.5}; !slices.Equal(got, want) {
		t.Errorf("matched = %v, want %v", got, want)
	}
}

// TestMatchedNoise: unmasked pixels keep the source exactly, the noise is
// deterministic (numpy's default_rng(0)), within [0, 1] and, being
// histogram-matched, within the unmasked pixels' range per channel.
func TestMatchedNoise(t *testing.T) {
	rows, cols := 64, 128
	src := rgbArray{rows, cols, make([]float64, rows*cols*3)}
	mask := rgbArray{rows, cols, make([]float64, rows*cols*3)}
	for r := range rows {
		for c := range cols {
			for ch := range 3 {
				i := (r*cols+c)*3 + ch
				if c < 40 {
					mask.v[i] = 1 // to fill; src there is black, as the canvas is
				} else {
					src.v[i] = float64((r*7+c*3+ch*50)%200+20) / 255
				}
			}
		}
	}
	a, err := matchedNoise(src, mask, 1, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := matchedNoise(src, mask, 1, 0.05)
	if !slices.Equal(a.v, b.v) {
		t.Error("two runs differ")
	}
	lo, hi := [3]float64{1, 1, 1}, [3]float64{}
	for i, v := range src.v {
		if mask.v[i] == 0 {
			lo[i%3], hi[i%3] = math.Min(lo[i%3], v), math.Max(hi[i%3], v)
		}
	}
	varied := false
	for i, v := range a.v {
		switch {
		case mask.v[i] == 0 && v != src.v[i]:
			t.Fatalf("unmasked [%d] = %g, want the source's %g", i, v, src.v[i])
		case mask.v[i] == 1 && (v < lo[i%3] || v > hi[i%3]):
			t.Fatalf("noise [%d] = %g outside the reference range [%g, %g]", i, v, lo[i%3], hi[i%3])
		case mask.v[i] == 1 && v != a.v[i%3]:
			varied = true
		}
	}
	if !varied {
		t.Error("the noise is flat")
	}
}

// TestPairwiseSum: numpy's order gives the exact sum on values where
// order matters little, and the block structure covers every element.
func TestPairwiseSum(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 128, 129, 1000, 3 * 64 * 128} {
		a := make([]float64, n)
		want := 0.0
		for i := range a {
			a[i] = float64(i % 17)
			want += a[i]
		}
		if got := pairwiseSum(a); got != want {
			t.Errorf("n=%d: sum %g, want %g", n, got, want)
		}
	}
}
