package onnxgen

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// Ensure the tiny SDXL pipeline has every part, input and output of an
// optimum SDXL export, with the real names, element types and ranks.
func TestEmitSDXLSignatures(t *testing.T) {
	hidden := func(w string) string {
		s := ""
		for i := range 3 {
			s += "; hidden_states." + string(rune('0'+i)) + " tensor(float)[batch,sequence," + w + "]"
		}
		return s
	}
	cases := []struct {
		name string
		cfg  Config
		want map[string][2]string
	}{
		{"default", Config{Family: FamilySDXL}, map[string][2]string{
			"text_encoder": {"input_ids tensor(int32)[batch,sequence]",
				"last_hidden_state tensor(float)[batch,sequence,32]; pooler_output tensor(float)[batch,32]" + hidden("32")},
			"text_encoder_2": {"input_ids tensor(int32)[batch,sequence]",
				"text_embeds tensor(float)[batch,48]; last_hidden_state tensor(float)[batch,sequence,48]" + hidden("48")},
			"unet": {"sample tensor(float)[batch,4,height,width]; timestep tensor(int64)[batch]; encoder_hidden_states tensor(float)[batch,sequence,80]; " +
				"text_embeds tensor(float)[batch,48]; time_ids tensor(float)[batch,6]",
				"out_sample tensor(float)[batch,4,height,width]"},
			"vae_decoder": {"latent_sample tensor(float)[batch,4,height,width]",
				"sample tensor(float)[batch,3,image_height,image_width]"},
		}},
		{"optimum_fp16", Config{Family: FamilySDXL, InputIDs: Int64, Timestep: FloatBatch, FP16: true}, map[string][2]string{
			"text_encoder_2": {"input_ids tensor(int64)[batch,sequence]",
				"text_embeds tensor(float16)[batch,48]; last_hidden_state tensor(float16)[batch,sequence,48]; hidden_states.0 tensor(float16)[batch,sequence,48]; " +
					"hidden_states.1 tensor(float16)[batch,sequence,48]; hidden_states.2 tensor(float16)[batch,sequence,48]"},
			"unet": {"sample tensor(float16)[batch,4,height,width]; timestep tensor(float16)[batch]; encoder_hidden_states tensor(float16)[batch,sequence,80]; " +
				"text_embeds tensor(float16)[batch,48]; time_ids tensor(float16)[batch,6]",
				"out_sample tensor(float16)[batch,4,height,width]"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := Emit(dir, tc.cfg); err != nil {
				t.Fatal(err)
			}
			for part, want := range tc.want {
				in, out, err := onnxpb.ReadIO(filepath.Join(dir, part, "model.onnx"))
				if err != nil {
					t.Fatal(err)
				}
				if got := sig(in); got != want[0] {
					t.Errorf("%s inputs = %s, want %s", part, got, want[0])
				}
				if got := sig(out); got != want[1] {
					t.Errorf("%s outputs = %s, want %s", part, got, want[1])
				}
			}
		})
	}
}

// Ensure the SDXL layout has the files and values a diffusers SDXL
// pipeline reads: the class name, both tokenizers (the second padding with
// "!"), the Euler scheduler and the VAE's scaling factor.
func TestEmitSDXLLayout(t *testing.T) {
	dir := t.TempDir()
	if err := Emit(dir, Config{Family: FamilySDXL}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{
		"model_index.json", "scheduler/scheduler_config.json",
		"text_encoder/model.onnx", "text_encoder_2/model.onnx", "unet/model.onnx", "vae_decoder/model.onnx", "vae_encoder/model.onnx",
		"vae_decoder/config.json", "vae_encoder/config.json",
		"tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer_2/vocab.json", "tokenizer_2/merges.txt",
		"tokenizer_2/special_tokens_map.json", "tokenizer_2/tokenizer_config.json",
	} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	checks := []struct {
		file, key string
		want      any
	}{
		{"model_index.json", "_class_name", "StableDiffusionXLPipeline"},
		{"model_index.json", "force_zeros_for_empty_prompt", true},
		{"scheduler/scheduler_config.json", "_class_name", "EulerDiscreteScheduler"},
		{"scheduler/scheduler_config.json", "beta_end", 0.012},
		{"vae_decoder/config.json", "scaling_factor", 0.13025},
		{"tokenizer_2/special_tokens_map.json", "pad_token", "!"},
		{"tokenizer/special_tokens_map.json", "pad_token", "<|endoftext|>"},
	}
	for _, c := range checks {
		var m map[string]any
		readJSON(t, filepath.Join(dir, c.file), &m)
		if m[c.key] != c.want {
			t.Errorf("%s %s = %v, want %v", c.file, c.key, m[c.key], c.want)
		}
	}
	var vocab map[string]any
	readJSON(t, filepath.Join(dir, "tokenizer_2/vocab.json"), &vocab)
	if vocab["!"] != 0.0 {
		t.Errorf(`tokenizer_2 vocab["!"] = %v, want 0 (OpenCLIP's pad id)`, vocab["!"])
	}
}

// Ensure the tiny SDXL parts run in ONNX Runtime: the encoders' outputs
// have the declared shapes, the penultimate hidden state differs from the
// last, and the UNet's output depends on text_embeds and on time_ids (the
// addition embedding is wired in).
func TestSDXLPartsRun(t *testing.T) {
	requireORT(t)
	dir := t.TempDir()
	if err := Emit(dir, Config{Family: FamilySDXL}); err != nil {
		t.Fatal(err)
	}
	ids := promptIDs(2, 1)
	idsShape := ort.NewShape(2, 77)
	hs := func(w int64) []fetch {
		var f []fetch
		for _, n := range []string{"hidden_states.0", "hidden_states.1", "hidden_states.2"} {
			f = append(f, fetch{n, ort.NewShape(2, 77, w)})
		}
		return f
	}
	o1 := runPart(t, dir, "text_encoder", []feed{{name: "input_ids", shape: idsShape, i64: ids}},
		append([]fetch{{"last_hidden_state", ort.NewShape(2, 77, 32)}, {"pooler_output", ort.NewShape(2, 32)}}, hs(32)...))
	o2 := runPart(t, dir, "text_encoder_2", []feed{{name: "input_ids", shape: idsShape, i64: ids}},
		append([]fetch{{"text_embeds", ort.NewShape(2, 48)}, {"last_hidden_state", ort.NewShape(2, 77, 48)}}, hs(48)...))
	if maxDiff(o1[0], o1[3]) == 0 || maxDiff(o2[1], o2[3]) == 0 {
		t.Error("the penultimate hidden state equals last_hidden_state")
	}

	r := rand.New(rand.NewPCG(1, 2))
	sample := randFloats(r, 2*4*8*8)
	ehs := randFloats(r, 2*77*80)
	te := randFloats(r, 2*48)
	tid := []float32{1024, 1024, 0, 0, 1024, 1024, 512, 768, 0, 0, 512, 768}
	run := func(te, tid []float32) []float32 {
		return runPart(t, dir, "unet", []feed{
			{name: "sample", shape: ort.NewShape(2, 4, 8, 8), f32: sample},
			{name: "timestep", shape: ort.NewShape(2), i64: []int64{500, 500}},
			{name: "encoder_hidden_states", shape: ort.NewShape(2, 77, 80), f32: ehs},
			{name: "text_embeds", shape: ort.NewShape(2, 48), f32: te},
			{name: "time_ids", shape: ort.NewShape(2, 6), f32: tid},
		}, []fetch{{"out_sample", ort.NewShape(2, 4, 8, 8)}})[0]
	}
	base := run(te, tid)
	if maxDiff(base, run(make([]float32, len(te)), tid)) == 0 {
		t.Error("out_sample does not depend on text_embeds")
	}
	tid2 := append([]float32(nil), tid...)
	tid2[2] = 64 // crop top
	if maxDiff(base, run(te, tid2)) == 0 {
		t.Error("out_sample does not depend on time_ids")
	}
}

func maxDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

// Ensure the sdxl size preset has SDXL base's widths (never emitted in
// tests: it is about 14 GB).
func TestSDXLPresetShapes(t *testing.T) {
	a, err := Config{Size: SDXL}.arch()
	if err != nil {
		t.Fatal(err)
	}
	if a.crossDim != 2048 || a.textDim+a.text2Dim != 2048 || a.text2Proj+6*a.addTimeDim != 2816 ||
		a.heads(640) != 10 || a.heads(1280) != 20 || a.depth(2) != 10 || a.midDepth != 10 {
		t.Errorf("sdxl preset = %+v, want SDXL base's shapes", a)
	}
	if _, err := (Config{Size: SD15, Family: FamilySDXL}).arch(); err == nil {
		t.Error("Size SD15 with FamilySDXL: no error")
	}
}

// Ensure the tiny refiner has the layout of an optimum SDXL refiner
// export: no text_encoder or tokenizer, text_encoder_2 with text_embeds
// and hidden states, and a UNet whose time_ids are [batch, 5].
func TestEmitSDXLRefiner(t *testing.T) {
	dir := t.TempDir()
	if err := Emit(dir, Config{Family: FamilySDXLRefiner}); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"text_encoder", "tokenizer"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); err == nil {
			t.Errorf("%s/ exists in a refiner", gone)
		}
	}
	in, _, err := onnxpb.ReadIO(filepath.Join(dir, "unet", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	want := "sample tensor(float)[batch,4,height,width]; timestep tensor(int64)[batch]; encoder_hidden_states tensor(float)[batch,sequence,48]; " +
		"text_embeds tensor(float)[batch,48]; time_ids tensor(float)[batch,5]"
	if got := sig(in); got != want {
		t.Errorf("unet inputs = %s, want %s", got, want)
	}
	var index map[string]any
	readJSON(t, filepath.Join(dir, "model_index.json"), &index)
	if index["_class_name"] != "StableDiffusionXLImg2ImgPipeline" || index["requires_aesthetics_score"] != true {
		t.Errorf("model_index %v", index)
	}
	if _, err := os.Stat(filepath.Join(dir, "tokenizer_2", "merges.txt")); err != nil {
		t.Error(err)
	}
	if _, err := (Config{Family: FamilySDXLRefiner, Size: SDXL}).arch(); err == nil {
		t.Error("refiner at size sdxl: no error")
	}
}
