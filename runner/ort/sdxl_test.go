package ort

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/clip"
	"github.com/sdapi/sdapi/runner/onnxgen"
	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
	"github.com/sdapi/sdapi/runner/sampling"
)

var xlConfig = onnxgen.Config{Family: onnxgen.FamilySDXL}

// Ensure an SDXL export opens as SDXL, with the concatenated conditioning
// width, and every exporter variant of its inputs (int64 ids, float and
// scalar timesteps, float16 tensors, external data) generates.
func TestSDXLOpenVariants(t *testing.T) {
	for _, cfg := range []onnxgen.Config{
		xlConfig,
		{Family: onnxgen.FamilySDXL, InputIDs: onnxgen.Int64, Timestep: onnxgen.FloatScalar, ExternalData: true, VAEEncoderOutput: onnxgen.LatentSample},
		{Family: onnxgen.FamilySDXL, FP16: true, Timestep: onnxgen.FloatBatch, LayerNorm: onnxgen.LayerNormDecomposed},
	} {
		r := openShared(t, cfg)
		if k := r.Model().Kind; k != "SDXL" {
			t.Errorf("%+v: kind %q, want SDXL", cfg, k)
		}
		if r.textDim != 80 || r.xl.pooledDim != 48 || r.latentScale != 0.13025 {
			t.Errorf("%+v: textDim %d pooled %d scale %v, want 80, 48, 0.13025", cfg, r.textDim, r.xl.pooledDim, r.latentScale)
		}
		req := baseRequest("Euler a", 1)
		req.Steps = 2
		if _, err := r.Generate(t.Context(), req); err != nil {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
}

// encodeDirect runs one encoder part on ids outside the runner and returns
// the named output.
func encodeDirect(t *testing.T, dir, part, output string, ids []int32, n int, width int) []float32 {
	t.Helper()
	in, err := onnxruntime.NewTensor(onnxruntime.NewShape(int64(n), clip.SeqLen), ids)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	s, err := onnxruntime.NewDynamicAdvancedSession(filepath.Join(dir, part, "model.onnx"), []string{"input_ids"}, []string{output}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	shape := onnxruntime.NewShape(int64(n), clip.SeqLen, int64(width))
	if output == "text_embeds" {
		shape = onnxruntime.NewShape(int64(n), int64(width))
	}
	out, err := onnxruntime.NewEmptyTensor[float32](shape)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Destroy()
	if err := s.Run([]onnxruntime.Value{in}, []onnxruntime.Value{out}); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(out.GetData())
}

// Ensure the SDXL conditioning is A1111's: per token row the first
// encoder's penultimate hidden state then the second's (not the last
// layer's, no final layer norm), the second encoder's pooled text_embeds,
// the second tokenizer padding with 0, and all-zero uncond for an empty
// negative prompt only.
func TestSDXLConditioning(t *testing.T) {
	dir := emit(t, xlConfig)
	r := openShared(t, xlConfig)
	tok1, err := clip.Load(filepath.Join(dir, "tokenizer"))
	if err != nil {
		t.Fatal(err)
	}
	tok2, err := clip.Load(filepath.Join(dir, "tokenizer_2"))
	if err != nil {
		t.Fatal(err)
	}
	ids := func(tok *clip.Tokenizer) []int32 {
		c, err := tok.EncodeWith("a cat", clip.Options{Emphasis: clip.EmphasisNone})
		if err != nil || len(c) != 1 {
			t.Fatalf("%v, %d chunks", err, len(c))
		}
		out := make([]int32, clip.SeqLen)
		for i, v := range c[0].IDs {
			out[i] = int32(v)
		}
		return out
	}
	i1, i2 := ids(tok1), ids(tok2)
	if i1[clip.SeqLen-1] != int32(tok1.EOS()) || i2[clip.SeqLen-1] != 0 {
		t.Fatalf("padding: tokenizer %d, tokenizer_2 %d; want EOS and 0", i1[clip.SeqLen-1], i2[clip.SeqLen-1])
	}
	h1 := encodeDirect(t, dir, "text_encoder", "hidden_states.1", i1, 1, 32)
	last1 := encodeDirect(t, dir, "text_encoder", "last_hidden_state", i1, 1, 32)
	h2 := encodeDirect(t, dir, "text_encoder_2", "hidden_states.1", i2, 1, 48)
	pooled := encodeDirect(t, dir, "text_encoder_2", "text_embeds", i2, 1, 48)

	for _, tc := range []struct {
		neg      string
		zeroNeg  bool
		emphasis string
	}{{"", true, "None"}, {"blurry", false, "None"}} {
		req := baseRequest("Euler", 1)
		req.Prompts, req.NegativePrompts, req.Emphasis = []string{"a cat"}, []string{tc.neg}, tc.emphasis
		g := &job{r: r, req: req, timing: &runner.Timing{}, b: 1, lh: 8, lw: 8}
		ro, release, err := terminableRunOptions(context.Background(), r.log, false)
		if err != nil {
			t.Fatal(err)
		}
		g.ro = ro
		r.mu.Lock()
		c, u, err := g.conditioning()
		r.mu.Unlock()
		release()
		if err != nil {
			t.Fatal(err)
		}
		if c.seq != clip.SeqLen || c.dim != 80 || c.pdim != 48 {
			t.Fatalf("cond seq %d dim %d pdim %d", c.seq, c.dim, c.pdim)
		}
		var d1, d2, dLast float64
		for row := range clip.SeqLen {
			got := c.data[row*80 : (row+1)*80]
			for k := range 32 {
				d1 = max(d1, absDiff(got[k], h1[row*32+k]))
				dLast = max(dLast, absDiff(got[k], last1[row*32+k]))
			}
			for k := range 48 {
				d2 = max(d2, absDiff(got[32+k], h2[row*48+k]))
			}
		}
		if d1 > 1e-5 || d2 > 1e-5 || dLast < 1e-3 {
			t.Errorf("cond vs penultimate: enc1 %g enc2 %g (want ≈0); vs enc1 last_hidden_state %g (want >0)", d1, d2, dLast)
		}
		var dp float64
		for k := range 48 {
			dp = max(dp, absDiff(c.pooled[k], pooled[k]))
		}
		if dp > 1e-5 {
			t.Errorf("pooled differs from text_embeds by %g", dp)
		}
		zero := !slices.ContainsFunc(u.data, func(v float32) bool { return v != 0 }) &&
			!slices.ContainsFunc(u.pooled, func(v float32) bool { return v != 0 })
		if zero != tc.zeroNeg {
			t.Errorf("negative %q: uncond all zero = %v, want %v", tc.neg, zero, tc.zeroNeg)
		}
	}
}

func absDiff(a, b float32) float64 {
	d := float64(a) - float64(b)
	if d < 0 {
		return -d
	}
	return d
}

// Ensure time_ids reach the UNet: the crop options change the image, and
// the same request twice gives the same pixels.
func TestSDXLTimeIDs(t *testing.T) {
	r := openShared(t, xlConfig)
	gen := func(top float64) image.Image {
		req := baseRequest("Euler", 5)
		req.Steps = 2
		req.SDXL.CropTop = top
		res, err := r.Generate(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		return res.Images[0]
	}
	a, b, c := gen(0), gen(0), gen(256)
	if d, _ := maxDiff(t, a, b); d != 0 {
		t.Errorf("same request: max diff %d", d)
	}
	if _, mean := maxDiff(t, a, c); mean < 0.5 {
		t.Errorf("sdxl_crop_top 256: mean diff %.3f, want a different image", mean)
	}
}

// Ensure every sampler generates on SDXL, txt2img and img2img, and repeats
// itself with the same seed.
func TestSDXLEverySampler(t *testing.T) {
	r := openShared(t, xlConfig)
	for _, smp := range sampling.Samplers() {
		t.Run(smp.Name, func(t *testing.T) {
			req := baseRequest(smp.Name, 1)
			req.Steps = 2
			a, err := r.Generate(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := r.Generate(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := maxDiff(t, a.Images[0], b.Images[0]); d != 0 {
				t.Errorf("same seed: max diff %d", d)
			}
			ireq := img2imgRequest(t, smp.Name, 1)
			ireq.Steps = 2
			res, err := r.Generate(t.Context(), ireq)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Images) != 1 || res.Timing.VAEEncode == 0 {
				t.Errorf("img2img: %d images, encode time %d", len(res.Images), res.Timing.VAEEncode)
			}
		})
	}
}

// Ensure the VAE's config.json scaling_factor is the one used, over the
// family default.
func TestSDXLVAEScalingFromConfig(t *testing.T) {
	src := emit(t, xlConfig)
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "vae_decoder", "config.json")
	b, err := json.Marshal(map[string]any{"scaling_factor": 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(t.Context(), dir, Config{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.latentScale != 0.5 {
		t.Errorf("latentScale %v, want 0.5 from vae_decoder/config.json", r.latentScale)
	}
	if err := os.WriteFile(cfgPath, []byte(`{"scaling_factor": -1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.Context(), dir, Config{Threads: 2}); err == nil {
		t.Error("negative scaling_factor: no error")
	}
}

var refinerConfig = onnxgen.Config{Family: onnxgen.FamilySDXLRefiner}

// Ensure an SDXL refiner export (text_encoder_2 only) opens and generates
// on its own, conditioned on CLIP-G alone, with the aesthetic scores in
// time_ids: the high score for the prompt, the low one for the negative.
func TestSDXLRefinerStandalone(t *testing.T) {
	r := openShared(t, refinerConfig)
	if !r.xl.refiner() || r.textDim != 48 || r.xl.timeIDs != 5 || r.Model().Kind != "SDXL" {
		t.Fatalf("refiner %v textDim %d timeIDs %d kind %q", r.xl.refiner(), r.textDim, r.xl.timeIDs, r.Model().Kind)
	}
	gen := func(low, high float64) image.Image {
		req := img2imgRequest(t, "Euler", 1)
		req.Steps = 2
		req.SDXL.RefinerLowAesthetic, req.SDXL.RefinerHighAesthetic = low, high
		res, err := r.Generate(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		return res.Images[0]
	}
	base := gen(2.5, 6)
	if d, _ := maxDiff(t, base, gen(2.5, 6)); d != 0 {
		t.Errorf("same request: max diff %d", d)
	}
	for _, tc := range []struct{ low, high float64 }{{2.5, 9}, {0, 6}} {
		if _, mean := maxDiff(t, base, gen(tc.low, tc.high)); mean < 0.5 {
			t.Errorf("aesthetic scores %v: mean diff %.3f, want a different image", tc, mean)
		}
	}
	// 100×64 has a 12×8 latent (96×64 pixels); time_ids carry the request's size.
	g := &job{r: r, req: runner.Request{Width: 100, Height: 64, SDXL: runner.SDXLOptions{CropTop: 1, CropLeft: 2, RefinerLowAesthetic: 2.5, RefinerHighAesthetic: 6}}, lh: 8, lw: 12}
	if got, want := g.timeIDs(true), []float32{64, 100, 1, 2, 2.5}; !slices.Equal(got, want) {
		t.Errorf("refiner negative time_ids %v, want %v", got, want)
	}
	if got, want := g.timeIDs(false), []float32{64, 100, 1, 2, 6}; !slices.Equal(got, want) {
		t.Errorf("refiner prompt time_ids %v, want %v", got, want)
	}
	g.r = openShared(t, xlConfig)
	if got, want := g.timeIDs(true), []float32{64, 100, 1, 2, 64, 100}; !slices.Equal(got, want) {
		t.Errorf("base time_ids %v, want %v", got, want)
	}
	g.req.SDXL.Width, g.req.SDXL.Height = 150, 108 // a hires pass's hr_upscale_to
	if got, want := g.timeIDs(false), []float32{108, 150, 1, 2, 108, 150}; !slices.Equal(got, want) {
		t.Errorf("hires time_ids %v, want %v", got, want)
	}
}

// wrapped is a runner wrapping another, as processing's catalog wrapper.
type wrapped struct{ runner.Runner }

func (w wrapped) Unwrap() runner.Runner { return w.Runner }

// Ensure A1111's refiner switch: from the model call whose completed
// ratio reaches refiner_switch_at the refiner's UNet and conditioning run
// (its VAE decodes), a switch point past every call changes nothing, and a
// refiner that is the generating model is skipped.
func TestSDXLRefinerSwitch(t *testing.T) {
	base := openShared(t, xlConfig)
	ref := openShared(t, refinerConfig)
	gen := func(rf *runner.Refiner, sampler string) runner.Result {
		t.Helper()
		req := baseRequest(sampler, 1)
		req.Steps = 4
		req.SDXL.RefinerLowAesthetic, req.SDXL.RefinerHighAesthetic = 2.5, 6
		req.Refiner = rf
		res, err := base.Generate(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, sampler := range []string{"Euler", "DDIM"} {
		plain := gen(nil, sampler)
		for _, tc := range []struct {
			name    string
			rf      *runner.Refiner
			refined bool
		}{
			{"switch at 0.5", &runner.Refiner{Runner: wrapped{ref}, SwitchAt: 0.5}, true},
			{"switch at 0", &runner.Refiner{Runner: ref, SwitchAt: 0}, true},
			{"by steps", &runner.Refiner{Runner: ref, SwitchAt: 0.5, BySteps: true}, true},
			{"never", &runner.Refiner{Runner: ref, SwitchAt: 1}, false},
			{"the model itself", &runner.Refiner{Runner: base, SwitchAt: 0}, false},
		} {
			res := gen(tc.rf, sampler)
			if res.Refined != tc.refined {
				t.Errorf("%s %s: refined %v, want %v", sampler, tc.name, res.Refined, tc.refined)
			}
			d, mean := maxDiff(t, plain.Images[0], res.Images[0])
			if tc.refined && mean < 0.5 || !tc.refined && d != 0 {
				t.Errorf("%s %s: max diff %d mean %.3f from the base alone", sampler, tc.name, d, mean)
			}
		}
		a, b := gen(&runner.Refiner{Runner: ref, SwitchAt: 0.5}, sampler), gen(&runner.Refiner{Runner: ref, SwitchAt: 0.8}, sampler)
		if _, mean := maxDiff(t, a.Images[0], b.Images[0]); mean < 0.5 {
			t.Errorf("%s: switch at 0.5 and 0.8 give the same image", sampler)
		}
	}
	// The refiner's lock was released: it generates on its own.
	req := baseRequest("Euler", 1)
	req.Steps = 1
	if _, err := ref.Generate(t.Context(), req); err != nil {
		t.Fatal(err)
	}
}

// Ensure the completed ratio is A1111's: the nearest training sigma's
// timestep for σ, the truncated timestep for timestep samplers.
func TestRefinerRatio(t *testing.T) {
	g := &job{r: openShared(t, xlConfig)}
	s := g.r.sched
	for _, tc := range []struct {
		sigma float64
		want  float64
	}{{s.SigmaMax(), 0}, {s.SigmaMin(), 0.999}, {s.Sigmas[499] * 1.0001, 0.5}} {
		if got := g.ratioAtSigma(tc.sigma); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("ratio at σ %g = %v, want %v", tc.sigma, got, tc.want)
		}
	}
	if got := g.ratioAtT(499.7); got != 0.5 {
		t.Errorf("ratio at t 499.7 = %v, want 0.5", got)
	}
}

// Ensure sdxl_clip_l_skip as A1111 1.10 reads it: off, clip skip is
// ignored; on, the first encoder takes hidden_states[-n] (n = 2 is the
// default penultimate layer, n = 1 the last layer without its final norm),
// and n past its hidden states is refused.
func TestSDXLClipLSkip(t *testing.T) {
	r := openShared(t, xlConfig)
	gen := func(on bool, n int) (image.Image, error) {
		req := baseRequest("Euler", 3)
		req.Steps = 2
		req.ClipSkip, req.SDXL.ClipLSkip = n, on
		res, err := r.Generate(t.Context(), req)
		if err != nil {
			return nil, err
		}
		return res.Images[0], nil
	}
	base, err := gen(false, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		on   bool
		n    int
		same bool
	}{{false, 3, true}, {true, 2, true}, {true, 1, false}, {true, 3, false}} {
		im, err := gen(tc.on, tc.n)
		if err != nil {
			t.Fatalf("sdxl_clip_l_skip %v, clip skip %d: %v", tc.on, tc.n, err)
		}
		if d, _ := maxDiff(t, base, im); (d == 0) != tc.same {
			t.Errorf("sdxl_clip_l_skip %v, clip skip %d: max diff %d from the default, want same=%v", tc.on, tc.n, d, tc.same)
		}
	}
	if _, err := gen(true, 4); !errors.Is(err, runner.ErrInvalidRequest) {
		t.Errorf("clip skip 4 on a 2-layer encoder: %v, want an invalid request", err)
	}
}

// Ensure a prompt past 75 tokens is several 77-row chunks for both
// encoders and generates, and that an fp16 VAE export (an fp16-fix VAE) serves
// an fp32 SDXL model through Config.VAEDir.
func TestSDXLLongPromptAndFP16VAE(t *testing.T) {
	r := openShared(t, xlConfig)
	req := baseRequest("Euler", 1)
	req.Steps = 1
	req.Prompts = []string{"a photo of a cat, " + repeatWords("detailed", 90)}
	g := &job{r: r, req: req, timing: &runner.Timing{}, b: 1, lh: 8, lw: 8}
	ro, release, err := terminableRunOptions(context.Background(), r.log, false)
	if err != nil {
		t.Fatal(err)
	}
	g.ro = ro
	r.mu.Lock()
	c, u, err := g.conditioning()
	r.mu.Unlock()
	release()
	if err != nil || c.seq <= clip.SeqLen || c.seq%clip.SeqLen != 0 || u.seq != clip.SeqLen || len(c.pooled) != 48 {
		t.Fatalf("cond seq %d uncond seq %d pooled %d: %v", c.seq, u.seq, len(c.pooled), err)
	}
	if _, err := r.Generate(t.Context(), req); err != nil {
		t.Fatal(err)
	}

	vae := emit(t, onnxgen.Config{Family: onnxgen.FamilySDXL, FP16: true})
	rv, err := Open(t.Context(), emit(t, xlConfig), Config{Threads: 2, VAEDir: vae})
	if err != nil {
		t.Fatal(err)
	}
	defer rv.Close()
	if rv.vaeDec.in[0].Elem != onnxpb.Float16 {
		t.Errorf("VAE decoder input %v, want the fp16 export's", rv.vaeDec.in[0])
	}
	if rv.latentScale != 0.13025 {
		t.Errorf("latentScale %v from the VAE's config, want 0.13025", rv.latentScale)
	}
	ireq := img2imgRequest(t, "Euler", 1)
	ireq.Steps = 1
	if _, err := rv.Generate(t.Context(), ireq); err != nil {
		t.Fatal(err)
	}
}
