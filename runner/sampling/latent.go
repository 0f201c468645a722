package sampling

import (
	"context"
	"fmt"
)

// Latent is a batch of latents stored as float32 in row-major order.
// Shape[0] is the batch size; the rest (typically C, H, W) is one image.
type Latent struct {
	Shape []int
	Data  []float32
}

// NewLatent allocates a zeroed latent of the given shape.
func NewLatent(shape ...int) Latent {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return Latent{Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// Batch returns the number of images.
func (l Latent) Batch() int {
	if len(l.Shape) == 0 {
		return 0
	}
	return l.Shape[0]
}

// ImageLen returns the number of values per image.
func (l Latent) ImageLen() int {
	b := l.Batch()
	if b == 0 {
		return 0
	}
	return len(l.Data) / b
}

// Image returns image i's values (a view, not a copy).
func (l Latent) Image(i int) []float32 {
	n := l.ImageLen()
	return l.Data[i*n : (i+1)*n]
}

// Clone returns a deep copy.
func (l Latent) Clone() Latent {
	return Latent{Shape: append([]int(nil), l.Shape...), Data: append([]float32(nil), l.Data...)}
}

// Validate reports whether Data matches Shape.
func (l Latent) Validate() error {
	n := 1
	for _, d := range l.Shape {
		if d <= 0 {
			return fmt.Errorf("sampling: bad latent shape %v", l.Shape)
		}
		n *= d
	}
	if len(l.Shape) == 0 || n != len(l.Data) {
		return fmt.Errorf("sampling: latent shape %v does not match %d values", l.Shape, len(l.Data))
	}
	return nil
}

// Denoiser is what k-diffusion samplers call: it returns the CFG-combined
// denoised estimate D(x, σ) for every image of x, with x's shape. The runner
// does the eps wrapper (c_in = 1/sqrt(σ²+1), t = SigmaToT(σ), UNet, CFG,
// denoised = x − σ·eps). It must not modify x.
type Denoiser interface {
	Denoise(ctx context.Context, x Latent, sigma float64) (Latent, error)
}

// DenoiserFunc adapts a function to Denoiser.
type DenoiserFunc func(ctx context.Context, x Latent, sigma float64) (Latent, error)

// Denoise calls f.
func (f DenoiserFunc) Denoise(ctx context.Context, x Latent, sigma float64) (Latent, error) {
	return f(ctx, x, sigma)
}

// EpsPredictor is what the timestep samplers (DDIM, PLMS, UniPC) call: the
// CFG-combined noise prediction for x (fed to the UNet as is, no c_in) at UNet
// timestep t. DDIM and PLMS pass whole numbers; UniPC passes fractional ones
// ((t_continuous − 1/1000)·1000), which a UNet with an int64 timestep input
// gets rounded. It must not modify x.
type EpsPredictor interface {
	PredictEps(ctx context.Context, x Latent, t float64) (Latent, error)
}

// EpsPredictorFunc adapts a function to EpsPredictor.
type EpsPredictorFunc func(ctx context.Context, x Latent, t float64) (Latent, error)

// PredictEps calls f.
func (f EpsPredictorFunc) PredictEps(ctx context.Context, x Latent, t float64) (Latent, error) {
	return f(ctx, x, t)
}

// Noise supplies standard-normal sampler noise one image at a time, as A1111
// draws it: each image from its own seeded generator (ImageRNG.next), in image
// order, one draw per noise call of the sampler.
type Noise interface {
	// Randn fills dst (one image's values) from image i's generator.
	Randn(image int, dst []float32)
}

// NoiseFunc adapts a function to Noise.
type NoiseFunc func(image int, dst []float32)

// Randn calls f.
func (f NoiseFunc) Randn(image int, dst []float32) { f(image, dst) }

// randnLike draws one noise latent shaped like x, image by image.
func randnLike(n Noise, x Latent) Latent {
	out := NewLatent(x.Shape...)
	for i := 0; i < x.Batch(); i++ {
		n.Randn(i, out.Image(i))
	}
	return out
}

// InitialLatent returns noise·σ0, the start of a k-diffusion txt2img run
// (A1111 KDiffusionSampler.sample: x = x · sigmas[0]).
func InitialLatent(noise Latent, sigma0 float64) Latent {
	out := noise.Clone()
	for i, v := range out.Data {
		out.Data[i] = float32(float64(v) * sigma0)
	}
	return out
}

// StepInfo is passed to Options.Callback after each sampler step.
type StepInfo struct {
	Step     int     // 0-based step index
	Sigma    float64 // σ (k-diffusion) or UNet timestep (timestep samplers) of the step
	X        Latent  // the latent after the step; do not keep or modify
	Denoised Latent  // the step's denoised (pred_x0) estimate; do not keep or modify
}

// Options are a sampler's tunables, with A1111's meanings. DefaultOptions
// gives A1111's defaults; the zero value is not a useful configuration.
type Options struct {
	// Eta scales ancestral/SDE noise (A1111 opts.eta_ancestral = 1) and DDIM's
	// σ_t (opts.eta_ddim = 0).
	Eta float64
	// SChurn, STmin, STmax, SNoise are Karras et al.'s churn parameters for
	// Euler, Heun and DPM2 (A1111: 0, 0, +Inf, 1). SNoise also scales the noise
	// of the ancestral and SDE samplers.
	SChurn, STmin, STmax, SNoise float64
	// UniPCVariant is "bh1" (A1111 default) or "bh2".
	UniPCVariant string
	// UniPCOrder is UniPC's order (A1111 default 3).
	UniPCOrder int
	// UniPCLowerOrderFinal lowers the order of the last steps (A1111 default true).
	UniPCLowerOrderFinal bool
	// Callback, when set, is called after every step.
	Callback func(StepInfo)
	// Schedule is the model's training schedule. LCM needs it to map σ to
	// its timesteps; the other samplers ignore it.
	Schedule *Schedule
}

func (o Options) report(step int, sigma float64, x, den Latent) {
	if o.Callback != nil {
		o.Callback(StepInfo{Step: step, Sigma: sigma, X: x, Denoised: den})
	}
}
