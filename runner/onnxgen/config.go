// Package onnxgen emits a random-weight Stable Diffusion 1.x, SDXL base or
// SDXL refiner pipeline in the diffusers/Optimum ONNX layout, for tests and
// benchmarks of the ONNX runner.
package onnxgen

import "fmt"

// Description says what Emit produces; it is also written into every
// graph's doc_string.
const Description = "sdapi onnxgen: a random-weight test model. Architecturally faithful " +
	"Stable Diffusion 1.x pipeline (CLIP text encoder, UNet, VAE) in the diffusers ONNX layout " +
	"with deterministic random weights; its images are noise, not art."

// DescriptionXL is Description for an SDXL pipeline.
const DescriptionXL = "sdapi onnxgen: a random-weight test model. Architecturally faithful " +
	"SDXL base pipeline (CLIP-L and CLIP-G text encoders, UNet with text_embeds and time_ids, VAE) " +
	"in the diffusers/Optimum ONNX layout with deterministic random weights; its images are noise, not art."

// DescriptionXLRefiner is Description for an SDXL refiner.
const DescriptionXLRefiner = "sdapi onnxgen: a random-weight test model. Architecturally faithful " +
	"SDXL refiner (CLIP-G text encoder, UNet with text_embeds and aesthetic-score time_ids, VAE) " +
	"in the diffusers/Optimum ONNX layout with deterministic random weights; its images are noise, not art."

// Size selects the architecture preset.
type Size int

const (
	// Tiny is a few-MB pipeline that runs in milliseconds (notes §11).
	Tiny Size = iota
	// SD15 has the full Stable Diffusion 1.5 shapes (about 1.07 B
	// parameters, 4.3 GB fp32). Emit it only from benchmarks.
	SD15
	// SDXL has the full SDXL base shapes (about 3.5 B parameters, 14 GB
	// fp32); it implies FamilySDXL. Emit it only from benchmarks.
	SDXL
)

func (s Size) String() string {
	switch s {
	case Tiny:
		return "tiny"
	case SD15:
		return "sd15"
	case SDXL:
		return "sdxl"
	}
	return fmt.Sprintf("Size(%d)", int(s))
}

// InputIDs is the element type of the text encoder's input_ids.
type InputIDs int

const (
	// Int32 is what the diffusers conversion script exports.
	Int32 InputIDs = iota
	// Int64 is optimum's default.
	Int64
)

// Timestep is the type and rank of the UNet's timestep input.
type Timestep int

const (
	// Int64Batch is int64[batch] (old diffusers script, old optimum).
	Int64Batch Timestep = iota
	// FloatBatch is float[batch] (newer diffusers script).
	FloatBatch
	// FloatScalar is a rank-0 float (newest optimum).
	FloatScalar
)

// VAEEncoderOutput selects the vae_encoder output.
type VAEEncoderOutput int

const (
	// LatentParameters is optimum's [B,8,h,w] mean‖logvar output.
	LatentParameters VAEEncoderOutput = iota
	// LatentSample is the diffusers script's sampled [B,4,h,w] output
	// (the graph contains RandomNormalLike).
	LatentSample
)

// LayerNorm is how layer norms appear in the graphs.
type LayerNorm int

const (
	// LayerNormOp is one LayerNormalization node, as torch exports at
	// opset 17 and later.
	LayerNormOp LayerNorm = iota
	// LayerNormDecomposed is torch's export below opset 17 (the diffusers
	// script's and optimum's default opset 14): ReduceMean, Sub, Pow,
	// ReduceMean, Add(eps), Sqrt, Div, Mul(weight), Add(bias).
	LayerNormDecomposed
)

// Family is the pipeline architecture to emit.
type Family int

const (
	// FamilySD1 is Stable Diffusion 1.x: one CLIP text encoder.
	FamilySD1 Family = iota
	// FamilySDXL is SDXL base as optimum exports it: text_encoder (CLIP-L
	// with its hidden states), text_encoder_2 (CLIP-G with projection,
	// text_embeds and hidden states), a UNet taking text_embeds and
	// time_ids, and tokenizer_2.
	FamilySDXL
	// FamilySDXLRefiner is the SDXL refiner as optimum exports it: only
	// text_encoder_2 (and tokenizer_2), conditioning 1280 wide, and a UNet
	// whose time_ids [B,5] end with the aesthetic score.
	FamilySDXLRefiner
)

