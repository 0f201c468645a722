// Package runner defines how ProcessImages hands one batch of images to the
// device: the Runner interface and its request and result types. The ONNX
// Runtime implementation is runner/ort; only cmd/ imports it.
package runner

import (
	"context"
	"errors"
	"image"

	"github.com/sdapi/sdapi/internal/apierr"
)

var (
	// ErrInterrupted is returned when a run stopped because its context was
	// cancelled or the job was interrupted.
	ErrInterrupted = errors.New("interrupted")
	// ErrStopRequested is the cause a caller cancels a Generate's context
	// with to stop sampling early and keep what it made, as A1111's
	// interrupt and skip do: the sampler stops before its next model call
	// and the runner decodes the latent it stopped at (the last model
	// call's denoised prediction for the prompt, or the starting latent
	// when no call ran). Generate then returns those images in
	// Result.Images with an error wrapping ErrInterrupted. Any other cause
	// abandons the run at once and returns no images.
	ErrStopRequested = errors.New("stop requested")
	// ErrInvalidRequest is the kind of a request the runner cannot serve
	// (a size under 8, whose latent is empty; an unknown sampler;
	// mismatched slices): errors.Is(err, ErrInvalidRequest) holds for
	// every apierr.KindInvalid error.
	ErrInvalidRequest error = apierr.KindInvalid
	// ErrModel is the kind of a model directory that is missing,
	// incomplete or broken (apierr.KindModel); the message names the part.
	ErrModel error = apierr.KindModel
)

// Request is one batch. Prompts, NegativePrompts and Seeds have one entry
// per image; Subseeds too when SubseedStrength is not 0.
type Request struct {
	Prompts         []string
	NegativePrompts []string

	Seeds           []int64
	Subseeds        []int64
	SubseedStrength float64
	SeedResizeFromW int // -1 or 0: off
	SeedResizeFromH int
	// NoiseSource is A1111's randn_source: "GPU", "CPU" or "NV".
	NoiseSource string
	// ENSD is eta_noise_seed_delta.
	ENSD int64

	Sampler   string // A1111 name or alias; resolution as A1111 1.10
	Scheduler string // A1111 name or label; "" or "Automatic" for the sampler's default
	Steps     int
	CFGScale  float64
	// Width and Height are the requested size, at least 8: as in A1111 the
	// latent is Height/8 × Width/8 and the images 8× that.
	Width    int
	Height   int
	Sampling SamplingOptions

	// ClipSkip is A1111's CLIP_stop_at_last_layers (1 = last layer).
	ClipSkip int
	// Emphasis is A1111's emphasis option: "Original", "No norm", "Ignore", "None".
	Emphasis string
	// CommaBacktrack is comma_padding_backtrack (A1111 default 20).
	CommaBacktrack int
	// Tiling makes the image tile seamlessly (circular padding).
	Tiling bool
	// SDXL holds the options only SDXL models read.
	SDXL SDXLOptions
	// Refiner, when set, switches sampling to a second model mid-run, as
	// A1111's refiner does (sd_samplers_common.apply_refiner).
	Refiner *Refiner

	// Init turns the run into img2img; nil is txt2img.
	Init *Init
	// ReturnLatents asks for Result.Latents. Off by default so that a run
	// does not keep a copy of every latent nobody reads; hires fix with a
	// latent upscaler needs them. A runner that cannot leaves Latents nil,
	// and processing then falls back to resizing the decoded images.
	ReturnLatents bool

	// LoRAs are the batch's LoRA networks (A1111 applies those of the
	// batch's first prompt to every image); Prompts no longer hold their
	// tags. Empty runs the model's own weights.
	LoRAs []LoRA
	// Embeddings are the textual-inversion embeddings loaded for this
	// model; their names in Prompts and NegativePrompts are replaced by
	// their vectors, as A1111's EmbeddingDatabase does.
	Embeddings []Embedding

	// OnStep, if set, is called after every sampling step from the
	// goroutine running the batch.
	OnStep func(Progress)
	// PreviewEvery asks for a cheap latent preview in Progress every N
	// steps; 0 never.
	PreviewEvery int
}

