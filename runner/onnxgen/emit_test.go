package onnxgen

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// sig formats a model's inputs or outputs for comparison.
func sig(vs []onnxpb.ValueInfo) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.String()
	}
	return strings.Join(s, "; ")
}

// Ensure Emit writes the diffusers layout quickly, with the declared
// inputs and outputs of each exporter variant.
func TestEmitVariants(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want map[string][2]string // part → inputs, outputs
	}{
		{"default", Config{}, map[string][2]string{
			"text_encoder": {"input_ids tensor(int32)[batch,sequence]",
				"last_hidden_state tensor(float)[batch,sequence,32]; pooler_output tensor(float)[batch,32]"},
			"unet": {"sample tensor(float)[batch,4,height,width]; timestep tensor(int64)[batch]; encoder_hidden_states tensor(float)[batch,sequence,32]",
				"out_sample tensor(float)[batch,4,height,width]"},
			"vae_decoder": {"latent_sample tensor(float)[batch,4,height,width]",
				"sample tensor(float)[batch,3,image_height,image_width]"},
			"vae_encoder": {"sample tensor(float)[batch,3,height,width]",
				"latent_parameters tensor(float)[batch,8,latent_height,latent_width]"},
		}},
		{"int64_float_external", Config{InputIDs: Int64, Timestep: FloatBatch, ExternalData: true, VAEEncoderOutput: LatentSample}, map[string][2]string{
			"text_encoder": {"input_ids tensor(int64)[batch,sequence]",
				"last_hidden_state tensor(float)[batch,sequence,32]; pooler_output tensor(float)[batch,32]"},
			"unet": {"sample tensor(float)[batch,4,height,width]; timestep tensor(float)[batch]; encoder_hidden_states tensor(float)[batch,sequence,32]",
				"out_sample tensor(float)[batch,4,height,width]"},
			"vae_encoder": {"sample tensor(float)[batch,3,height,width]",
				"latent_sample tensor(float)[batch,4,latent_height,latent_width]"},
		}},
		{"scalar", Config{Timestep: FloatScalar}, map[string][2]string{
			"unet": {"sample tensor(float)[batch,4,height,width]; timestep tensor(float)[]; encoder_hidden_states tensor(float)[batch,sequence,32]",
				"out_sample tensor(float)[batch,4,height,width]"},
		}},
		{"fp16", Config{FP16: true, Timestep: FloatScalar}, map[string][2]string{
			"text_encoder": {"input_ids tensor(int32)[batch,sequence]",
				"last_hidden_state tensor(float16)[batch,sequence,32]; pooler_output tensor(float16)[batch,32]"},
			"unet": {"sample tensor(float16)[batch,4,height,width]; timestep tensor(float16)[]; encoder_hidden_states tensor(float16)[batch,sequence,32]",
				"out_sample tensor(float16)[batch,4,height,width]"},
			"vae_decoder": {"latent_sample tensor(float16)[batch,4,height,width]",
				"sample tensor(float16)[batch,3,image_height,image_width]"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			start := time.Now()
			if err := Emit(dir, tc.cfg); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Emit took %v, want well under a second", d)
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
			_, err := os.Stat(filepath.Join(dir, "unet", "weights.pb"))
			if got, want := err == nil, tc.cfg.ExternalData; got != want {
				t.Errorf("unet/weights.pb exists = %v, want %v", got, want)
			}
		})
	}
}

// Ensure the layout has every file a diffusers ONNX pipeline has, with the
// values the runner reads.
func TestEmitLayout(t *testing.T) {
	dir := t.TempDir()
	if err := Emit(dir, Config{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{
		"model_index.json", "scheduler/scheduler_config.json",
		"text_encoder/model.onnx", "unet/model.onnx", "vae_decoder/model.onnx", "vae_encoder/model.onnx",
		"tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer/special_tokens_map.json", "tokenizer/tokenizer_config.json",
	} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}

	var index map[string]any
	readJSON(t, filepath.Join(dir, "model_index.json"), &index)
	if got, want := index["_class_name"], "OnnxStableDiffusionPipeline"; got != want {
		t.Errorf("_class_name = %v, want %v", got, want)
	}

	var sched map[string]any
	readJSON(t, filepath.Join(dir, "scheduler/scheduler_config.json"), &sched)
	for k, want := range map[string]any{"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
		"num_train_timesteps": 1000.0, "steps_offset": 1.0, "prediction_type": "epsilon"} {
		if sched[k] != want {
			t.Errorf("scheduler %s = %v, want %v", k, sched[k], want)
		}
	}

	var vocab map[string]int
	readJSON(t, filepath.Join(dir, "tokenizer/vocab.json"), &vocab)
	for tok, want := range map[string]int{"!": 0, "!</w>": 256, "<|startoftext|>": 49406, "<|endoftext|>": 49407, "Ā": 188} {
		if got, ok := vocab[tok]; !ok || got != want {
			t.Errorf("vocab[%q] = %d, %v, want %d", tok, got, ok, want)
		}
	}
	merges, err := os.ReadFile(filepath.Join(dir, "tokenizer/merges.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(merges)), "\n")
	if lines[0] != "#version: 0.2" {
		t.Errorf("merges.txt starts with %q", lines[0])
	}
	for _, l := range lines[1:] {
		a, b, _ := strings.Cut(l, " ")
		for _, s := range []string{a, b, a + b} {
			if _, ok := vocab[s]; !ok {
				t.Errorf("merge %q: %q not in vocab", l, s)
			}
		}
	}
}

// Ensure the same seed gives identical files and another seed different weights.
func TestEmitDeterministic(t *testing.T) {
	read := func(cfg Config) []byte {
		dir := t.TempDir()
		if err := Emit(dir, cfg); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "unet", "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := read(Config{Seed: 7}), read(Config{Seed: 7}), read(Config{Seed: 8})
	if !bytes.Equal(a, b) {
		t.Error("same seed gave different unet/model.onnx")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds gave identical unet/model.onnx")
	}
}

func TestEmitUnknownSize(t *testing.T) {
	if err := Emit(t.TempDir(), Config{Size: Size(9)}); err == nil {
		t.Error("Emit with an unknown size succeeded")
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
