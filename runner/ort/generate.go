package ort

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"slices"
	"time"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/rng"
	"github.com/sdapi/sdapi/runner/sampling"
)

// latentScale is SD1/SD2's VAE scaling factor, latentScaleXL SDXL's; a
// VAE config's scaling_factor overrides them (Runner.latentScale).
const (
	latentScale   = 0.18215
	latentScaleXL = 0.13025
)

// job is one Generate call.
type job struct {
	r      *Runner
	req    runner.Request
	ro     *onnxruntime.RunOptions
	timing *runner.Timing

	b, lh, lw    int
	cond, uncond textCond
	smp          *sampling.Sampler
	scheduler    string // the resolved scheduler label
	steps        int    // steps the sampler reports (for Progress.Steps)
	step         int
	modelWall    int64 // wall time inside Denoise/PredictEps
	callbackWall int64 // wall time in OnStep and previews
	initLatent   []float32
	mask         []float32 // latent mask, [lh·lw], 1 keeps the init latent (A1111's self.mask)
	noise0       []float32 // the first noise draw
	overlay      []*image.NRGBA
	overlayAlpha []float32 // per pixel, 1 = original

	// text is the text encoder session with the job's LoRA deltas or
	// embedding rows; nil runs the plain one. embeddings are the names of
	// the embeddings the prompts used (runner.Result.Embeddings).
	text       *patchedPart
	embeddings []string
	// xlText are SDXL's two encoder sessions likewise.
	xlText [2]*patchedPart

	latents [][]float32 // the sampled latents, when the request asks for them
	// refined is set once the refiner switch was decided, switched once
	// the run went on with the refiner's model (g.r is then the refiner,
	// its lock and sessions held until releases run); calls counts model
	// calls (refiner_switch_by_sample_steps).
	refined, switched bool
	releases          []func()
	calls             int
	// last is A1111's sampler.last_latent: the starting latent, then after
	// every model call its denoised prediction for the prompt (cond only).
	// A stop request decodes it.
	last []float32
}

// stopRequested reports whether ctx ended with runner.ErrStopRequested:
// the caller wants the partial images.
func stopRequested(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), runner.ErrStopRequested)
}

// errStoppedEarly marks a run that a stop request ended during sampling;
// its images are the decoded last latent.
var errStoppedEarly = errors.New("stopped early")

// invalid is an apierr.KindInvalid error at the request as a whole.
func invalid(format string, args ...any) error {
	return apierr.Invalid("", format, args...)
}

// maxSchedule bounds the sigma schedule of an exact-steps img2img pass.
const maxSchedule = 1 << 20

