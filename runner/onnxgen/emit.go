package onnxgen

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// Emit writes a complete pipeline into dir (created if needed) in the
// diffusers ONNX layout: model_index.json, text_encoder/, unet/,
// vae_decoder/, vae_encoder/, tokenizer/ and scheduler/; for SDXL also
// text_encoder_2/, tokenizer_2/ and the VAE's config.json (its
// scaling_factor). The output is a deterministic function of cfg.
func Emit(dir string, cfg Config) error {
	a, err := cfg.arch()
	if err != nil {
		return err
	}
	unetOpts := onnxpb.WriteOptions{Producer: "sdapi-onnxgen"}
	if cfg.ExternalData || cfg.Size == SD15 || cfg.Size == SDXL {
		unetOpts.ExternalData = "weights.pb"
	}
	parts := []struct {
		name  string
		build func(Config, arch) *onnxpb.Graph
		opts  onnxpb.WriteOptions
	}{
		{"text_encoder", textEncoder, onnxpb.WriteOptions{Producer: "sdapi-onnxgen"}},
		{"text_encoder_2", textEncoder2, unetOpts},
		{"unet", unet, unetOpts},
		{"vae_decoder", vaeDecoder, onnxpb.WriteOptions{Producer: "sdapi-onnxgen"}},
		{"vae_encoder", vaeEncoder, onnxpb.WriteOptions{Producer: "sdapi-onnxgen"}},
	}
	for _, p := range parts {
		if p.name == "text_encoder_2" && !cfg.xl() || p.name == "text_encoder" && a.noText1 {
			continue
		}
		sub := filepath.Join(dir, p.name)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		// Build and write one part at a time so only one is in memory.
		if err := p.build(cfg, a).WriteFile(filepath.Join(sub, "model.onnx"), p.opts); err != nil {
			return fmt.Errorf("onnxgen: write %s: %w", p.name, err)
		}
	}

	type file struct {
		path string
		v    any
	}
	files := []file{
		{"model_index.json", modelIndex()},
		{"scheduler/scheduler_config.json", schedulerConfig()},
		{"tokenizer/vocab.json", tokenizerVocab()},
		{"tokenizer/special_tokens_map.json", specialTokensMap()},
		{"tokenizer/tokenizer_config.json", tokenizerConfig()},
	}
	if cfg.xl() {
		files = nil
		for _, f := range xlFiles(a) {
			if a.noText1 && strings.HasPrefix(f.path, "tokenizer/") {
				continue
			}
			files = append(files, file(f))
		}
		for _, tf := range []string{"tokenizer", "tokenizer_2"} {
			if a.noText1 && tf == "tokenizer" {
				continue
			}
			if err := writeFile(filepath.Join(dir, tf, "merges.txt"), []byte(tokenizerMerges())); err != nil {
				return err
			}
		}
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
	if a.noText1 {
		return nil
	}
	return writeFile(filepath.Join(dir, "tokenizer/merges.txt"), []byte(tokenizerMerges()))
}

// xlFiles are the JSON files of an SDXL pipeline: its model index,
// Euler scheduler, both tokenizers (the second pads with "!", id 0, as
// OpenCLIP does) and the VAE configs with SDXL's scaling factor.
func xlFiles(a arch) []struct {
	path string
	v    any
} {
	onnx := []string{"diffusers", "OnnxRuntimeModel"}
	tok := []string{"transformers", "CLIPTokenizer"}
	index := map[string]any{
		"_class_name":                  "StableDiffusionXLPipeline",
		"_diffusers_version":           "0.27.0",
		"_sdapi_description":           DescriptionXL,
		"force_zeros_for_empty_prompt": true,
		"scheduler":                    []string{"diffusers", "EulerDiscreteScheduler"},
		"text_encoder":                 onnx,
		"text_encoder_2":               onnx,
		"tokenizer":                    tok,
		"tokenizer_2":                  tok,
		"unet":                         onnx,
		"vae_decoder":                  onnx,
		"vae_encoder":                  onnx,
	}
	sched := map[string]any{
		"_class_name":         "EulerDiscreteScheduler",
		"_diffusers_version":  "0.27.0",
		"beta_end":            0.012,
		"beta_schedule":       "scaled_linear",
		"beta_start":          0.00085,
		"clip_sample":         false,
		"interpolation_type":  "linear",
		"num_train_timesteps": 1000,
		"prediction_type":     "epsilon",
		"sample_max_value":    1.0,
		"set_alpha_to_one":    false,
		"skip_prk_steps":      true,
		"steps_offset":        1,
		"timestep_spacing":    "leading",
		"trained_betas":       nil,
		"use_karras_sigmas":   false,
	}
	vae := map[string]any{
		"_class_name":        "AutoencoderKL",
		"block_out_channels": a.vaeCh,
		"force_upcast":       true,
		"in_channels":        3,
		"latent_channels":    4,
		"layers_per_block":   a.vaeLayers,
		"norm_num_groups":    a.vaeGroups,
		"out_channels":       3,
		"scaling_factor":     0.13025,
	}
	if a.noText1 { // the refiner: StableDiffusionXLImg2ImgPipeline without CLIP-L
		index["_class_name"] = "StableDiffusionXLImg2ImgPipeline"
		index["text_encoder"] = []any{nil, nil}
		index["tokenizer"] = []any{nil, nil}
		index["requires_aesthetics_score"] = true
		index["force_zeros_for_empty_prompt"] = false
		index["_sdapi_description"] = DescriptionXLRefiner
	}
	pad := specialTokensMap()
	pad["pad_token"] = "!"
	cfg2 := tokenizerConfig()
	cfg2["pad_token"] = "!"
	return []struct {
		path string
		v    any
	}{
		{"model_index.json", index},
		{"scheduler/scheduler_config.json", sched},
		{"tokenizer/vocab.json", tokenizerVocab()},
		{"tokenizer/special_tokens_map.json", specialTokensMap()},
		{"tokenizer/tokenizer_config.json", tokenizerConfig()},
		{"tokenizer_2/vocab.json", tokenizerVocab()},
		{"tokenizer_2/special_tokens_map.json", pad},
		{"tokenizer_2/tokenizer_config.json", cfg2},
		{"vae_decoder/config.json", vae},
		{"vae_encoder/config.json", vae},
	}
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