// Config selects the preset and exporter variant to emit. The zero value
// is the tiny pipeline with int32 input_ids, int64[B] timesteps and
// latent_parameters, all weights inline, seed 0.
type Config struct {
	Size             Size
	Family           Family
	InputIDs         InputIDs
	Timestep         Timestep
	VAEEncoderOutput VAEEncoderOutput
	// ExternalData moves the UNet's initializers of 1 KiB or more to
	// unet/weights.pb. SD15 always does this (the UNet exceeds 2 GiB).
	ExternalData bool
	// FP16 stores weights as float16 and makes every float graph input
	// and output float16, as fp16 exports do; computation stays float32.
	FP16 bool
	// LayerNorm selects the layer-norm export form.
	LayerNorm LayerNorm
	// TextLayersDropped leaves out the last n layers of the text encoder;
	// every other weight is the same as with 0. The result is what CLIP
	// skip n+1 computes on the full encoder (hidden_states[-(n+1)] through
	// the final layer norm), so tests use it as a reference.
	TextLayersDropped int
	// TorchNames names Linear weights and their MatMul nodes as
	// torch.onnx.export does: the weight (stored transposed) is
	// onnx::MatMul_N and only the node's name, /a/b.0/c/MatMul, tells the
	// module, which LoRA mapping must then read.
	TorchNames bool
	Seed       uint64
}

// arch holds the architecture hyper-parameters of a preset.
type arch struct {
	vocab, maxPos int
	textDim       int
	textLayers    int
	textHeads     int
	textFF        int
	// The second text encoder (SDXL's CLIP-G); text2Dim 0 means none.
	text2Dim, text2Layers, text2Heads, text2FF, text2Proj int

	// crossDim is the UNet's encoder_hidden_states width.
	crossDim int
	// unetDepth is the transformer blocks per attention of each level
	// (nil: one); midDepth those of the middle block (0: one).
	unetDepth []int
	midDepth  int
	// unetHeadDim, when set, fixes the head width (SDXL: 64) instead of
	// the head count unetHeads.
	unetHeadDim int
	// linearProj makes proj_in/proj_out linear layers (SDXL) instead of
	// 1×1 convolutions (SD1).
	linearProj bool
	// addTimeDim is the sinusoid width of each time_ids entry (SDXL's
	// addition_time_embed_dim); 0 means no text_embeds/time_ids inputs.
	addTimeDim int
	// timeIDs is the width of time_ids: 6 (base) or 5 (refiner).
	timeIDs int
	// noText1 leaves out the first text encoder (the refiner).
	noText1 bool

	unetCh     []int
	unetAttn   []bool
	unetLayers int
	unetHeads  int
	unetGroups int
	latentCh   int

	vaeCh     []int
	vaeLayers int
	vaeGroups int
}

func (c Config) arch() (arch, error) {
	a, err := c.preset()
	if err != nil {
		return a, err
	}
	if c.TextLayersDropped < 0 || c.TextLayersDropped > a.textLayers {
		return a, fmt.Errorf("onnxgen: TextLayersDropped %d outside 0..%d", c.TextLayersDropped, a.textLayers)
	}
	a.textLayers -= c.TextLayersDropped
	if a.crossDim == 0 {
		a.crossDim = a.textDim
	}
	return a, nil
}

// xl reports whether the config emits an SDXL pipeline.
func (c Config) xl() bool { return c.Family != FamilySD1 || c.Size == SDXL }

// refiner reports whether the config emits an SDXL refiner.
func (c Config) refiner() bool { return c.Family == FamilySDXLRefiner }

