package upscale

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
)

func TestLatentModes(t *testing.T) {
	want := []string{"Latent", "Latent (antialiased)", "Latent (bicubic)", "Latent (bicubic antialiased)", "Latent (nearest)", "Latent (nearest-exact)"}
	if got := LatentModes(); !slices.Equal(got, want) {
		t.Errorf("LatentModes() = %q, want %q", got, want)
	}
	m, ok := LookupLatentMode("Latent (bicubic antialiased)")
	if !ok || m.Mode != "bicubic" || !m.Antialias {
		t.Errorf("LookupLatentMode = %+v, %v", m, ok)
	}
	if _, ok := LookupLatentMode("latent"); ok {
		t.Error("lookup is case-sensitive in A1111")
	}
}

// Ensure Interpolate matches torch.nn.functional.interpolate
// (testdata/latent.json, written by gen_golden.py with torch).
func TestInterpolateMatchesTorch(t *testing.T) {
	var g struct {
		C, H, W int
		In      []float32
		Cases   []struct {
			Mode      string
			Antialias bool
			OutH      int `json:"out_h"`
			OutW      int `json:"out_w"`
			Out       []float32
		}
	}
	loadJSON(t, "latent.json", &g)
	if len(g.Cases) == 0 {
		t.Fatal("no latent goldens")
	}
	for _, tc := range g.Cases {
		t.Run(fmt.Sprintf("%s_aa=%v_%dx%d", tc.Mode, tc.Antialias, tc.OutH, tc.OutW), func(t *testing.T) {
			got, err := Interpolate(g.In, g.C, g.H, g.W, tc.OutH, tc.OutW, LatentMode{Mode: tc.Mode, Antialias: tc.Antialias})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.Out) {
				t.Fatalf("len = %d, want %d", len(got), len(tc.Out))
			}
			worst := 0.0
			for i := range got {
				worst = max(worst, math.Abs(float64(got[i]-tc.Out[i])))
			}
			if worst > 1e-5 {
				t.Errorf("max |got-want| = %g, want <= 1e-5", worst)
			} else if worst > 0 {
				t.Logf("max |got-want| = %g", worst)
			}
		})
	}
}

func TestInterpolateErrors(t *testing.T) {
	x := make([]float32, 2*3*4)
	tests := []struct {
		name string
		x    []float32
		m    LatentMode
	}{
		{"length mismatch", x[:5], LatentMode{Mode: "bilinear"}},
		{"unknown mode", x, LatentMode{Mode: "area"}},
		{"antialiased nearest", x, LatentMode{Mode: "nearest", Antialias: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Interpolate(tc.x, 2, 3, 4, 6, 8, tc.m); !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		})
	}
}
