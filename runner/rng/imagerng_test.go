package rng

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
)

func fresh(t *testing.T, src Source, seed int64, n int) []float32 {
	t.Helper()
	out, err := Randn(src, seed, n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustNew(t *testing.T, src Source, shape Shape, b Batch, opts ...Option) *ImageRNG {
	t.Helper()
	r, err := New(src, shape, b, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestImageRNGGolden replays testdata/imagerng_cpu.json: A1111's ImageRNG
// written with torch ops (gen_golden.py), three Next calls per case.
func TestImageRNGGolden(t *testing.T) {
	var data struct {
		Cases []struct {
			Shape    [3]int      `json:"shape"`
			Seeds    []int64     `json:"seeds"`
			Subseeds []int64     `json:"subseeds"`
			Strength float64     `json:"strength"`
			RH       int         `json:"rh"`
			RW       int         `json:"rw"`
			ENSD     int64       `json:"ensd"`
			Steps    [][]float32 `json:"steps"`
		} `json:"cases"`
	}
	loadJSON(t, "imagerng_cpu.json", &data)
	for _, tc := range data.Cases {
		name := fmt.Sprintf("%v_seeds%v_sub%v@%g_resize%dx%d_ensd%d", tc.Shape, tc.Seeds, tc.Subseeds, tc.Strength, tc.RW, tc.RH, tc.ENSD)
		t.Run(name, func(t *testing.T) {
			shape := Shape{C: tc.Shape[0], H: tc.Shape[1], W: tc.Shape[2]}
			r := mustNew(t, CPU, shape, Batch{Seeds: tc.Seeds, Subseeds: tc.Subseeds, SubseedStrength: tc.Strength, ResizeFromH: tc.RH, ResizeFromW: tc.RW}, WithEtaNoiseSeedDelta(tc.ENSD))
			for i, want := range tc.Steps {
				assertClose(t, fmt.Sprintf("step %d", i), r.Next(), want)
			}
		})
	}
}

func TestImageRNGPlainNoise(t *testing.T) {
	shape := Shape{C: 4, H: 8, W: 6}
	n := shape.Numel()
	for _, src := range []Source{GPU, CPU, NV} {
		t.Run(string(src), func(t *testing.T) {
			// Strength 0 (and nil subseeds) is plain per-image noise.
			for _, sub := range [][]int64{nil, {50, 51}} {
				r := mustNew(t, src, shape, Batch{Seeds: []int64{10, 11}, Subseeds: sub})
				got := r.Next()
				assertClose(t, "image 0", got[:n], fresh(t, src, 10, n))
				assertClose(t, "image 1", got[n:], fresh(t, src, 11, n))
				// Later calls are each image's second draw.
				g, _ := NewGenerator(src, 11)
				want := make([]float32, n)
				g.Randn(want)
				g.Randn(want)
				assertClose(t, "image 1 step 2", r.Next()[n:], want)
			}
		})
	}
}

func TestImageRNGSubseedStrengthOne(t *testing.T) {
	shape := Shape{C: 4, H: 8, W: 8}
	for _, src := range []Source{CPU, NV} {
		r := mustNew(t, src, shape, Batch{Seeds: []int64{10}, Subseeds: []int64{99}, SubseedStrength: 1})
		assertClose(t, string(src), r.Next(), fresh(t, src, 99, shape.Numel()))
	}
}

func TestImageRNGMissingSubseedIsZero(t *testing.T) {
	shape := Shape{C: 4, H: 8, W: 8}
	r := mustNew(t, NV, shape, Batch{Seeds: []int64{10, 10}, Subseeds: []int64{5}, SubseedStrength: 1})
	n := shape.Numel()
	assertClose(t, "image 1", r.Next()[n:], fresh(t, NV, 0, n))
}

func TestSlerp(t *testing.T) {
	// Two images' worth of columns along H (C=1, H=2, W=2): column x=0 goes
	// from e1 to e2, column x=1 from e2 to e1; slerp keeps unit length and
	// turns by val·90°.
	s := Shape{C: 1, H: 2, W: 2}
	low := []float32{1, 0, 0, 1}  // rows: y=0: (x0=1, x1=0); y=1: (x0=0, x1=1)
	high := []float32{0, 1, 1, 0} // x0 column = e2, x1 column = e1
	for _, val := range []float64{0, 0.25, 0.5, 0.9, 1} {
		got := slerp(val, low, high, s)
		c, sn := float32(math.Cos(val*math.Pi/2)), float32(math.Sin(val*math.Pi/2))
		assertClose(t, fmt.Sprintf("val %g", val), got, []float32{c, sn, sn, c})
	}
	// Parallel inputs take A1111's lerp fallback, weights swapped.
	low = []float32{1, 2, 3, 4}
	high = []float32{2, 4, 6, 8}
	want := []float32{1*0.3 + 2*0.7, 2*0.3 + 4*0.7, 3*0.3 + 6*0.7, 4*0.3 + 8*0.7}
	assertClose(t, "parallel", slerp(0.3, low, high, s), want)
}

func TestImageRNGSeedResize(t *testing.T) {
	// 64x64 px image (8x8 latent) with noise from 96x48 px (12x6): the noise
	// is cropped by 2 columns on each side and pasted from row 1.
	shape := Shape{C: 4, H: 8, W: 8}
	src := NV
	r := mustNew(t, src, shape, Batch{Seeds: []int64{5}, ResizeFromH: 48, ResizeFromW: 96})
	got := r.Next()
	noise := fresh(t, src, 5, 4*6*12)       // randn(seed, noise_shape)
	base := fresh(t, src, 5, shape.Numel()) // the image generator's first draw
	at := func(c, y, x int) float32 { return got[(c*8+y)*8+x] }
	if at(0, 0, 0) != base[0] || at(3, 7, 7) != base[len(base)-1] {
		t.Fatal("rows outside the pasted band must keep the image generator's noise")
	}
	for c := range 4 {
		for y := range 6 {
			for x := range 8 {
				if at(c, y+1, x) != noise[(c*6+y)*12+x+2] {
					t.Fatalf("(%d,%d,%d) = %v, want noise (%d,%d,%d) = %v", c, y+1, x, at(c, y+1, x), c, y, x+2, noise[(c*6+y)*12+x+2])
				}
			}
		}
	}
	// Sampler noise continues the image generator after its full-size draw.
	g := NewPhilox(5)
	want := make([]float32, shape.Numel())
	g.Randn(want)
	g.Randn(want)
	assertClose(t, "step 2", r.Next(), want)
}

func TestPasteOddDifferences(t *testing.T) {
	// Python's floor division: 5 wide into 2 wide gives dx = -2, w = 1.
	dst := make([]float32, 2)
	paste(dst, Shape{C: 1, H: 1, W: 2}, []float32{1, 2, 3, 4, 5}, Shape{C: 1, H: 1, W: 5})
	if !slices.Equal(dst, []float32{3, 0}) {
		t.Fatalf("got %v, want [3 0]", dst)
	}
	dst = make([]float32, 5)
	paste(dst, Shape{C: 1, H: 1, W: 5}, []float32{1, 2}, Shape{C: 1, H: 1, W: 2})
	if !slices.Equal(dst, []float32{0, 1, 2, 0, 0}) {
		t.Fatalf("got %v, want [0 1 2 0 0]", dst)
	}
}

func TestImageRNGENSD(t *testing.T) {
	shape := Shape{C: 4, H: 4, W: 4}
	n := shape.Numel()
	r := mustNew(t, NV, shape, Batch{Seeds: []int64{100, 200}}, WithEtaNoiseSeedDelta(31337))
	first := r.Next()
	assertClose(t, "first", first[:n], fresh(t, NV, 100, n))
	second := r.Next()
	assertClose(t, "image 0", second[:n], fresh(t, NV, 100+31337, n))
	assertClose(t, "image 1", second[n:], fresh(t, NV, 200+31337, n))
}

func TestImageRNGDeterministic(t *testing.T) {
	shape := Shape{C: 4, H: 8, W: 8}
	for _, src := range []Source{CPU, NV} {
		a := mustNew(t, src, shape, Batch{Seeds: []int64{1, 1}, Subseeds: []int64{7, 8}, SubseedStrength: 0.4, ResizeFromH: 72, ResizeFromW: 40}, WithEtaNoiseSeedDelta(3))
		b := mustNew(t, src, shape, Batch{Seeds: []int64{1, 1}, Subseeds: []int64{7, 8}, SubseedStrength: 0.4, ResizeFromH: 72, ResizeFromW: 40}, WithEtaNoiseSeedDelta(3))
		for i := range 3 {
			if !slices.Equal(a.Next(), b.Next()) {
				t.Fatalf("%s: step %d differs between identical ImageRNGs", src, i)
			}
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New("cuda", Shape{4, 8, 8}, Batch{Seeds: []int64{1}}); !errors.Is(err, ErrUnknownSource) {
		t.Fatalf("unknown source: err = %v", err)
	}
	if _, err := New(NV, Shape{4, 0, 8}, Batch{Seeds: []int64{1}}); !errors.Is(err, ErrInvalidShape) {
		t.Fatalf("zero height: err = %v", err)
	}
	if _, err := New(NV, Shape{4, 8, 8}, Batch{}); !errors.Is(err, ErrInvalidShape) {
		t.Fatalf("no seeds: err = %v", err)
	}
}

func BenchmarkImageRNG(b *testing.B) {
	shape := Shape{C: 4, H: 64, W: 64}
	for _, src := range []Source{NV, CPU} {
		b.Run(string(src), func(b *testing.B) {
			for b.Loop() {
				r, err := New(src, shape, Batch{Seeds: []int64{1}, Subseeds: []int64{2}, SubseedStrength: 0.5})
				if err != nil {
					b.Fatal(err)
				}
				r.Next()
			}
		})
	}
}