// SDXLOptions are A1111's SDXL options (modules/shared_options.py), read
// by SDXL pipelines only.
type SDXLOptions struct {
	// CropTop and CropLeft are sdxl_crop_top and sdxl_crop_left, the crop
	// coordinates of the UNet's time_ids (A1111 default 0).
	CropTop, CropLeft float64
	// Width and Height, when set, are the size time_ids carry instead of
	// the request's: A1111 conditions a hires pass on hr_upscale_to_x/y,
	// whose latent may be cropped smaller.
	Width, Height int
	// ClipLSkip is sdxl_clip_l_skip: the first encoder (CLIP-L) takes
	// hidden_states[-ClipSkip] instead of its penultimate layer.
	ClipLSkip bool
	// RefinerLowAesthetic and RefinerHighAesthetic are
	// sdxl_refiner_low_aesthetic_score (negative prompts, default 2.5)
	// and sdxl_refiner_high_aesthetic_score (prompts, default 6), the
	// aesthetic score of a refiner's time_ids.
	RefinerLowAesthetic, RefinerHighAesthetic float64
}

// Refiner is A1111's refiner_checkpoint and refiner_switch_at.
type Refiner struct {
	// Runner is the refiner model; when it is the runner generating (or
	// wraps it), nothing switches, as A1111 skips a refiner that is the
	// loaded model.
	Runner Runner
	// SwitchAt is refiner_switch_at: the first model call whose completed
	// ratio, (999 − training timestep nearest σ)/1000, reaches it runs the
	// refiner, and so does every later one. 0 switches at once.
	SwitchAt float64
	// BySteps is refiner_switch_by_sample_steps: the ratio is model calls
	// done / steps instead.
	BySteps bool
}

// LoRA is one LoRA file to apply and its strengths: TE scales the deltas
// of the text encoder(s), UNet those of the UNet (A1111's te and unet
// multipliers).
type LoRA struct {
	Name string // as the prompt names it, for messages
	Path string // a kohya-format .safetensors file
	TE   float64
	UNet float64
	// DynDim, when > 0, keeps only the first DynDim ranks (A1111's dyn).
	DynDim int
}

// Embedding is a textual-inversion embedding: Vectors rows per text
// encoder, keyed by encoder ("" for an SD 1.x/2.x file, "clip_l" and
// "clip_g" for SDXL), each Vectors×width row-major.
type Embedding struct {
	Name    string
	Vectors int
	Rows    map[string][]float32
}

// SamplingOptions are the per-sampler knobs A1111 exposes; nil means the
// sampler's default (A1111 fills them from the options).
type SamplingOptions struct {
	Eta                    *float64
	SChurn, STmin, STmax   *float64
	SNoise                 *float64
	SMinUncond             *float64
	DiscardNextToLastSigma bool
}

// Init is img2img input: one image per batch entry (or one for all), or
// latents instead of images.
//
// The caller does the image work of A1111's img2img init (flatten,
// images.resize_image, mask preparation), so the runner gets images at
// Width×Height and does only the latent work.
type Init struct {
	// Images are opaque and Width×Height, except with ResizeMode 3 and no
	// Mask, where they keep their own size (a multiple of 8) and the
	// runner upscales their latents.
	Images []image.Image
	// Latents, when set, replace Images: the init latents themselves (VAE
	// encoding already scaled by the model's factor, as Result.Latents
	// holds them), each [4, Height/8, Width/8] row-major. The runner skips
	// the VAE encoder, as A1111's hires fix does with a latent upscaler.
	// Images must be empty and Mask nil.
	Latents           [][]float32
	DenoisingStrength float64
	// ExactSteps is A1111's setup_img2img_steps when steps are given (the
	// hires pass, or img2img_fix_steps): exactly Steps sampling steps, the
	// tail of a schedule of int(Steps/min(strength, 0.999)) steps, instead
	// of int(min(strength, 0.999)·Steps) steps of a Steps-step schedule.
	// Strength 0 then returns the init latents unchanged.
	ExactSteps bool
	// ResizeMode is A1111's: 0 just resize, 1 crop and resize, 2 resize and
	// fill, 3 just resize (latent upscale). Only 3 matters to the runner.
	ResizeMode int
	// Mask turns the run into inpainting: white is repainted.
	Mask *Mask
	// InitialNoiseMultiplier scales the added noise (A1111 default 1).
	InitialNoiseMultiplier float64
}

