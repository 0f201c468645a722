package onnxgen

// Test data for A1111's extra networks on the emitted model: a random
// kohya-format LoRA and a random textual-inversion embedding whose shapes
// fit it, written at test time like the model itself.

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"

	"github.com/sdapi/sdapi/internal/safetensors"
)

// LoRAOptions configure EmitLoRA.
type LoRAOptions struct {
	// Rank is the LoRA dimension (default 4); Alpha its alpha (default
	// Rank, a scale of 1).
	Rank  int
	Alpha float32
	// Seed picks the random values.
	Seed uint64
	// Name is the ss_output_name metadata; "" writes none.
	Name string
	// F16 stores the tensors as float16, as most published LoRAs are.
	F16 bool
	// DiffusersUNetNames names an SDXL LoRA's UNet modules in diffusers
	// form (lora_unet_down_blocks_…) instead of the LDM form kohya-ss
	// writes for SDXL (lora_unet_input_blocks_…); the values are the same.
	DiffusersUNetNames bool
}

// EmitLoRA writes a kohya-format LoRA for the model cfg emits: the text
// encoder's attention projections (lora_te_), and in the UNet every
// attention projection, the 1×1 proj_in/proj_out convolutions, and the
// first ResBlock's 3×3 conv1 as a LoCon conv module (lora_unet_). For an
// SDXL base it is what kohya-ss writes for SDXL (emitLoRAXL).
func EmitLoRA(path string, cfg Config, o LoRAOptions) error {
	if cfg.refiner() {
		return fmt.Errorf("onnxgen: no LoRA for the SDXL refiner")
	}
	a, err := cfg.arch()
	if err != nil {
		return err
	}
	if o.Rank <= 0 {
		o.Rank = 4
	}
	if o.Alpha == 0 {
		o.Alpha = float32(o.Rank)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x10ba))
	var ts []safetensors.WriteTensor
	randn := func(std float64, n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * std)
		}
		return v
	}
	// module adds one LoRA module: down [r, in(,k,k)], up [out, r(,1,1)].
	module := func(key string, in, out, k int) {
		r := int64(o.Rank)
		downShape, upShape := []int64{r, int64(in)}, []int64{int64(out), r}
		if k > 0 {
			downShape = []int64{r, int64(in), int64(k), int64(k)}
			upShape = []int64{int64(out), r, 1, 1}
		}
		ts = append(ts,
			safetensors.WriteTensor{Name: key + ".lora_down.weight", Shape: downShape, Data: randn(0.5, o.Rank*in*max(k*k, 1)), F16: o.F16},
			safetensors.WriteTensor{Name: key + ".lora_up.weight", Shape: upShape, Data: randn(0.5, out*o.Rank), F16: o.F16},
			safetensors.WriteTensor{Name: key + ".alpha", Shape: []int64{}, Data: []float32{o.Alpha}, F16: o.F16},
		)
	}
	meta := map[string]string{
		"ss_network_module":     "networks.lora",
		"ss_network_dim":        strconv.Itoa(o.Rank),
		"ss_network_alpha":      strconv.FormatFloat(float64(o.Alpha), 'g', -1, 32),
		"ss_base_model_version": "sd_v1",
		"ss_tag_frequency":      `{"test": {"random": 1}}`,
	}
	if o.Name != "" {
		meta["ss_output_name"] = o.Name
	}
	if cfg.xl() {
		meta["ss_base_model_version"] = "sdxl_base_v1-0"
		emitLoRAXL(a, o, module)
		return safetensors.WriteFile(path, ts, meta)
	}
	for i := range a.textLayers {
		for _, p := range []string{"q_proj", "k_proj", "v_proj", "out_proj"} {
			module(fmt.Sprintf("lora_te_text_model_encoder_layers_%d_self_attn_%s", i, p), a.textDim, a.textDim, 0)
		}
	}
	attn := func(name string, c int) {
		for _, p := range []string{"to_q", "to_k", "to_v", "to_out_0"} {
			module(name+"_transformer_blocks_0_attn1_"+p, c, c, 0)
		}
		module(name+"_transformer_blocks_0_attn2_to_q", c, c, 0)
		module(name+"_transformer_blocks_0_attn2_to_k", a.textDim, c, 0)
		module(name+"_transformer_blocks_0_attn2_to_v", a.textDim, c, 0)
		module(name+"_transformer_blocks_0_attn2_to_out_0", c, c, 0)
		module(name+"_proj_in", c, c, 1)
		module(name+"_proj_out", c, c, 1)
	}
	for i, c := range a.unetCh {
		if !a.unetAttn[i] {
			continue
		}
		for j := range a.unetLayers {
			attn(fmt.Sprintf("lora_unet_down_blocks_%d_attentions_%d", i, j), c)
		}
	}
	attn("lora_unet_mid_block_attentions_0", a.unetCh[len(a.unetCh)-1])
	module("lora_unet_down_blocks_0_resnets_0_conv1", a.unetCh[0], a.unetCh[0], 3)
	return safetensors.WriteFile(path, ts, meta)
}

