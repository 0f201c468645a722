package onnxgen

// Test data for A1111's extra networks on the emitted model: a random
// kohya-format LoRA and a random textual-inversion embedding whose shapes
// fit it, written at test time like the model itself.

import (
	"fmt"
	"math/rand/v2"
	"strconv"

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
}

// EmitLoRA writes a kohya-format LoRA for the model cfg emits: the text
// encoder's attention projections (lora_te_), and in the UNet every
// attention projection, the 1×1 proj_in/proj_out convolutions, and the
// first ResBlock's 3×3 conv1 as a LoCon conv module (lora_unet_).
func EmitLoRA(path string, cfg Config, o LoRAOptions) error {
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
	return safetensors.WriteFile(path, ts, meta)
}

// EmitEmbedding writes a textual-inversion embedding of vectors random
// vectors for the model cfg emits, under the key emb_params as A1111's
// safetensors embeddings hold it.
func EmitEmbedding(path string, cfg Config, vectors int, seed uint64) error {
	a, err := cfg.arch()
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 0xe4b))
	v := make([]float32, vectors*a.textDim)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * 0.5)
	}
	return safetensors.WriteFile(path, []safetensors.WriteTensor{{Name: "emb_params", Shape: []int64{int64(vectors), int64(a.textDim)}, Data: v}}, nil)
}
