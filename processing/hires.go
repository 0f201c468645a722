package processing

import (
	"context"
	"fmt"
	"image"
	"image/draw"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing/upscale"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/sampling"
)

// hiresPlan is the hires fix of StableDiffusionProcessingTxt2Img.
//
// As A1111's sample_hr_pass: latent modes interpolate the first pass's
// latents (upscale.Interpolate, torch's interpolate) and hand them to the
// second pass without a VAE round trip; upscaler modes decode, resize with
// upscale.ResizeImageContext exactly as images.resize_image(0, …,
// upscaler_name) and re-encode. Both crop the truncated latent border and
// sample exactly hr_second_pass_steps steps (runner.Init.ExactSteps).
//
// Remaining approximation: a latent mode with firstpass_image, or with a
// runner that returns no latents, resizes the image with the Pillow filter
// closest to the mode (latentFilter) before the re-encode, where A1111
// encodes firstpass_image first and interpolates its latents.
type hiresPlan struct {
	enabled    bool
	toX, toY   int
	truncX     int // latent columns and rows cropped off (hr_resize_x/y both set)
	truncY     int
	upscaler   string // as requested; "" for A1111's None (the default latent mode)
	latent     bool
	mode       upscale.LatentMode // latent modes
	filter     upscale.Filter     // latent modes: the image-space stand-in (see above)
	up         upscale.Upscaler   // upscaler modes
	steps      int
	sampler    string
	scheduler  string
	checkpoint string
	denoise    float64
}

// planHires applies __post_init__'s firstphase handling and
// calculate_target_resolution, and records init()'s extra generation
// params in A1111's order.
func (pr *Processor) planHires(j *job) error {
	p := j.p
	if p.Mode != Txt2Img {
		return nil
	}
	hr := &j.hr
	if p.FirstphaseWidth != 0 || p.FirstphaseHeight != 0 {
		hr.toX, hr.toY = p.Width, p.Height
		j.width, j.height = p.FirstphaseWidth, p.FirstphaseHeight
	}
	if !p.EnableHR {
		return nil
	}
	hr.enabled = true
	if p.DenoisingStrength == nil {
		return apierr.Invalid("enable_hr", "enable_hr needs denoising_strength")
	}
	hr.denoise = *p.DenoisingStrength
	j.extra.Set("Denoising strength", hr.denoise)

	if p.HRCheckpointName != nil && *p.HRCheckpointName != "" && *p.HRCheckpointName != "Use same checkpoint" {
		if pr.Models == nil || !pr.Models.HasCheckpoint(*p.HRCheckpointName) {
			return apierr.NotFound("could not find checkpoint with name %s", *p.HRCheckpointName)
		}
		hr.checkpoint = *p.HRCheckpointName
		j.extra.Set("Hires checkpoint", hr.checkpoint)
	}
	hr.sampler, hr.scheduler = j.sampler, j.scheduler
	hrScheduler := j.scheduler // hr_scheduler None: the first pass's
	hrSchedulerSet := p.HRScheduler != nil && *p.HRScheduler != "" && *p.HRScheduler != "Use same scheduler"
	if hrSchedulerSet {
		hrScheduler = *p.HRScheduler
	}
	if s := p.HRSamplerName; s != nil && *s != "" && *s != "Use same sampler" {
		hr.sampler, hr.scheduler = sampling.FixSamplerScheduler(*s, hrScheduler)
		if *s != j.sampler {
			j.extra.Set("Hires sampler", *s)
		}
	} else if hrSchedulerSet {
		_, hr.scheduler = sampling.FixSamplerScheduler(j.sampler, hrScheduler)
	}
	j.extra.Set("Hires prompt", hiresPromptParam{})
	j.extra.Set("Hires negative prompt", hiresPromptParam{negative: true})
	j.extra.Set("Hires schedule type", nil)

	if p.HRUpscaler != nil {
		hr.upscaler = *p.HRUpscaler
	}
	switch m, ok := upscale.LookupLatentMode(hr.upscaler); {
	case p.HRUpscaler == nil:
		// latent_upscale_default_mode "Latent"
		m, _ = upscale.LookupLatentMode("Latent")
		hr.mode, hr.filter, hr.latent = m, latentFilter(m), true
	case ok:
		hr.mode, hr.filter, hr.latent = m, latentFilter(m), true
	default:
		up, err := pr.upscalers().Lookup(hr.upscaler)
		if err != nil {
			return apierr.NotFound("could not find upscaler named %s", hr.upscaler)
		}
		hr.up = up
	}

	w, h := j.width, j.height
	if p.HRResizeX == 0 && p.HRResizeY == 0 {
		j.extra.Set("Hires upscale", p.HRScale)
		hr.toX, hr.toY = int(float64(w)*p.HRScale), int(float64(h)*p.HRScale)
	} else {
		j.extra.Set("Hires resize", fmt.Sprintf("%dx%d", p.HRResizeX, p.HRResizeY))
		switch {
		case p.HRResizeY == 0:
			hr.toX, hr.toY = p.HRResizeX, floorDiv(p.HRResizeX*h, w)
		case p.HRResizeX == 0:
			hr.toX, hr.toY = floorDiv(p.HRResizeY*w, h), p.HRResizeY
		default:
			if float64(w)/float64(h) < float64(p.HRResizeX)/float64(p.HRResizeY) {
				hr.toX, hr.toY = p.HRResizeX, floorDiv(p.HRResizeX*h, w)
			} else {
				hr.toX, hr.toY = floorDiv(p.HRResizeY*w, h), p.HRResizeY
			}
			hr.truncX = floorDiv(hr.toX-p.HRResizeX, 8)
			hr.truncY = floorDiv(hr.toY-p.HRResizeY, 8)
		}
	}
	hr.steps = p.Steps
	if p.HRSecondPassSteps != 0 {
		hr.steps = p.HRSecondPassSteps
		j.extra.Set("Hires steps", p.HRSecondPassSteps)
	}
	if err := pr.Limits.CheckExactSteps("denoising_strength", hr.steps, hr.denoise); err != nil {
		return err
	}
	if p.HRUpscaler != nil {
		j.extra.Set("Hires upscaler", *p.HRUpscaler)
	}
	return nil
}