// Mask is A1111's inpainting mask and its options.
type Mask struct {
	// Image is A1111's image_mask, prepared by the caller: binarised,
	// inverted if asked, blurred and resized to Width×Height. White is
	// repainted; its first channel is read.
	Image image.Image
	// Latent, when not nil, is A1111's latent_mask (scripts set it):
	// Width×Height, its first channel read as is, it replaces Image for the
	// masked-content fill and the latent mask; Image still gives the
	// overlay.
	Latent image.Image
	// Round is mask_round: the latent mask is rounded to 0 or 1.
	Round bool
	// Fill is inpainting_fill: 0 fill, 1 original, 2 latent noise, 3 latent nothing.
	Fill int
}

// Progress is reported after each step.
type Progress struct {
	Step, Steps int
	// Preview is set every PreviewEvery steps: one image per batch entry.
	Preview []image.Image
}

// Result holds the decoded images, one per batch entry, and how long the
// model itself ran, for benchmarks.
type Result struct {
	Images []image.Image
	// Latents are set when Request.ReturnLatents asks: per batch entry the
	// sampled latent, [4, Height/8, Width/8] row-major, before VAE decode
	// (A1111's samples, in the model's scaled latent space).
	Latents [][]float32
	// Embeddings names the embeddings the prompts used, in A1111's "TI
	// hashes" order: those of the prompts, then those of the negative
	// prompts, each list in first-use order.
	Embeddings []string
	Timing     Timing
	// Refined reports that Request.Refiner switched the run to the refiner
	// (A1111 then writes Refiner and Refiner switch at into the infotext).
	Refined bool
}

// Timing splits a run into model time and the rest.
type Timing struct {
	TextEncoder, UNet, VAEDecode, VAEEncode int64 // nanoseconds inside ONNX Runtime
	Total                                   int64 // nanoseconds for the whole Generate call
	// Tokenize is the time spent tokenizing prompts (nanoseconds).
	Tokenize int64
	// Sampler is the time spent in sampler math, outside the model wrapper
	// (nanoseconds).
	Sampler int64
	// UNetRuns counts UNet calls (one CFG step is one call when cond and
	// uncond share a batch, two otherwise).
	UNetRuns int
}

// ORT returns the time spent inside ONNX Runtime, all models together.
func (t Timing) ORT() int64 { return t.TextEncoder + t.UNet + t.VAEDecode + t.VAEEncode }

// ModelInfo describes the loaded checkpoint.
type ModelInfo struct {
	Name   string // A1111's model_name
	Path   string
	Hash   string // short hash (first 10 hex of sha256) as A1111 writes in infotext; set by processing from the catalog
	SHA256 string
	VAE    string // "" when the model's own VAE is used
	// Kind is "SD1", "SD2" (v-prediction models too) or "SDXL".
	Kind string
	// EmbeddingWidth is the embedding shape A1111's EmbeddingDatabase
	// expects (get_expected_shape): the text encoder's width, the sum of
	// both encoders' for SDXL. 0 when unknown.
	EmbeddingWidth int
}

// PatchCacher is implemented by runners that keep sessions with patched
// weights (a LoRA set, embedding rows) between requests.
type PatchCacher interface {
	PatchCache() PatchCacheStats
}

// PatchCacheStats describes a runner's patched-session cache.
type PatchCacheStats struct {
	// Builds counts patched sessions built since the model loaded; a
	// request served from the cache adds none.
	Builds int64
	// Entries are the cached sessions, least recently used first.
	Entries []CachedPatch
}

// CachedPatch is one cached patched session.
type CachedPatch struct {
	Part string // "text_encoder", "unet"
	Set  string // what is applied, e.g. "lora test te=1"
	// Bytes estimates the memory the session holds: a whole copy of the
	// part's weights.
	Bytes int64
}

// Runner turns batches into images. Implementations serialise their own
// device work; callers still run one job at a time (the queue's job).
type Runner interface {
	Generate(ctx context.Context, req Request) (Result, error)
	Model() ModelInfo
	Close() error
}