// emitLoRAXL adds SDXL's modules: both text encoders' attention and MLP
// layers (lora_te1_ CLIP-L, lora_te2_ CLIP-G, in transformers' names), and
// in the UNet every attention's projections, its linear proj_in/proj_out,
// in the down, middle and up blocks, and the first ResBlock's conv1 as a
// LoCon module, named in LDM form unless o.DiffusersUNetNames.
func emitLoRAXL(a arch, o LoRAOptions, module func(key string, in, out, k int)) {
	te := func(prefix string, layers, dim, ff int) {
		for i := range layers {
			l := fmt.Sprintf("%stext_model_encoder_layers_%d_", prefix, i)
			for _, p := range []string{"q_proj", "k_proj", "v_proj", "out_proj"} {
				module(l+"self_attn_"+p, dim, dim, 0)
			}
			module(l+"mlp_fc1", dim, ff, 0)
			module(l+"mlp_fc2", ff, dim, 0)
		}
	}
	te("lora_te1_", a.textLayers, a.textDim, a.textFF)
	te("lora_te2_", a.text2Layers, a.text2Dim, a.text2FF)
	name := func(diffusers string) string {
		if o.DiffusersUNetNames {
			return "lora_unet_" + diffusers
		}
		return "lora_unet_" + ldmUNetName(diffusers, a.unetLayers)
	}
	attn := func(block string, c, depth int) {
		for k := range depth {
			blk := fmt.Sprintf("%s_transformer_blocks_%d_", block, k)
			for _, p := range []string{"to_q", "to_k", "to_v", "to_out_0"} {
				module(name(blk+"attn1_"+p), c, c, 0)
			}
			module(name(blk+"attn2_to_q"), c, c, 0)
			module(name(blk+"attn2_to_k"), a.crossDim, c, 0)
			module(name(blk+"attn2_to_v"), a.crossDim, c, 0)
			module(name(blk+"attn2_to_out_0"), c, c, 0)
		}
		module(name(block+"_proj_in"), c, c, 0)
		module(name(block+"_proj_out"), c, c, 0)
	}
	for i, c := range a.unetCh {
		if a.unetAttn[i] {
			for j := range a.unetLayers {
				attn(fmt.Sprintf("down_blocks_%d_attentions_%d", i, j), c, a.depth(i))
			}
		}
	}
	last := a.unetCh[len(a.unetCh)-1]
	attn("mid_block_attentions_0", last, max(a.midDepth, 1))
	for ui := range a.unetCh {
		i := len(a.unetCh) - 1 - ui
		if a.unetAttn[i] {
			for j := range a.unetLayers + 1 {
				attn(fmt.Sprintf("up_blocks_%d_attentions_%d", ui, j), a.unetCh[i], a.depth(i))
			}
		}
	}
	module(name("down_blocks_0_resnets_0_conv1"), a.unetCh[0], a.unetCh[0], 3)
}

var reDiffusersBlock = regexp.MustCompile(`^(down_blocks|mid_block|up_blocks)_(?:(\d+)_)?(attentions|resnets)_(\d+)_(.+)$`)

// ldmUNetName is A1111's convert_diffusers_name_to_compvis for the blocks
// EmitLoRA writes, with lpb ResBlocks per level (networks.py assumes 2).
func ldmUNetName(name string, lpb int) string {
	m := reDiffusersBlock.FindStringSubmatch(name)
	if m == nil {
		return name
	}
	level, _ := strconv.Atoi(m[2])
	j, _ := strconv.Atoi(m[4])
	rest, sub := m[5], 1
	if m[3] == "resnets" {
		sub = 0
		rest = strings.NewReplacer("conv1", "in_layers_2", "conv2", "out_layers_3", "time_emb_proj", "emb_layers_1", "conv_shortcut", "skip_connection").Replace(rest)
	}
	switch m[1] {
	case "down_blocks":
		return fmt.Sprintf("input_blocks_%d_%d_%s", 1+level*(lpb+1)+j, sub, rest)
	case "up_blocks":
		return fmt.Sprintf("output_blocks_%d_%d_%s", level*(lpb+1)+j, sub, rest)
	}
	if sub == 1 {
		return "middle_block_1_" + rest
	}
	return fmt.Sprintf("middle_block_%d_%s", j*2, rest)
}

// EmitEmbedding writes a textual-inversion embedding of vectors random
// vectors for the model cfg emits, under the key emb_params as A1111's
// safetensors embeddings hold it; for an SDXL base, clip_l and clip_g
// vectors for its two encoders, as SDXL embeddings hold them.
func EmitEmbedding(path string, cfg Config, vectors int, seed uint64) error {
	a, err := cfg.arch()
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 0xe4b))
	if cfg.refiner() {
		return fmt.Errorf("onnxgen: no embedding for the SDXL refiner")
	}
	if cfg.xl() {
		var ts []safetensors.WriteTensor
		for _, e := range []struct {
			key string
			dim int
		}{{"clip_l", a.textDim}, {"clip_g", a.text2Dim}} {
			v := make([]float32, vectors*e.dim)
			for i := range v {
				v[i] = float32(rng.NormFloat64() * 0.5)
			}
			ts = append(ts, safetensors.WriteTensor{Name: e.key, Shape: []int64{int64(vectors), int64(e.dim)}, Data: v})
		}
		return safetensors.WriteFile(path, ts, nil)
	}
	v := make([]float32, vectors*a.textDim)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * 0.5)
	}
	return safetensors.WriteFile(path, []safetensors.WriteTensor{{Name: "emb_params", Shape: []int64{int64(vectors), int64(a.textDim)}, Data: v}}, nil)
}