// floorDiv is Python's // for ints.
func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// hiresSize is the second pass's output size: hr_upscale_to floored to the
// latent grid, less the truncated latent rows and columns.
func (hr *hiresPlan) size() (w, h int) {
	return (hr.toX/8 - hr.truncX) * 8, (hr.toY/8 - hr.truncY) * 8
}

// upscalers is the upscaler registry, the built-in upscalers when none
// is configured.
func (pr *Processor) upscalers() *upscale.Registry {
	if pr.Upscalers != nil {
		return pr.Upscalers
	}
	return builtinUpscalers
}

// builtinUpscalers serves processors without a registry (None, Lanczos,
// Nearest); a Registry is read-only, so one is shared.
var builtinUpscalers = upscale.NewRegistry()

// latentFilter is the Pillow filter that stands in for a latent mode's
// torch interpolation in image space, where no latents are at hand.
func latentFilter(m upscale.LatentMode) upscale.Filter {
	switch m.Mode {
	case "bicubic":
		return upscale.Bicubic
	case "nearest", "nearest-exact":
		return upscale.Nearest
	}
	return upscale.Bilinear
}

// upscaleFirstPass resizes first-pass images to the hires target and crops
// the truncated border, as sample_hr_pass does before sample_img2img.
// Model upscalers run under ctx, so cancelling the request stops them.
func (pr *Processor) upscaleFirstPass(ctx context.Context, imgs []image.Image, hr *hiresPlan) ([]image.Image, error) {
	out := make([]image.Image, len(imgs))
	for i, img := range imgs {
		var up image.Image
		if hr.latent {
			up = upscale.Resize(img, hr.toX, hr.toY, hr.filter)
		} else {
			var err error
			if up, err = upscale.ResizeImageContext(ctx, upscale.ResizeJust, img, hr.toX, hr.toY, hr.up); err != nil {
				return nil, fmt.Errorf("hires upscaler %s: %w", hr.up.Name, err)
			}
		}
		w, h := hr.size()
		left, top := (hr.truncX/2)*8, (hr.truncY/2)*8
		if left != 0 || top != 0 || up.Bounds().Dx() != w || up.Bounds().Dy() != h {
			up = crop(up, image.Rect(left, top, left+w, top+h))
		}
		out[i] = up
	}
	return out, nil
}