// validate checks the request; errors wrap runner.ErrInvalidRequest.
func validate(req *runner.Request) error {
	b := len(req.Prompts)
	switch {
	case b == 0:
		return invalid("no prompts")
	case len(req.NegativePrompts) != 0 && len(req.NegativePrompts) != b:
		return invalid("%d negative prompts for %d prompts", len(req.NegativePrompts), b)
	case len(req.Seeds) != b:
		return invalid("%d seeds for %d prompts", len(req.Seeds), b)
	case req.SubseedStrength != 0 && len(req.Subseeds) != 0 && len(req.Subseeds) != b:
		return invalid("%d subseeds for %d prompts", len(req.Subseeds), b)
	case req.Width < 8 || req.Height < 8:
		// A1111's latent is height//8 × width//8: under 8 it is empty and
		// torch fails; any other size runs, decoded at 8× the latent.
		return invalid("size %dx%d: width and height must be at least 8 (the latent is width/8 × height/8)", req.Width, req.Height)
	case req.Steps < 1:
		return apierr.Invalid("steps", "steps %d: need at least 1", req.Steps)
	}
	if req.Init != nil {
		in := req.Init
		if in.Latents != nil {
			if err := validateLatents(req); err != nil {
				return err
			}
		}
		switch {
		case in.Latents == nil && len(in.Images) != 1 && len(in.Images) != b:
			return invalid("%d init images for %d prompts", len(in.Images), b)
		case !(in.DenoisingStrength >= 0 && in.DenoisingStrength <= 1): // NaN too
			return invalid("denoising strength %g outside [0, 1]", in.DenoisingStrength)
		case in.ExactSteps && in.DenoisingStrength > 0 && math.Floor(float64(req.Steps)/math.Min(in.DenoisingStrength, 0.999)) > maxSchedule:
			// img2imgSteps's schedule grows as 1/strength: bounded here
			// whatever limits the caller applies.
			return invalid("denoising strength %g with exact steps needs a schedule of over %d steps", in.DenoisingStrength, maxSchedule)
		case in.ResizeMode < 0 || in.ResizeMode > 3:
			return invalid("resize mode %d outside 0..3", in.ResizeMode)
		case in.Mask != nil && (in.Mask.Fill < 0 || in.Mask.Fill > 3):
			return invalid("inpainting fill %d outside 0..3", in.Mask.Fill)
		case in.Mask != nil && in.Mask.Image == nil:
			return apierr.Invalid("mask", "mask without an image")
		}
		for i, im := range in.Images {
			if im == nil || im.Bounds().Empty() {
				return invalid("init image %d is empty", i)
			}
			// The caller resizes (runner.Init); only mode 3 without a
			// mask leaves the size to the latent upscale.
			w, h := im.Bounds().Dx(), im.Bounds().Dy()
			latentUpscale := in.ResizeMode == 3 && in.Mask == nil
			if latentUpscale && (w%8 != 0 || h%8 != 0) {
				return invalid("init image %d is %dx%d: resize mode 3 needs multiples of 8", i, w, h)
			}
			if !latentUpscale && (w != req.Width || h != req.Height) {
				return invalid("init image %d is %dx%d, want %dx%d", i, w, h, req.Width, req.Height)
			}
		}
		if in.Mask != nil {
			if b := in.Mask.Image.Bounds(); b.Dx() != req.Width || b.Dy() != req.Height {
				return apierr.Invalid("mask", "mask is %dx%d, want %dx%d", b.Dx(), b.Dy(), req.Width, req.Height)
			}
			if l := in.Mask.Latent; l != nil {
				if b := l.Bounds(); b.Dx() != req.Width || b.Dy() != req.Height {
					return invalid("latent mask is %dx%d, want %dx%d", b.Dx(), b.Dy(), req.Width, req.Height)
				}
			}
		}
	}
	return nil
}

// Generate runs one batch. Errors: runner.ErrInvalidRequest for a bad
// request, runner.ErrInterrupted (wrapping the context's cause) when ctx
// ends, runner.ErrModel when img2img needs a missing vae_encoder.
func (r *Runner) Generate(ctx context.Context, req runner.Request) (runner.Result, error) {
	start := time.Now()
	var res runner.Result
	if err := validate(&req); err != nil {
		return res, err
	}
	if req.Init != nil && req.Init.Latents == nil && r.vaeEnc == nil {
		return res, modelErr("vae_encoder/model.onnx", "missing: img2img and inpainting need a VAE encoder")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unet.sess == nil {
		return res, errors.New("ort: runner is closed")
	}
	// A stop requested before the run began still runs it up to the first
	// model call and decodes the starting latent, as A1111's sampler
	// returns last_latent when interrupted before its first step.
	if ctx.Err() != nil && !stopRequested(ctx) {
		return res, fmt.Errorf("%w: %w", runner.ErrInterrupted, context.Cause(ctx))
	}
	if req.Tiling {
		restore, err := r.useTiling(ctx)
		if err != nil {
			return res, err
		}
		defer restore()
	}
	if needsAnySize(req.Height/8, req.Width/8) {
		restore, err := r.useAnySize(ctx, req.Tiling)
		if err != nil {
			return res, err
		}
		defer restore()
	}
	if unetLoras(req.LoRAs) {
		// After the tiling and any-size switches, so its (equally
		// rewritten) session is the one that runs.
		restore, err := r.useUNetLoras(req.LoRAs, rewriteOptions{circular: req.Tiling, matchSizes: needsAnySize(req.Height/8, req.Width/8)})
		if err != nil {
			return res, err
		}
		defer restore()
	}
	ro, release, err := terminableRunOptions(ctx, r.log, true)
	if err != nil {
		return res, err
	}
	defer release()

	g := &job{r: r, req: req, ro: ro, timing: &res.Timing, b: len(req.Prompts), lh: req.Height / 8, lw: req.Width / 8}
	defer g.release()
	imgs, err := g.run(ctx)
	res.Refined = g.switched
	res.Timing.Total = time.Since(start).Nanoseconds()
	res.Embeddings = g.embeddings
	if errors.Is(err, errStoppedEarly) {
		res.Images, res.Latents = imgs, g.latents
		return res, fmt.Errorf("%w: %w", runner.ErrInterrupted, context.Cause(ctx))
	}
	if err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("%w: %w", runner.ErrInterrupted, context.Cause(ctx))
		}
		return res, err
	}
	res.Images, res.Latents = imgs, g.latents
	return res, nil
}

