package ort

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/onnxgen"
	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// condOf runs the runner's conditioning for req and returns cond's values.
func condOf(t *testing.T, r *Runner, req runner.Request) []float32 {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	g := &job{r: r, req: req, timing: &runner.Timing{}, b: len(req.Prompts), lh: req.Height / 8, lw: req.Width / 8}
	cond, _, err := g.conditioning()
	if err != nil {
		t.Fatalf("conditioning (clip skip %d): %v", req.ClipSkip, err)
	}
	return cond.data
}

// TestClipSkipIsTheShallowerEncoder checks the hidden state and the final
// layer norm against an independent reference: the same text encoder
// emitted with its last n-1 layers left out, run by ONNX Runtime, is by
// construction final_layer_norm(hidden_states[-n]) of the full one. Every
// exporter variant the runner accepts is covered, including torch's
// decomposed layer norm of opset-14 exports.
func TestClipSkipIsTheShallowerEncoder(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  onnxgen.Config
		tol  float64
	}{
		{"fp32 LayerNormalization", onnxgen.Config{}, 1e-5},
		{"int64 ids", onnxgen.Config{InputIDs: onnxgen.Int64, Timestep: onnxgen.FloatBatch}, 1e-5},
		{"decomposed layer norm", onnxgen.Config{LayerNorm: onnxgen.LayerNormDecomposed}, 1e-5},
		// The reference's last_hidden_state output is float16; the hidden
		// states are fetched as float32, so they differ by its rounding.
		{"fp16", onnxgen.Config{FP16: true, Timestep: onnxgen.FloatBatch}, 5e-3},
		{"fp16 decomposed", onnxgen.Config{FP16: true, Timestep: onnxgen.FloatBatch, LayerNorm: onnxgen.LayerNormDecomposed}, 5e-3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full := openShared(t, tc.cfg)
			req := baseRequest("Euler", 1)
			req.Prompts = []string{"a photo of a cat, (masterpiece:1.2)"}
			last := condOf(t, full, req)
			for _, skip := range []int{2, 3} {
				ref := tc.cfg
				ref.TextLayersDropped = skip - 1
				want := condOf(t, openShared(t, ref), req)
				req.ClipSkip = skip
				got := condOf(t, full, req)
				req.ClipSkip = 1
				if len(got) != len(want) {
					t.Fatalf("clip skip %d: %d values, reference %d", skip, len(got), len(want))
				}
				if d := maxAbsDiff(got, want); d > tc.tol {
					t.Errorf("clip skip %d: max |diff| to the shallower encoder = %g, want ≤ %g", skip, d, tc.tol)
				}
				if d := maxAbsDiff(got, last); d < 0.05 {
					t.Errorf("clip skip %d: max |diff| to the last layer = %g; the skip changed nothing", skip, d)
				}
			}
		})
	}
}

