package ort

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sdapi/sdapi/internal/safetensors"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/onnxgen"
)

// openFresh opens a runner of its own, so its patch cache counts only
// this test's builds.
func openFresh(t *testing.T, cfg onnxgen.Config) (*Runner, string) {
	t.Helper()
	dir := emit(t, cfg)
	r, err := Open(context.Background(), dir, Config{Threads: 2, PatchCache: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, dir
}

func emitLoRA(t *testing.T, cfg onnxgen.Config, o onnxgen.LoRAOptions) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.safetensors")
	if err := onnxgen.EmitLoRA(path, cfg, o); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoRAChangesImage runs the emitted LoRA through every way it can
// apply and checks the cache: a set seen before builds nothing.
func TestLoRAChangesImage(t *testing.T) {
	for _, cfg := range []onnxgen.Config{{}, {FP16: true}, {ExternalData: true}, {TorchNames: true, FP16: true}} {
		t.Run(cfgName(cfg), func(t *testing.T) {
			r, _ := openFresh(t, cfg)
			path := emitLoRA(t, cfg, onnxgen.LoRAOptions{Seed: 1, F16: cfg.FP16})
			gen := func(loras ...runner.LoRA) runner.Result {
				t.Helper()
				req := baseRequest("Euler", 1)
				req.LoRAs = loras
				res, err := r.Generate(t.Context(), req)
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			base := gen()
			lora := func(te, unet float64) runner.LoRA {
				return runner.LoRA{Name: "test", Path: path, TE: te, UNet: unet}
			}
			tests := []struct {
				name   string
				lora   runner.LoRA
				same   bool
				builds int64 // patched sessions built by this case
			}{
				{"zero", lora(0, 0), true, 0},
				{"full", lora(1, 1), false, 2},
				{"full again from the cache", lora(1, 1), false, 0},
				{"text encoder only", lora(1, 0), false, 0}, // the te=1 text session is cached
				{"unet only", lora(0, 0.5), false, 1},
				{"dyn 1", runner.LoRA{Name: "test", Path: path, TE: 1, UNet: 1, DynDim: 1}, false, 2},
			}
			for _, tt := range tests {
				before := r.PatchCache().Builds
				res := gen(tt.lora)
				if got := r.PatchCache().Builds - before; got != tt.builds {
					t.Errorf("%s: %d patched sessions built, want %d", tt.name, got, tt.builds)
				}
				worst, _ := maxDiff(t, base.Images[0], res.Images[0])
				if (worst == 0) != tt.same {
					t.Errorf("%s: max diff from no LoRA %d, want same=%v", tt.name, worst, tt.same)
				}
			}
			st := r.PatchCache()
			if len(st.Entries) != 3 {
				t.Errorf("cache holds %d entries, want its bound 3", len(st.Entries))
			}
			for _, e := range st.Entries {
				if e.Bytes <= 0 {
					t.Errorf("entry %+v reports no memory", e)
				}
			}
		})
	}
}

func cfgName(c onnxgen.Config) string {
	switch {
	case c.TorchNames:
		return "torch-names"
	case c.FP16:
		return "fp16"
	case c.ExternalData:
		return "external"
	}
	return "fp32"
}

// TestLoRAWeights checks the patched weight of one MatMul (stored
// transposed) and one Conv against alpha/rank·mult·up·down.
func TestLoRAWeights(t *testing.T) {
	cfg := onnxgen.Config{}
	r, _ := openFresh(t, cfg)
	path := emitLoRA(t, cfg, onnxgen.LoRAOptions{Seed: 2, Rank: 2, Alpha: 1})
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const mult = 0.7
	loras := []runner.LoRA{{Name: "t", Path: path, TE: mult, UNet: mult}}
	for _, tc := range []struct {
		p          *part
		spec       loraSpec
		module     string
		init       string
		transposed bool
	}{
		{r.text, teSpec(), "lora_te_text_model_encoder_layers_0_self_attn_q_proj", "text_model.encoder.layers.0.self_attn.q_proj.weight", true},
		{r.unet, unetSpec(), "lora_unet_down_blocks_0_resnets_0_conv1", "down_blocks.0.resnets.0.conv1.weight", false},
	} {
		t.Run(tc.module, func(t *testing.T) {
			b, err := r.buildLoraModel(tc.p, loras, tc.spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			orig := initFloats(t, tc.p.path, nil, tc.init)
			got := initFloats(t, tc.p.path, b.model, tc.init)
			up, _ := f.Floats(tc.module + ".lora_up.weight")
			down, _ := f.Floats(tc.module + ".lora_down.weight")
			out := int(f.Tensors[tc.module+".lora_up.weight"].Shape[0])
			in := len(down) / 2
			scale := float32(0.5 * mult) // alpha 1 / rank 2
			for o := range out {
				for i := range in {
					d := (up[o*2]*down[i] + up[o*2+1]*down[in+i]) * scale
					at := o*in + i
					if tc.transposed {
						at = i*out + o
					}
					if diff := got[at] - orig[at] - d; diff > 1e-5 || diff < -1e-5 {
						t.Fatalf("[%d,%d]: got %v, want %v + %v", o, i, got[at], orig[at], d)
					}
				}
			}
		})
	}
}

// initFloats reads an initializer of the model file at path, or of model
// when it is set (external data next to path).
func initFloats(t *testing.T, path string, model []byte, name string) []float32 {
	t.Helper()
	if model == nil {
		var err error
		if model, err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	}
	gi, err := indexGraph(model, filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	v, err := gi.tensorFloats(gi.inits[name])
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestLoRAWithClipSkip: the clip-skip encoder is built from the patched
// text encoder, so a text-encoder LoRA changes a clip skip 2 image.
func TestLoRAWithClipSkip(t *testing.T) {
	cfg := onnxgen.Config{}
	r, _ := openFresh(t, cfg)
	path := emitLoRA(t, cfg, onnxgen.LoRAOptions{Seed: 3})
	var imgs []runner.Result
	for _, te := range []float64{0, 1} {
		req := baseRequest("Euler", 1)
		req.ClipSkip = 2
		req.LoRAs = []runner.LoRA{{Name: "test", Path: path, TE: te}}
		res, err := r.Generate(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, res)
	}
	if worst, _ := maxDiff(t, imgs[0].Images[0], imgs[1].Images[0]); worst == 0 {
		t.Error("a text-encoder LoRA did not change a clip skip 2 image")
	}
}

// TestLoRAWithRewrittenUNets: with tiling, or a size whose skip
// connections need matching, the LoRA-patched UNet is rewritten the same
// way, so the LoRA still changes the image and the run succeeds.
func TestLoRAWithRewrittenUNets(t *testing.T) {
	cfg := onnxgen.Config{}
	r, _ := openFresh(t, cfg)
	path := emitLoRA(t, cfg, onnxgen.LoRAOptions{Seed: 3})
	for _, tc := range []struct {
		name   string
		tiling bool
		size   int
	}{
		{"tiling", true, 64},
		{"any size", false, 72},
		{"both", true, 72},
	} {
		var imgs []runner.Result
		for _, unet := range []float64{0, 1} {
			req := baseRequest("Euler", 1)
			req.Tiling, req.Width, req.Height = tc.tiling, tc.size, tc.size
			req.LoRAs = []runner.LoRA{{Name: "test", Path: path, UNet: unet}}
			res, err := r.Generate(t.Context(), req)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			imgs = append(imgs, res)
		}
		if worst, _ := maxDiff(t, imgs[0].Images[0], imgs[1].Images[0]); worst == 0 {
			t.Errorf("%s: the UNet LoRA did not change the image", tc.name)
		}
	}
	var labels []string
	for _, e := range r.PatchCache().Entries {
		labels = append(labels, e.Set)
	}
	if want := []string{"lora test:1 tiling", "lora test:1 any-size", "lora test:1 tiling any-size"}; !slices.Equal(labels, want) {
		t.Errorf("cached sets %q, want %q", labels, want)
	}
}

// TestEmbeddingChangesImage: an embedding's name in the prompt (or the
// negative prompt) puts its vectors there; a prompt without it is the
// plain image; the result names the embeddings used.
func TestEmbeddingChangesImage(t *testing.T) {
	for _, cfg := range []onnxgen.Config{{}, {FP16: true}} {
		t.Run(cfgName(cfg), func(t *testing.T) {
			r, _ := openFresh(t, cfg)
			path := filepath.Join(t.TempDir(), "e.safetensors")
			if err := onnxgen.EmitEmbedding(path, cfg, 2, 1); err != nil {
				t.Fatal(err)
			}
			f, err := safetensors.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			vec, _ := f.Floats("emb_params")
			embs := []runner.Embedding{{Name: "testemb", Vectors: 2, Rows: map[string][]float32{"": vec}}}
			gen := func(prompt, neg string, skip int) runner.Result {
				t.Helper()
				req := baseRequest("Euler", 1)
				req.Prompts, req.NegativePrompts = []string{prompt}, []string{neg}
				req.Embeddings, req.ClipSkip = embs, skip
				res, err := r.Generate(t.Context(), req)
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			base := gen("a photo of a cat", "blurry", 1)
			if base.Embeddings != nil {
				t.Errorf("embeddings used without a name: %v", base.Embeddings)
			}
			for _, tc := range []struct {
				prompt, neg string
				skip        int
				used        []string
			}{
				{"a photo of a testemb cat", "blurry", 1, []string{"testemb"}},
				{"a photo of a cat", "blurry testemb", 1, []string{"testemb"}},
				{"testemb cat", "testemb", 1, []string{"testemb", "testemb"}},
				{"a photo of a testemb cat", "blurry", 2, []string{"testemb"}},
			} {
				res := gen(tc.prompt, tc.neg, tc.skip)
				if !slices.Equal(res.Embeddings, tc.used) {
					t.Errorf("%q / %q: used %v, want %v", tc.prompt, tc.neg, res.Embeddings, tc.used)
				}
				if worst, _ := maxDiff(t, base.Images[0], res.Images[0]); worst == 0 {
					t.Errorf("%q / %q: the embedding did not change the image", tc.prompt, tc.neg)
				}
			}
			if b := r.PatchCache().Builds; b != 1 {
				t.Errorf("%d text encoder sessions built, want 1 for every prompt", b)
			}
		})
	}
}

// TestBrokenLoRARunsWithout: a LoRA whose tensors cannot be used is left
// out (A1111 reports it and runs without it), never failing the job.
func TestBrokenLoRARunsWithout(t *testing.T) {
	cfg := onnxgen.Config{}
	r, _ := openFresh(t, cfg)
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	// Ranks that do not match: up [32, 4], down [3, 32].
	err := safetensors.WriteFile(path, []safetensors.WriteTensor{
		{Name: "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight", Shape: []int64{32, 4}, Data: make([]float32, 128)},
		{Name: "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", Shape: []int64{3, 32}, Data: make([]float32, 96)},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	base, err := r.Generate(t.Context(), baseRequest("Euler", 1))
	if err != nil {
		t.Fatal(err)
	}
	req := baseRequest("Euler", 1)
	req.LoRAs = []runner.LoRA{{Name: "bad", Path: path, TE: 1, UNet: 1}}
	res, err := r.Generate(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if worst, _ := maxDiff(t, base.Images[0], res.Images[0]); worst != 0 {
		t.Errorf("an unusable LoRA changed the image by %d", worst)
	}
}
