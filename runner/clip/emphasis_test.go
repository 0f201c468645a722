package clip

import (
	"math"
	"slices"
	"testing"
)

func TestApplyEmphasis(t *testing.T) {
	z0 := []float32{1, 2, 3, 4}
	mults := []float32{1, 2}
	scale := float32(2.5 / 4.25) // mean before / mean after multiplying
	tests := []struct {
		mode Emphasis
		want []float32
	}{
		{EmphasisOriginal, []float32{1 * scale, 2 * scale, 6 * scale, 8 * scale}},
		{EmphasisNoNorm, []float32{1, 2, 6, 8}},
		{EmphasisIgnore, z0},
		{EmphasisNone, z0},
	}
	for _, tc := range tests {
		t.Run(string(tc.mode), func(t *testing.T) {
			z := slices.Clone(z0)
			if err := ApplyEmphasis(tc.mode, z, [2]int{2, 2}, mults); err != nil {
				t.Fatal(err)
			}
			for i := range z {
				if math.Abs(float64(z[i]-tc.want[i])) > 1e-6 {
					t.Fatalf("z = %v, want %v", z, tc.want)
				}
			}
		})
	}
}

func TestApplyEmphasisKeepsMean(t *testing.T) {
	z := make([]float32, 77*8)
	for i := range z {
		z[i] = float32(math.Sin(float64(i)))
	}
	var before float64
	for _, v := range z {
		before += float64(v)
	}
	m := make([]float32, 77)
	for i := range m {
		m[i] = 1 + float32(i%3)/10
	}
	if err := ApplyEmphasis(EmphasisOriginal, z, [2]int{77, 8}, m); err != nil {
		t.Fatal(err)
	}
	var after float64
	for _, v := range z {
		after += float64(v)
	}
	if math.Abs(after-before) > 1e-4 {
		t.Errorf("sum after = %v, want %v", after, before)
	}
}

func TestApplyEmphasisErrors(t *testing.T) {
	if err := ApplyEmphasis(EmphasisOriginal, make([]float32, 6), [2]int{2, 2}, []float32{1, 1}); err == nil {
		t.Error("want error for a z/shape mismatch")
	}
	if err := ApplyEmphasis(EmphasisOriginal, make([]float32, 4), [2]int{2, 2}, []float32{1}); err == nil {
		t.Error("want error for a multiplier count mismatch")
	}
}

func TestParseEmphasis(t *testing.T) {
	for in, want := range map[string]Emphasis{
		"None": EmphasisNone, "Ignore": EmphasisIgnore, "Original": EmphasisOriginal,
		"No norm": EmphasisNoNorm, "bogus": EmphasisOriginal, "": EmphasisOriginal,
	} {
		if got := ParseEmphasis(in); got != want {
			t.Errorf("ParseEmphasis(%q) = %q, want %q", in, got, want)
		}
	}
}