// run is the whole pipeline: conditioning, noise, init latent, sampling,
// decoding and the inpainting overlay.
func (g *job) run(ctx context.Context) ([]image.Image, error) {
	req := g.req
	var err error
	if g.cond, g.uncond, err = g.conditioning(); err != nil {
		return nil, err
	}
	// processing resolved the names as A1111 does (its fallback included):
	// the runner takes them exactly and refuses what it does not know.
	smp, ok := sampling.FindSampler(req.Sampler)
	if !ok {
		return nil, invalid("unknown sampler %q", req.Sampler)
	}
	if _, ok := sampling.FindScheduler(req.Scheduler); !ok && req.Scheduler != "" && req.Scheduler != "Automatic" {
		return nil, invalid("unknown scheduler %q", req.Scheduler)
	}
	g.smp, g.scheduler = smp, req.Scheduler

	src := rng.GPU
	if req.NoiseSource != "" {
		if src, err = rng.ParseSource(req.NoiseSource); err != nil {
			return nil, apierr.Invalid("", "%w", err)
		}
	}
	var subseeds []int64
	if req.SubseedStrength != 0 {
		subseeds = req.Subseeds
		if subseeds == nil {
			subseeds = []int64{}
		}
	}
	seeds := rng.Batch{Seeds: req.Seeds, Subseeds: subseeds, SubseedStrength: req.SubseedStrength,
		ResizeFromH: req.SeedResizeFromH, ResizeFromW: req.SeedResizeFromW}
	ir, err := rng.New(src, rng.Shape{C: 4, H: g.lh, W: g.lw}, seeds, rng.WithEtaNoiseSeedDelta(req.ENSD))
	if err != nil {
		return nil, apierr.Invalid("", "%w", err)
	}
	g.noise0 = ir.Next()
	noise0 := sampling.Latent{Shape: []int{g.b, 4, g.lh, g.lw}, Data: g.noise0}
	noise := newBatchNoise(ir, g.b, ir.Shape().Numel())
	opts := g.samplerOptions()

	var x sampling.Latent
	if req.Init != nil {
		x, err = g.img2img(ctx, noise0, noise, opts)
	} else if smp.UsesTimesteps() {
		ts := sampling.DDIMTimesteps(req.Steps, req.Sampling.DiscardNextToLastSigma)
		g.steps = len(ts) - 1
		x, err = g.sampleT(ctx, noise0, ts, noise, opts)
	} else {
		var sigmas []float64
		if sigmas, err = smp.Sigmas(req.Steps, g.scheduler, g.r.sched, g.sigmaParams()); err != nil {
			return nil, invalid("%v", err)
		}
		x0 := sampling.InitialLatent(noise0, sigmas[0])
		if smp.UsesSigmaRange() { // A1111: the model's σmin/σmax and p.steps
			g.steps = req.Steps
			x, err = g.timed(func() (sampling.Latent, error) {
				return smp.SampleRange(ctx, g, x0, g.r.sched.SigmaMin(), g.r.sched.SigmaMax(), req.Steps, noise, opts)
			})
		} else {
			g.steps = len(sigmas) - 1
			x, err = g.sampleK(ctx, x0, sigmas, noise, opts)
		}
	}
	stopped := false
	if errors.Is(err, context.Canceled) && stopRequested(ctx) && g.last != nil {
		// A1111's launch_sampling catches InterruptedException and returns
		// last_latent, which process_images_inner decodes like any result.
		x, err, stopped = sampling.Latent{Shape: []int{g.b, 4, g.lh, g.lw}, Data: g.last}, nil, true
	}
	if err != nil {
		return nil, err
	}
	if g.mask != nil { // A1111: samples·nmask + init_latent·mask
		g.blend(x.Data, g.initLatent)
	}
	if req.ReturnLatents {
		g.latents = splitLatents(x.Data, g.b)
	}
	imgs, err := g.decode(x)
	if err != nil {
		return nil, err
	}
	g.applyOverlay(imgs)
	out := make([]image.Image, len(imgs))
	for i, im := range imgs {
		out[i] = im
	}
	if stopped {
		return out, errStoppedEarly
	}
	return out, nil
}

