package ort

import (
	"context"
	"testing"

	"github.com/sdapi/sdapi/runner/onnxgen"
)

// A batch run in sub-batches of one UNet sample (a budget too small for
// two) gives the same pixels and latents as the same batch in one call:
// each image's noise comes from its own seed and each sample's UNet output
// from its own inputs. Prompts of different lengths keep their batch's
// padding, and cond and uncond of different lengths still work.
func TestSubBatchesGiveIdenticalImages(t *testing.T) {
	dir := emit(t, onnxgen.Config{})
	open := func(budget int64) *Runner {
		r, err := Open(context.Background(), dir, Config{Threads: 2, MemoryBudget: budget})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	whole, split := open(0), open(1)
	long := "a photo of a cat, " + repeatWords("detailed", 90) // two chunks
	tests := []struct {
		name     string
		sampler  string
		prompts  []string
		negative string
	}{
		{"Euler a", "Euler a", []string{"a cat", "a dog", "a bird"}, "blurry"},
		{"DPM++ 2M", "DPM++ 2M", []string{"a cat", "a dog", "a bird"}, "blurry"},
		{"DDIM", "DDIM", []string{"a cat", "a dog", "a bird"}, "blurry"},
		{"mixed lengths", "Euler a", []string{"a cat", long, "a bird"}, "blurry"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := baseRequest(tc.sampler, 11, 12, 13)
			req.Prompts = tc.prompts
			for i := range req.NegativePrompts {
				req.NegativePrompts[i] = tc.negative
			}
			req.ReturnLatents = true
			a, err := whole.Generate(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := split.Generate(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			if b.Timing.UNetRuns <= a.Timing.UNetRuns {
				t.Errorf("UNet calls: %d split vs %d whole, want the budget to split them", b.Timing.UNetRuns, a.Timing.UNetRuns)
			}
			for i := range req.Seeds {
				if d, _ := maxDiff(t, a.Images[i], b.Images[i]); d != 0 {
					t.Errorf("image %d: max diff %d, want identical pixels", i, d)
				}
				for j := range a.Latents[i] {
					if a.Latents[i][j] != b.Latents[i][j] {
						t.Errorf("image %d: latent %d differs: %g vs %g", i, j, a.Latents[i][j], b.Latents[i][j])
						break
					}
				}
			}
		})
	}
}

func TestSamplesPerCall(t *testing.T) {
	tests := []struct {
		budget int64
		w, h   int
		want   int
	}{
		{0, 512, 512, 0},
		{1, 512, 512, 1},
		{UNetSampleBytes(512, 512) * 4, 512, 512, 4},
		{UNetSampleBytes(512, 512)*4 - 1, 512, 512, 3},
		{UNetSampleBytes(512, 512) * 4, 1024, 1024, 1},
	}
	for _, tc := range tests {
		g := &job{r: &Runner{cfg: Config{MemoryBudget: tc.budget}, budget: unetBudget(Config{MemoryBudget: tc.budget}, 0)}, lw: tc.w / 8, lh: tc.h / 8}
		if got := g.samplesPerCall(); got != tc.want {
			t.Errorf("budget %d at %dx%d: %d samples per call, want %d", tc.budget, tc.w, tc.h, got, tc.want)
		}
	}
	if px := MaxPixelsFor(UNetSampleBytes(1024, 1024)); px != 1024*1024 {
		t.Errorf("MaxPixelsFor(UNetSampleBytes(1024²)) = %d, want %d", px, 1024*1024)
	}
}

func repeatWords(w string, n int) string {
	s := w
	for range n - 1 {
		s += " " + w
	}
	return s
}

// The memory model by family: SDXL's largest attention map (second level,
// T/4 positions, 10 heads) is 5/64 of SD 1.x's at the same size, and its
// larger weights come out of the budget, so a 24 GiB machine's limit
// (sized on SD 1.x) serves SDXL's native 1024² with both CFG samples in
// one call.
func TestMemoryModelByFamily(t *testing.T) {
	const gib = int64(1) << 30
	if got := UNetSampleBytesFor("SDXL", 1024, 1024); got != 5*gib/4 {
		t.Errorf("SDXL 1024² sample: %d bytes, want 1.25 GiB", got)
	}
	if got, want := UNetSampleBytesFor("SD1", 1024, 1024), 16*gib; got != want || UNetSampleBytes(1024, 1024) != want {
		t.Errorf("SD1 1024² sample: %d bytes, want 16 GiB", got)
	}
	budget24 := 24*gib - 6*gib // cmd/sdapi-server's memoryBudget at 24 GiB
	for _, tc := range []struct {
		name    string
		cfg     Config
		weights int64
		want    int64
	}{
		{"no budget", Config{WeightsReserve: 6 * gib}, 14 * gib, 0},
		{"weights within the reserve", Config{MemoryBudget: budget24, WeightsReserve: 6 * gib}, 4 * gib, budget24},
		{"SDXL fp32 weights", Config{MemoryBudget: budget24, WeightsReserve: 6 * gib}, 14 * gib, budget24 - 8*gib},
		{"no reserve given", Config{MemoryBudget: budget24}, 14 * gib, budget24},
		{"weights past the budget", Config{MemoryBudget: gib, WeightsReserve: gib}, 40 * gib, 1},
	} {
		if got := unetBudget(tc.cfg, tc.weights); got != tc.want {
			t.Errorf("%s: budget %d, want %d", tc.name, got, tc.want)
		}
	}
	if per := UNetSampleBytesFor("SDXL", 1024, 1024); unetBudget(Config{MemoryBudget: budget24, WeightsReserve: 6 * gib}, 14*gib)/per < 2 {
		t.Error("SDXL fp32 at 1024² on 24 GiB: the two CFG samples do not fit one call")
	}
	if MaxPixelsFor(budget24) < 1024*1024 {
		t.Errorf("24 GiB pixel limit %d < 1024²", MaxPixelsFor(budget24))
	}
}

// An SDXL runner sizes its sub-batches with SDXL's memory model and its
// own weights.
func TestSDXLRunnerBudget(t *testing.T) {
	dir := emit(t, xlConfig)
	r, err := Open(t.Context(), dir, Config{Threads: 2, MemoryBudget: 3 * UNetSampleBytesFor("SDXL", 64, 64), WeightsReserve: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w := r.weightBytes()
	if w < 10<<20 || r.budget != 3*UNetSampleBytesFor("SDXL", 64, 64)-(w-1) && r.budget != 1 {
		t.Errorf("weights %d bytes, budget %d", w, r.budget)
	}
	g := &job{r: r, lh: 8, lw: 8}
	if got := g.samplesPerCall(); got != 1 {
		t.Errorf("samples per call %d, want 1 (the weights took the budget)", got)
	}
	r.budget = 3 * UNetSampleBytesFor("SDXL", 64, 64)
	if got := g.samplesPerCall(); got != 3 {
		t.Errorf("samples per call %d, want 3 with SDXL's model", got)
	}
}
