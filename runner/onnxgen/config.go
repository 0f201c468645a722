// Package onnxgen emits a random-weight Stable Diffusion 1.x pipeline in
// the diffusers ONNX layout, for tests and benchmarks of the ONNX runner.
package onnxgen

import "fmt"

// Description says what Emit produces; it is also written into every
// graph's doc_string.
const Description = "sdapi onnxgen: a random-weight test model. Architecturally faithful " +
	"Stable Diffusion 1.x pipeline (CLIP text encoder, UNet, VAE) in the diffusers ONNX layout " +
	"with deterministic random weights; its images are noise, not art."

// Size selects the architecture preset.
type Size int

const (
	// Tiny is a few-MB pipeline that runs in milliseconds (notes §11).
	Tiny Size = iota
	// SD15 has the full Stable Diffusion 1.5 shapes (about 1.07 B
	// parameters, 4.3 GB fp32). Emit it only from benchmarks.
	SD15
)

func (s Size) String() string {
	switch s {
	case Tiny:
		return "tiny"
	case SD15:
		return "sd15"
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

// Config selects the preset and exporter variant to emit. The zero value
// is the tiny pipeline with int32 input_ids, int64[B] timesteps and
// latent_parameters, all weights inline, seed 0.
type Config struct {
	Size             Size
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
	return a, nil
}

func (c Config) preset() (arch, error) {
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
