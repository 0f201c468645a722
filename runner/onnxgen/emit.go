package onnxgen

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// Emit writes a complete pipeline into dir (created if needed) in the
// diffusers ONNX layout: model_index.json, text_encoder/, unet/,
// vae_decoder/, vae_encoder/, tokenizer/ and scheduler/. The output is a
// deterministic function of cfg.
func Emit(dir string, cfg Config) error {
	a, err := cfg.arch()
	if err != nil {
		return err
	}
	unetOpts := onnxpb.WriteOptions{Producer: "sdapi-onnxgen"}
	if cfg.ExternalData || cfg.Size == SD15 {
		unetOpts.ExternalData = "weights.pb"
	}
	parts := []struct {
		name  string
		build func(Config, arch) *onnxpb.Graph
		opts  onnxpb.WriteOptions
	}{
		{"text_encoder", textEncoder, onnxpb.WriteOptions{Producer: "sdapi-onnxgen"}},
		{"unet", unet, unetOpts},
		{"vae_decoder", vaeDecoder, onnxpb.WriteOptions{Producer: "sdapi-onnxgen"}},
		{"vae_encoder", vaeEncoder, onnxpb.WriteOptions{Producer: "sdapi-onnxgen"}},
	}
	for _, p := range parts {
		sub := filepath.Join(dir, p.name)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		// Build and write one part at a time so only one is in memory.
		if err := p.build(cfg, a).WriteFile(filepath.Join(sub, "model.onnx"), p.opts); err != nil {
			return fmt.Errorf("onnxgen: write %s: %w", p.name, err)
		}
	}

	files := []struct {
		path string
		v    any
	}{
		{"model_index.json", modelIndex()},
		{"scheduler/scheduler_config.json", schedulerConfig()},
		{"tokenizer/vocab.json", tokenizerVocab()},
		{"tokenizer/special_tokens_map.json", specialTokensMap()},
		{"tokenizer/tokenizer_config.json", tokenizerConfig()},
	}
	for _, f := range files {
		b, err := json.MarshalIndent(f.v, "", "  ")
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, f.path), append(b, '\n')); err != nil {
			return err
		}
	}
	return writeFile(filepath.Join(dir, "tokenizer/merges.txt"), []byte(tokenizerMerges()))
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func modelIndex() map[string]any {
	onnx := []string{"diffusers", "OnnxRuntimeModel"}
	return map[string]any{
		"_class_name":             "OnnxStableDiffusionPipeline",
		"_diffusers_version":      "0.14.0",
		"_sdapi_description":      Description,
		"feature_extractor":       []any{nil, nil},
		"requires_safety_checker": false,
		"safety_checker":          []any{nil, nil},
		"scheduler":               []string{"diffusers", "PNDMScheduler"},
		"text_encoder":            onnx,
		"tokenizer":               []string{"transformers", "CLIPTokenizer"},
		"unet":                    onnx,
		"vae_decoder":             onnx,
		"vae_encoder":             onnx,
	}
}

// schedulerConfig holds the Stable Diffusion 1.5 PNDM scheduler values.
func schedulerConfig() map[string]any {
	return map[string]any{
		"_class_name":         "PNDMScheduler",
		"_diffusers_version":  "0.14.0",
		"beta_end":            0.012,
		"beta_schedule":       "scaled_linear",
		"beta_start":          0.00085,
		"clip_sample":         false,
		"num_train_timesteps": 1000,
		"prediction_type":     "epsilon",
		"set_alpha_to_one":    false,
		"skip_prk_steps":      true,
		"steps_offset":        1,
		"trained_betas":       nil,
	}
}
