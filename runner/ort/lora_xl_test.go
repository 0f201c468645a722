package ort

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/internal/safetensors"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/clip"
	"github.com/sdapi/sdapi/runner/onnxgen"
)

// TestSDXLLoRAKeysMatch: every module of the emitted SDXL LoRA reaches a
// weight of its part, in kohya's LDM UNet names and in diffusers names:
// lora_te1_ the first encoder, lora_te2_ the second, lora_unet_ the UNet.
func TestSDXLLoRAKeysMatch(t *testing.T) {
	torch := xlConfig
	torch.TorchNames = true
	for name, cfg := range map[string]onnxgen.Config{"initializer names": xlConfig, "torch names": torch} {
		t.Run(name, func(t *testing.T) { loraKeysMatch(t, cfg) })
	}
}

func loraKeysMatch(t *testing.T, cfg onnxgen.Config) {
	r := openShared(t, cfg)
	for _, diffusers := range []bool{false, true} {
		path := emitLoRA(t, cfg, onnxgen.LoRAOptions{Seed: 1, DiffusersUNetNames: diffusers})
		f, err := safetensors.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		loras := []runner.LoRA{{Name: "x", Path: path, TE: 1, UNet: 1}}
		for _, tc := range []struct {
			p    *part
			spec loraSpec
		}{{r.xl.enc1.part, te1XLSpec()}, {r.xl.enc2.part, te2XLSpec()}, {r.unet, unetSpec()}} {
			want := 0
			for name := range f.Tensors {
				if strings.HasPrefix(name, tc.spec.prefix) && strings.HasSuffix(name, ".lora_up.weight") {
					want++
				}
			}
			model, err := os.ReadFile(tc.p.path)
			if err != nil {
				t.Fatal(err)
			}
			gi, err := indexGraph(model, filepath.Dir(tc.p.path))
			if err != nil {
				t.Fatal(err)
			}
			targets, err := gi.loraTargets(tc.spec.prefix)
			if err != nil {
				t.Fatal(err)
			}
			rep := addLoraDeltas(map[string][]float32{}, targets, loras, tc.spec)
			if want == 0 || rep.applied != want || rep.unmatched+rep.unsupported+rep.mismatched+len(rep.errors) != 0 {
				t.Errorf("diffusers names %v, %s: %+v, want all %d modules applied", diffusers, tc.p.name, rep, want)
			}
		}
	}
}