// sampleT runs a timestep sampler; with fewer than two timesteps there is
// nothing to do and x is returned (A1111's loop runs zero times).
func (g *job) sampleT(ctx context.Context, x sampling.Latent, ts []int, noise sampling.Noise, opts sampling.Options) (sampling.Latent, error) {
	if len(ts) < 2 {
		return x, nil
	}
	g.startLatent(x)
	return g.timed(func() (sampling.Latent, error) { return g.smp.SampleT(ctx, g, x, ts, g.r.sched, noise, opts) })
}

// sampleK runs a k-diffusion sampler.
func (g *job) sampleK(ctx context.Context, x sampling.Latent, sigmas []float64, noise sampling.Noise, opts sampling.Options) (sampling.Latent, error) {
	g.startLatent(x)
	return g.timed(func() (sampling.Latent, error) { return g.smp.SampleK(ctx, g, x, sigmas, noise, opts) })
}

// startLatent sets last to the sampler's starting latent x unless the run
// set it already (img2img: A1111's sample_img2img sets last_latent to the
// init latent, not the noised one).
func (g *job) startLatent(x sampling.Latent) {
	if g.last == nil {
		g.last = slices.Clone(x.Data)
	}
}

// timed runs a sampler and adds its wall time outside the model wrapper and
// the step callback to Timing.Sampler.
func (g *job) timed(run func() (sampling.Latent, error)) (sampling.Latent, error) {
	t0, model, cb := time.Now(), g.modelWall, g.callbackWall
	x, err := run()
	g.timing.Sampler += time.Since(t0).Nanoseconds() - (g.modelWall - model) - (g.callbackWall - cb)
	return x, err
}

func (g *job) sigmaParams() sampling.SigmaParams {
	return sampling.SigmaParams{AlwaysDiscardNextToLastSigma: g.req.Sampling.DiscardNextToLastSigma}
}

// samplerOptions applies the request's sampler knobs over A1111's defaults
// and hooks the step callback.
func (g *job) samplerOptions() sampling.Options {
	o := g.smp.DefaultOptions()
	s := g.req.Sampling
	for _, kv := range []struct {
		src *float64
		dst *float64
	}{{s.Eta, &o.Eta}, {s.SChurn, &o.SChurn}, {s.STmin, &o.STmin}, {s.STmax, &o.STmax}, {s.SNoise, &o.SNoise}} {
		if kv.src != nil {
			*kv.dst = *kv.src
		}
	}
	if s.STmax != nil && *s.STmax == 0 { // A1111 treats s_tmax 0 as infinity
		o.STmax = math.Inf(1)
	}
	o.Callback = g.onStep
	o.Schedule = g.r.sched
	return o
}

// onStep reports progress after every sampler step, with a cheap preview
// every PreviewEvery steps.
func (g *job) onStep(info sampling.StepInfo) {
	t0 := time.Now()
	defer func() { g.callbackWall += time.Since(t0).Nanoseconds() }()
	g.step++
	if g.req.OnStep == nil {
		return
	}
	p := runner.Progress{Step: g.step, Steps: max(g.steps, g.step)}
	if n := g.req.PreviewEvery; n > 0 && g.step%n == 0 {
		src := info.Denoised
		if len(src.Data) == 0 {
			src = info.X
		}
		p.Preview = cheapPreviews(src, g.b, g.lh, g.lw)
	}
	g.req.OnStep(p)
}