// TestClipSkipChangesImageAndIsBuiltOnce generates with clip skip 1 and
// 2: the images differ, the rewritten encoder is built once per model,
// and clip skip 1 is the same before and after it exists.
func TestClipSkipChangesImageAndIsBuiltOnce(t *testing.T) {
	dir := emit(t, onnxgen.Config{})
	r, err := Open(t.Context(), dir, Config{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	gen := func(skip int) runner.Result {
		t.Helper()
		req := baseRequest("Euler", 1)
		req.ClipSkip = skip
		res, err := r.Generate(t.Context(), req)
		if err != nil {
			t.Fatalf("clip skip %d: %v", skip, err)
		}
		return res
	}
	one := gen(1)
	if r.hiddenBuilds != 0 {
		t.Errorf("clip skip 1 built the hidden-state encoder")
	}
	two := gen(2)
	if _, mean := maxDiff(t, one.Images[0], two.Images[0]); mean == 0 {
		t.Error("clip skip 2 gave the image of clip skip 1")
	}
	twoAgain := gen(2)
	if worst, _ := maxDiff(t, two.Images[0], twoAgain.Images[0]); worst != 0 {
		t.Errorf("clip skip 2 is not deterministic: max diff %d", worst)
	}
	oneAgain := gen(1)
	if worst, _ := maxDiff(t, one.Images[0], oneAgain.Images[0]); worst != 0 {
		t.Errorf("clip skip 1 changed after clip skip 2 ran: max diff %d", worst)
	}
	if r.hiddenBuilds != 1 {
		t.Errorf("hidden-state encoder built %d times, want once", r.hiddenBuilds)
	}
}

// TestClipSkipBounds: clip skip up to layers+1 (the embeddings) works,
// beyond is refused as A1111's hidden_states[-n] IndexError, and 0 or
// negative values mean the last layer as in A1111 (n > 1 is the test).
func TestClipSkipBounds(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	req := baseRequest("Euler", 1)
	last := condOf(t, r, req)
	for _, tc := range []struct {
		skip    int
		wantErr bool
	}{{0, false}, {-3, false}, {3, false}, {4, true}, {12, true}} {
		req.ClipSkip = tc.skip
		r.mu.Lock()
		g := &job{r: r, req: req, timing: &runner.Timing{}, b: 1, lh: 8, lw: 8}
		cond, _, err := g.conditioning()
		r.mu.Unlock()
		if tc.wantErr {
			if !errors.Is(err, runner.ErrInvalidRequest) || !strings.Contains(err.Error(), "3 hidden states") {
				t.Errorf("clip skip %d: err = %v, want ErrInvalidRequest naming the 3 hidden states", tc.skip, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("clip skip %d: %v", tc.skip, err)
			continue
		}
		if same := slices.Equal(cond.data, last); same != (tc.skip <= 1) {
			t.Errorf("clip skip %d: equals the last layer = %v", tc.skip, same)
		}
	}
}

// TestClipSkipSD2Ignored: A1111's OpenCLIP embedder (SD2) ignores the option.
func TestClipSkipSD2Ignored(t *testing.T) {
	for kind, want := range map[string]int{"SD1": 2, "SD2": 1} {
		if got := (&Runner{kind: kind}).clipSkip(2); got != want {
			t.Errorf("%s: clip skip 2 applies as %d, want %d", kind, got, want)
		}
	}
}

// TestClipSkipModelErrors: graphs without a readable final layer norm or
// residual stream are refused with a reason; external weights are read.
func TestClipSkipModelErrors(t *testing.T) {
	const d = 512 // 2 KiB of weights: external with the 1 KiB threshold
	w := make([]float32, d)
	for i := range w {
		w[i] = 1 + float32(i)/d
	}
	for _, tc := range []struct {
		name  string
		build func(g *onnxpb.Graph)
		want  string
	}{
		{"layer norm straight on the input", func(g *onnxpb.Graph) {
			g.AddNode("LayerNormalization", []string{"x", g.AddFloat32("w", []int64{d}, w), g.AddFloat32("b", []int64{d}, make([]float32, d))},
				[]string{"last_hidden_state"}, onnxpb.AttrInt("axis", -1))
		}, "no pre-LN residual stream"},
		{"fused layer norm", func(g *onnxpb.Graph) {
			g.AddDomainNode("com.microsoft", "SkipLayerNormalization", []string{"x", "x", g.AddFloat32("w", []int64{d}, w)}, []string{"last_hidden_state"})
		}, "fused com.microsoft.SkipLayerNormalization"},
		{"no layer norm", func(g *onnxpb.Graph) {
			g.AddNode("Relu", []string{"x"}, []string{"last_hidden_state"})
		}, "not a layer norm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := onnxpb.NewGraph("te")
			g.AddInput("x", onnxpb.Float, onnxpb.Sym("batch"), onnxpb.Sym("sequence"), onnxpb.D(d))
			tc.build(g)
			g.AddOutput("last_hidden_state", onnxpb.Float, onnxpb.Sym("batch"), onnxpb.Sym("sequence"), onnxpb.D(d))
			dir := t.TempDir()
			path := filepath.Join(dir, "model.onnx")
			if err := g.WriteFile(path, onnxpb.WriteOptions{ExternalData: "weights.pb"}); err != nil {
				t.Fatal(err)
			}
			model, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = clipSkipModel(model, dir, "last_hidden_state", d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if tc.name == "layer norm straight on the input" {
				gi, err := indexGraph(model, dir)
				if err != nil {
					t.Fatal(err)
				}
				fn, err := gi.findFinalNorm("last_hidden_state", d)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(fn.weight, w) || fn.input != "x" || fn.eps != clipLayerNormEps {
					t.Errorf("final norm = input %q, eps %g, weight[:3] %v; want x, 1e-5, %v", fn.input, fn.eps, fn.weight[:3], w[:3])
				}
			}
		})
	}
}