// TestSDXLLoRAChangesImage: on the SDXL model a LoRA changes the image
// through each of its parts, weight 0 is the plain image, and the same
// LoRA named in LDM or diffusers form gives the same pixels.
func TestSDXLLoRAChangesImage(t *testing.T) {
	r, _ := openFresh(t, xlConfig)
	ldm := emitLoRA(t, xlConfig, onnxgen.LoRAOptions{Seed: 1})
	diffusers := emitLoRA(t, xlConfig, onnxgen.LoRAOptions{Seed: 1, DiffusersUNetNames: true})
	gen := func(loras ...runner.LoRA) runner.Result {
		t.Helper()
		req := baseRequest("Euler", 1)
		req.Steps = 2
		req.LoRAs = loras
		res, err := r.Generate(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	base := gen()
	full := gen(runner.LoRA{Name: "test", Path: ldm, TE: 1, UNet: 1})
	for _, tc := range []struct {
		name   string
		lora   runner.LoRA
		same   bool
		builds int64
	}{
		{"zero", runner.LoRA{Name: "test", Path: ldm}, true, 0},
		{"full again from the cache", runner.LoRA{Name: "test", Path: ldm, TE: 1, UNet: 1}, false, 0},
		{"text encoders only", runner.LoRA{Name: "test", Path: ldm, TE: 1}, false, 0},
		{"unet only", runner.LoRA{Name: "test", Path: ldm, UNet: 0.5}, false, 1},
	} {
		before := r.PatchCache().Builds
		res := gen(tc.lora)
		if got := r.PatchCache().Builds - before; got != tc.builds {
			t.Errorf("%s: %d patched sessions built, want %d", tc.name, got, tc.builds)
		}
		if worst, _ := maxDiff(t, base.Images[0], res.Images[0]); (worst == 0) != tc.same {
			t.Errorf("%s: max diff from no LoRA %d, want same=%v", tc.name, worst, tc.same)
		}
	}
	if worst, _ := maxDiff(t, base.Images[0], full.Images[0]); worst == 0 {
		t.Error("the LoRA at 1 did not change the image")
	}
	if worst, _ := maxDiff(t, full.Images[0], gen(runner.LoRA{Name: "test", Path: diffusers, TE: 1, UNet: 1}).Images[0]); worst != 0 {
		t.Errorf("the LoRA in diffusers UNet names differs from its LDM names by %d", worst)
	}
}

// xlEmbedding reads an emitted SDXL embedding as processing hands it on.
func xlEmbedding(t *testing.T, name string, vectors int, seed uint64) runner.Embedding {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".safetensors")
	if err := onnxgen.EmitEmbedding(path, xlConfig, vectors, seed); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	e := runner.Embedding{Name: name, Vectors: vectors, Rows: map[string][]float32{}}
	for _, k := range []string{"clip_l", "clip_g"} {
		if e.Rows[k], err = f.Floats(k); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// TestSDXLEmbeddingChangesImage: an SDXL embedding's name in the prompt or
// the negative prompt puts its clip_l and clip_g vectors into the two
// encoders, with a LoRA too; without the name the image is the plain one.
func TestSDXLEmbeddingChangesImage(t *testing.T) {
	r, _ := openFresh(t, xlConfig)
	embs := []runner.Embedding{xlEmbedding(t, "testemb", 2, 1)}
	lora := emitLoRA(t, xlConfig, onnxgen.LoRAOptions{Seed: 2})
	gen := func(prompt, neg string, loras ...runner.LoRA) runner.Result {
		t.Helper()
		req := baseRequest("Euler", 1)
		req.Steps = 2
		req.Prompts, req.NegativePrompts = []string{prompt}, []string{neg}
		req.Embeddings, req.LoRAs = embs, loras
		res, err := r.Generate(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	base := gen("a photo of a cat", "blurry")
	if base.Embeddings != nil {
		t.Errorf("embeddings used without a name: %v", base.Embeddings)
	}
	withLoRA := gen("a photo of a cat", "blurry", runner.LoRA{Name: "l", Path: lora, TE: 1})
	for _, tc := range []struct {
		prompt, neg string
		lora        bool
		used        []string
	}{
		{"a photo of a testemb cat", "blurry", false, []string{"testemb"}},
		{"a photo of a cat", "blurry testemb", false, []string{"testemb"}},
		{"a photo of a testemb cat", "blurry", true, []string{"testemb"}},
	} {
		ref := base
		var loras []runner.LoRA
		if tc.lora {
			ref, loras = withLoRA, []runner.LoRA{{Name: "l", Path: lora, TE: 1}}
		}
		res := gen(tc.prompt, tc.neg, loras...)
		if !slices.Equal(res.Embeddings, tc.used) {
			t.Errorf("%q / %q: used %v, want %v", tc.prompt, tc.neg, res.Embeddings, tc.used)
		}
		if worst, _ := maxDiff(t, ref.Images[0], res.Images[0]); worst == 0 {
			t.Errorf("%q / %q (LoRA %v): the embedding did not change the image", tc.prompt, tc.neg, tc.lora)
		}
	}
}

// TestSDXLEmbeddingPoolsAtEOS: an embedding whose vectors are copies of
// token rows gives the same hidden states and text_embeds as those tokens:
// the second encoder pools at the EOS token although the appended rows'
// ids are larger than EOS (poolAtEOS).
func TestSDXLEmbeddingPoolsAtEOS(t *testing.T) {
	fp16, int64IDs := xlConfig, xlConfig
	fp16.FP16, int64IDs.InputIDs = true, onnxgen.Int64
	for name, cfg := range map[string]onnxgen.Config{"fp32": xlConfig, "fp16": fp16, "int64 ids": int64IDs} {
		t.Run(name, func(t *testing.T) { poolsAtEOS(t, cfg) })
	}
}

func poolsAtEOS(t *testing.T, cfg onnxgen.Config) {
	r, _ := openFresh(t, cfg)
	x := r.xl
	tokens := []int64{320, 1125}
	var rows []float32
	for _, e := range []textEncoder{x.enc1, x.enc2} {
		model, err := os.ReadFile(e.part.path)
		if err != nil {
			t.Fatal(err)
		}
		gi, err := indexGraph(model, filepath.Dir(e.part.path))
		if err != nil {
			t.Fatal(err)
		}
		tt, err := gi.tokenTable(e.part.in[0].Name, e.dim)
		if err != nil {
			t.Fatal(err)
		}
		table, err := gi.tensorFloats(gi.inits[tt.init])
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range tokens {
			rows = append(rows, table[int(id)*e.dim:int(id+1)*e.dim]...)
		}
	}
	d1 := len(tokens) * x.enc1.dim
	emb := runner.Embedding{Name: "copies", Vectors: len(tokens), Rows: map[string][]float32{"clip_l": rows[:d1], "clip_g": rows[d1:]}}
	rows1, rows2, idx := r.xlEmbeddingRows([]runner.Embedding{emb})
	opts := clip.Options{Embeddings: idx}
	encode := func(tok *clip.Tokenizer, prompt string) ([]clip.Chunk, [][]clip.Fix) {
		t.Helper()
		c, f, err := tok.EncodeFixes(prompt, opts)
		if err != nil {
			t.Fatal(err)
		}
		return c, f
	}
	got1, f1 := encode(x.enc1.tok, "a photo of a copies")
	got2, f2 := encode(x.enc2.tok, "a photo of a copies")
	if len(f1) != 1 || len(f1[0]) != 1 || len(f2) != 1 || !slices.Equal(f1[0], f2[0]) {
		t.Fatalf("fixes %v and %v, want one embedding in one chunk for both", f1, f2)
	}
	at := f1[0][0].Offset + 1
	// The reference: the same chunks with the tokens themselves where
	// the embedding's vectors go.
	want1, want2 := slices.Clone(got1), slices.Clone(got2)
	copy(want1[0].IDs[at:], tokens)
	copy(want2[0].IDs[at:], tokens)
	g := &job{r: r, req: runner.Request{}, timing: &runner.Timing{}}
	if err := g.xlSessions(rows1, rows2, got1, got2, f1, f2); err != nil {
		t.Fatal(err)
	}
	if got1[0].IDs[at] < 49408 || got2[0].IDs[at] < 49408 {
		t.Fatalf("embedding ids %d, %d: want the appended rows", got1[0].IDs[at], got2[0].IDs[at])
	}
	h, pooled, err := g.runEncoder(x.enc2, g.xlText[1], got2, 1)
	if err != nil {
		t.Fatal(err)
	}
	wh, wpooled, err := g.runEncoder(x.enc2, nil, want2, 1)
	if err != nil {
		t.Fatal(err)
	}
	h1, _, err := g.runEncoder(x.enc1, g.xlText[0], got1, x.enc1.layers-1)
	if err != nil {
		t.Fatal(err)
	}
	wh1, _, err := g.runEncoder(x.enc1, nil, want1, x.enc1.layers-1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what      string
		got, want []float32
	}{{"CLIP-L hidden", h1, wh1}, {"CLIP-G hidden", h, wh}, {"text_embeds", pooled, wpooled}} {
		worst := float32(0)
		for i := range c.want {
			worst = max(worst, abs32(c.got[i]-c.want[i]))
		}
		if len(c.got) != len(c.want) || worst > 1e-4 {
			t.Errorf("%s: max diff %g from the tokens themselves", c.what, worst)
		}
	}
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