// decode runs the VAE decoder on latents/0.18215 one image at a time (as
// A1111 decodes a batch) and converts (x/2+0.5) clamped to 8-bit pixels,
// truncating as A1111's astype(np.uint8) does.
func (g *job) decode(x sampling.Latent) ([]*image.NRGBA, error) {
	r := g.r
	n := 4 * g.lh * g.lw
	h, w := 8*g.lh, 8*g.lw
	out := make([]*image.NRGBA, g.b)
	for i := range g.b {
		lat := make([]float32, n)
		for j, v := range x.Data[i*n : (i+1)*n] {
			lat[j] = v / r.latentScale
		}
		var vs values
		err := vs.add(floatValue(r.vaeDec.in[0].Elem, onnxruntime.NewShape(1, 4, int64(g.lh), int64(g.lw)), lat))
		if err == nil {
			err = vs.add(outputValue(r.vaeDec.out[0].Elem, onnxruntime.NewShape(1, 3, int64(h), int64(w))))
		}
		if err == nil {
			err = r.vaeDec.run(g.ro, vs[:1], vs[1:], &g.timing.VAEDecode)
		}
		var px []float32
		if err == nil {
			px, err = floatsOf(vs[1])
		}
		if err != nil {
			vs.destroy()
			return nil, fmt.Errorf("vae decode: %w", err)
		}
		out[i] = planarToNRGBA(px, h, w, func(v float32) float32 { return v/2 + 0.5 })
		vs.destroy()
	}
	return out, nil
}

// planarToNRGBA converts [3, h, w] values through f, clamped to [0, 1], to
// an opaque image (255·v truncated).
func planarToNRGBA(px []float32, h, w int, f func(float32) float32) *image.NRGBA {
	im := image.NewNRGBA(image.Rect(0, 0, w, h))
	plane := h * w
	for y := range h {
		row := im.Pix[y*im.Stride:]
		for x := range w {
			k := y*w + x
			for c := range 3 {
				v := min(max(f(px[c*plane+k]), 0), 1)
				row[4*x+c] = uint8(255 * v)
			}
			row[4*x+3] = 255
		}
	}
	return im
}

// batchNoise hands out an ImageRNG's draws one image at a time: the k-th
// request of image i is image i's part of the k-th Next call.
type batchNoise struct {
	ir      *rng.ImageRNG
	per     int
	used    []int
	batches [][]float32
}

func newBatchNoise(ir *rng.ImageRNG, b, per int) *batchNoise {
	return &batchNoise{ir: ir, per: per, used: make([]int, b)}
}

// Randn implements sampling.Noise.
func (n *batchNoise) Randn(i int, dst []float32) {
	k := n.used[i]
	n.used[i]++
	for len(n.batches) <= k {
		n.batches = append(n.batches, n.ir.Next())
	}
	copy(dst, n.batches[k][i*n.per:(i+1)*n.per])
	if k > 0 && n.batches[k-1] != nil && slices.Min(n.used) > k {
		n.batches[k-1] = nil
	}
}

// terminableRunOptions returns run options that ctx's end terminates
// (ONNX Runtime's run-terminate flag, so a run stops within one model
// call), and their release. With finishOnStop, an end caused by
// runner.ErrStopRequested does not terminate: the run finishes its model
// call and decodes.
func terminableRunOptions(ctx context.Context, log *slog.Logger, finishOnStop bool) (*onnxruntime.RunOptions, func(), error) {
	ro, err := onnxruntime.NewRunOptions()
	if err != nil {
		return nil, nil, fmt.Errorf("ort: run options: %w", err)
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		if finishOnStop && stopRequested(ctx) {
			// The model call in flight finishes, as A1111's sampler checks
			// the flag only between calls, and the decode still runs.
			return
		}
		if err := ro.Terminate(); err != nil {
			log.Warn("terminate run", "err", err)
		}
	})
	return ro, func() {
		if !stop() {
			<-done // Terminate must finish before ro is destroyed
		}
		ro.Destroy()
	}, nil
}