func (c Config) preset() (arch, error) {
	if c.Family < FamilySD1 || c.Family > FamilySDXLRefiner {
		return arch{}, fmt.Errorf("onnxgen: unknown family %d", int(c.Family))
	}
	if c.xl() {
		return c.presetXL()
	}
	switch c.Size {
	case Tiny:
		return arch{
			vocab: 49408, maxPos: 77,
			textDim: 32, textLayers: 2, textHeads: 4, textFF: 128,
			unetCh: []int{32, 64}, unetAttn: []bool{true, false},
			unetLayers: 1, unetHeads: 4, unetGroups: 8, latentCh: 4,
			vaeCh: []int{32, 32, 64, 64}, vaeLayers: 1, vaeGroups: 8,
		}, nil
	case SD15:
		return arch{
			vocab: 49408, maxPos: 77,
			textDim: 768, textLayers: 12, textHeads: 12, textFF: 3072,
			unetCh: []int{320, 640, 1280, 1280}, unetAttn: []bool{true, true, true, false},
			unetLayers: 2, unetHeads: 8, unetGroups: 32, latentCh: 4,
			vaeCh: []int{128, 256, 512, 512}, vaeLayers: 2, vaeGroups: 32,
		}, nil
	}
	return arch{}, fmt.Errorf("onnxgen: unknown size %d", int(c.Size))
}

// presetXL is SDXL base: CLIP-L (its penultimate hidden state) and
// CLIP-G (penultimate hidden state and projected pooled output) give
// 768+1280 = 2048-wide conditioning; the UNet has three levels, no
// attention in the first, 2 and 10 transformer blocks in the others,
// 64-wide heads, linear projections and the text_time addition embedding
// (6 × 256 sinusoids + 1280 pooled = 2816 inputs). Tiny keeps every
// input, output and kind of layer with reduced widths and depths.
func (c Config) presetXL() (arch, error) {
	if c.refiner() {
		// SDXL refiner 1.0: only CLIP-G (1280), UNet (384, 768, 1536, 1536)
		// with attention in the middle two levels, 4 blocks each, and
		// 1280 + 5·256 = 2560 addition-embedding inputs.
		switch c.Size {
		case Tiny:
			return arch{
				vocab: 49408, maxPos: 77,
				text2Dim: 48, text2Layers: 2, text2Heads: 4, text2FF: 192, text2Proj: 48,
				crossDim: 48, noText1: true, timeIDs: 5,
				unetCh: []int{32, 64}, unetAttn: []bool{false, true}, unetDepth: []int{0, 1}, midDepth: 1,
				unetLayers: 1, unetHeads: 4, unetGroups: 8, latentCh: 4, linearProj: true, addTimeDim: 8,
				vaeCh: []int{16, 16, 32, 32}, vaeLayers: 1, vaeGroups: 8,
			}, nil
		}
		return arch{}, fmt.Errorf("onnxgen: no SDXL refiner preset for size %v", c.Size)
	}
	switch c.Size {
	case Tiny:
		return arch{
			vocab: 49408, maxPos: 77,
			textDim: 32, textLayers: 2, textHeads: 4, textFF: 128,
			text2Dim: 48, text2Layers: 2, text2Heads: 4, text2FF: 192, text2Proj: 48,
			crossDim: 32 + 48, timeIDs: 6,
			unetCh: []int{32, 64}, unetAttn: []bool{false, true}, unetDepth: []int{0, 2}, midDepth: 2,
			unetLayers: 1, unetHeads: 4, unetGroups: 8, latentCh: 4, linearProj: true, addTimeDim: 8,
			// Half SD1 tiny's VAE widths: the decoder's full-resolution
			// convolutions dominate a 1024² image.
			vaeCh: []int{16, 16, 32, 32}, vaeLayers: 1, vaeGroups: 8,
		}, nil
	case SDXL:
		return arch{
			vocab: 49408, maxPos: 77,
			textDim: 768, textLayers: 12, textHeads: 12, textFF: 3072,
			text2Dim: 1280, text2Layers: 32, text2Heads: 20, text2FF: 5120, text2Proj: 1280,
			crossDim: 2048, timeIDs: 6,
			unetCh: []int{320, 640, 1280}, unetAttn: []bool{false, true, true}, unetDepth: []int{0, 2, 10}, midDepth: 10,
			unetLayers: 2, unetHeadDim: 64, unetGroups: 32, latentCh: 4, linearProj: true, addTimeDim: 256,
			vaeCh: []int{128, 256, 512, 512}, vaeLayers: 2, vaeGroups: 32,
		}, nil
	}
	return arch{}, fmt.Errorf("onnxgen: no SDXL preset for size %v", c.Size)
}
