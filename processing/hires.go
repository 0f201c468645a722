package processing

import (
	"context"
	"fmt"
	"image"

	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/sampling"
)

// latentUpscaleModes is A1111's shared.latent_upscale_modes, mapped to the
// image-space filter this package uses to approximate each one (see
// hiresPlan).
var latentUpscaleModes = map[string]resampleFilter{
	"Latent":                       filterBilinear,
	"Latent (antialiased)":         filterBilinear,
	"Latent (bicubic)":             filterBicubic,
	"Latent (bicubic antialiased)": filterBicubic,
	"Latent (nearest)":             filterNearest,
	"Latent (nearest-exact)":       filterNearest,
}

// builtinUpscalers are the upscalers of shared.sd_upscalers every A1111
// install has.
var builtinUpscalers = map[string]resampleFilter{
	"None":    filterLanczos,
	"Lanczos": filterLanczos,
	"Nearest": filterNearest,
}

// hiresPlan is the hires fix of StableDiffusionProcessingTxt2Img.
//
// A1111 upscales latent modes in latent space (torch interpolate of the
// first pass's latents) and the others in image space, then runs
// sample_img2img. This package always works in image space: latent modes
// are approximated by resizing the decoded first-pass image with the
// matching filter (bilinear, bicubic, nearest) before the img2img pass
// re-encodes it, so results differ from A1111's pixel for pixel.
type hiresPlan struct {
	enabled    bool
	toX, toY   int
	truncX     int // latent columns and rows cropped off (hr_resize_x/y both set)
	truncY     int
	upscaler   string // as requested; "" for A1111's None (the default latent mode)
	filter     resampleFilter
	latent     bool
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
		return fmt.Errorf("%w: enable_hr needs denoising_strength", ErrInvalid)
	}
	hr.denoise = *p.DenoisingStrength
	j.extra.Set("Denoising strength", hr.denoise)

	if p.HRCheckpointName != nil && *p.HRCheckpointName != "" && *p.HRCheckpointName != "Use same checkpoint" {
		if pr.Models == nil || !pr.Models.HasCheckpoint(*p.HRCheckpointName) {
			return fmt.Errorf("%w: could not find checkpoint with name %s", ErrNotFound, *p.HRCheckpointName)
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
	switch f, ok := latentUpscaleModes[hr.upscaler]; {
	case p.HRUpscaler == nil:
		hr.filter, hr.latent = filterBilinear, true // latent_upscale_default_mode "Latent"
	case ok:
		hr.filter, hr.latent = f, true
	default:
		if _, ok := builtinUpscalers[hr.upscaler]; !ok && (pr.HasUpscaler == nil || !pr.HasUpscaler(hr.upscaler)) {
			return fmt.Errorf("%w: could not find upscaler named %s", ErrNotFound, hr.upscaler)
		}
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

// upscaleFirstPass resizes first-pass images to the hires target and crops
// the truncated border, as sample_hr_pass does before sample_img2img.
func (pr *Processor) upscaleFirstPass(imgs []image.Image, hr *hiresPlan) ([]image.Image, error) {
	out := make([]image.Image, len(imgs))
	for i, img := range imgs {
		var up image.Image
		var err error
		switch {
		case hr.latent:
			up = resample(img, hr.toX, hr.toY, hr.filter)
		default:
			up, err = pr.upscaleImage(img, hr.toX, hr.toY, hr.upscaler)
		}
		if err != nil {
			return nil, err
		}
		w, h := hr.size()
		left, top := (hr.truncX/2)*8, (hr.truncY/2)*8
		if left != 0 || top != 0 || up.Bounds().Dx() != w || up.Bounds().Dy() != h {
			up = cropImage(up, image.Rect(left, top, left+w, top+h))
		}
		out[i] = up
	}
	return out, nil
}

// upscaleImage is images.resize_image(0, im, w, h, upscaler_name): the
// named upscaler when it enlarges, then a Lanczos resize to the exact size.
func (pr *Processor) upscaleImage(img image.Image, w, h int, name string) (image.Image, error) {
	if f, ok := builtinUpscalers[name]; ok || name == "" {
		if !ok {
			f = filterLanczos
		}
		if name == "Nearest" && (w < img.Bounds().Dx() && h < img.Bounds().Dy()) {
			f = filterLanczos // A1111 only calls the upscaler when scale > 1
		}
		return resample(img, w, h, f), nil
	}
	if pr.Upscale == nil {
		return nil, fmt.Errorf("%w: could not find upscaler named %s", ErrNotFound, name)
	}
	up, err := pr.Upscale(img, w, h, name)
	if err != nil {
		return nil, fmt.Errorf("hires upscaler %s: %w", name, err)
	}
	if b := up.Bounds(); b.Dx() != w || b.Dy() != h {
		up = resample(up, w, h, filterLanczos)
	}
	return up, nil
}

// hiresPass runs the second pass of one batch on r.
func (pr *Processor) hiresPass(ctx context.Context, r runner.Runner, j *job, first []image.Image, base runner.Request, n int, st *State) (runner.Result, error) {
	hr := &j.hr
	up, err := pr.upscaleFirstPass(first, hr)
	if err != nil {
		return runner.Result{}, err
	}
	req := base
	req.Prompts = batchSlice(j.allHRPrompts, n, j.p.BatchSize)
	req.NegativePrompts = batchSlice(j.allHRNegative, n, j.p.BatchSize)
	req.Sampler, req.Scheduler = hr.sampler, hr.scheduler
	req.Steps = hr.steps
	req.Width, req.Height = hr.size()
	req.Init = &runner.Init{Images: up, DenoisingStrength: hr.denoise, InitialNoiseMultiplier: 1}
	return generate(ctx, st, r, req)
}