// crop copies the part of img inside r (relative to img's origin). r lies
// inside img: hiresPlan.size never exceeds the upscaled size.
func crop(img image.Image, r image.Rectangle) *image.NRGBA {
	dst := image.NewNRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(dst, dst.Rect, img, img.Bounds().Min.Add(r.Min), draw.Src)
	return dst
}

// firstPass is what the hires pass starts from: the first pass's images,
// its latents (nil when the runner gave none or the batch came from
// firstpass_image) and its request.
type firstPass struct {
	images  []image.Image
	latents [][]float32
	req     runner.Request
}

// hiresPass runs the second pass of batch n on r, from the first pass fp.
func (pr *Processor) hiresPass(ctx context.Context, r runner.Runner, j *job, fp firstPass, n int, st *State) (runner.Result, error) {
	first, latents, base := fp.images, fp.latents, fp.req
	hr := &j.hr
	// sample_hr_pass passes its steps to sample_img2img, so exactly
	// hr.steps run (setup_img2img_steps), whatever the strength.
	init := &runner.Init{DenoisingStrength: hr.denoise, InitialNoiseMultiplier: 1, ExactSteps: true}
	var err error
	if hr.latent && latents != nil {
		init.Latents, err = hr.upscaleLatents(latents, base.Width, base.Height)
	} else {
		init.Images, err = pr.upscaleFirstPass(ctx, first, hr)
	}
	if err != nil {
		return runner.Result{}, err
	}
	req := base
	req.Prompts = batchSlice(j.allHRPrompts, n, j.p.BatchSize)
	req.NegativePrompts = batchSlice(j.allHRNegative, n, j.p.BatchSize)
	pr.applyNetworks(j, &req, true)
	req.Sampler, req.Scheduler = hr.sampler, hr.scheduler
	req.Steps = hr.steps
	req.Width, req.Height = hr.size()
	req.SDXL.Width, req.SDXL.Height = hr.toX, hr.toY // calculate_hr_conds' SdConditioning size
	req.Init = init
	req.ReturnLatents = false
	req.Refiner = j.refinerFor(true)
	return generate(ctx, st, r, req)
}

// upscaleLatents is sample_hr_pass's latent branch: torch interpolate of
// each w×h first-pass latent to (hr_upscale_to_y//8, hr_upscale_to_x//8)
// with the mode's (mode, antialias), then the crop of truncate_y//2 rows
// and truncate_x//2 columns off the top left and the rest off the bottom
// right, leaving hr.size()/8.
func (hr *hiresPlan) upscaleLatents(latents [][]float32, w, h int) ([][]float32, error) {
	lh, lw := h/8, w/8
	th, tw := hr.toY/8, hr.toX/8
	ow, oh := hr.size()
	ow, oh = ow/8, oh/8
	top, left := hr.truncY/2, hr.truncX/2
	out := make([][]float32, len(latents))
	for i, lat := range latents {
		up, err := upscale.Interpolate(lat, 4, lh, lw, th, tw, hr.mode)
		if err != nil {
			return nil, fmt.Errorf("hires upscaler %s: latent %d: %w", hr.mode.Name, i, err)
		}
		if oh == th && ow == tw {
			out[i] = up
			continue
		}
		c := make([]float32, 4*oh*ow)
		for ch := range 4 {
			for y := range oh {
				src := up[(ch*th+top+y)*tw+left:]
				copy(c[(ch*oh+y)*ow:(ch*oh+y+1)*ow], src[:ow])
			}
		}
		out[i] = c
	}
	return out, nil
}
