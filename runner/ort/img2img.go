package ort

import (
	"context"
	"fmt"
	"image"
	"math"
	"slices"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/internal/imgconv"
	"github.com/sdapi/sdapi/runner/rng"
	"github.com/sdapi/sdapi/runner/sampling"
)

// img2img prepares the init latent (and mask) as A1111's
// StableDiffusionProcessingImg2Img.init does and samples from it as
// sample_img2img does: t_enc = int(min(strength, 0.999)·steps) steps over
// the tail of the schedule (with Init.ExactSteps, see img2imgSteps),
// starting from init + noise·σ_start (k-diffusion) or √ᾱ·init + √(1−ᾱ)·noise
// (timestep samplers).
func (g *job) img2img(ctx context.Context, noise0 sampling.Latent, noise sampling.Noise, opts sampling.Options) (sampling.Latent, error) {
	in := g.req.Init
	w, h := g.req.Width, g.req.Height
	var mask inpaintMask
	if in.Mask != nil {
		mask = prepareMask(in.Mask)
	}
	// One latent per distinct init image; a single image serves the batch.
	// Given latents (hires fix with a latent upscaler) skip the encoder.
	lats := in.Latents
	if lats == nil {
		lats = make([][]float32, len(in.Images))
		g.overlay = make([]*image.NRGBA, len(in.Images))
	}
	for i, src := range in.Images {
		im := imgconv.ToNRGBA(src) // flattened and resized by the caller (runner.Init)
		if in.Mask != nil {
			g.overlay[i] = im
			if in.Mask.Fill == 0 {
				im = fillMasked(im, mask.image)
			}
		}
		lat, lh, lw, err := g.encode(im)
		if err != nil {
			return sampling.Latent{}, err
		}
		if lh != g.lh || lw != g.lw { // resize mode 3: latent upscale
			lat = bilinear(lat, 4, lw, lh, g.lw, g.lh)
		}
		lats[i] = lat
	}
	per := 4 * g.lh * g.lw
	g.initLatent = make([]float32, g.b*per)
	for i := range g.b {
		copy(g.initLatent[i*per:], lats[min(i, len(lats)-1)])
	}
	if in.Mask != nil {
		g.overlayAlpha = make([]float32, w*h)
		for i, v := range mask.overlay.Pix {
			g.overlayAlpha[i] = 1 - float32(v)/255
		}
		g.mask = latentMask(mask.image, g.lw, g.lh, in.Mask.Round)
		switch in.Mask.Fill {
		case 2: // latent noise: fresh noise from the seeds
			ir, err := rng.New(rngSource(g.req.NoiseSource), rng.Shape{C: 4, H: g.lh, W: g.lw}, rng.Batch{Seeds: g.req.Seeds})
			if err != nil {
				return sampling.Latent{}, err
			}
			fresh := ir.Next()
			hw := len(g.mask)
			for j := range g.initLatent {
				m := g.mask[j%hw]
				g.initLatent[j] = g.initLatent[j]*m + fresh[j]*(1-m)
			}
		case 3: // latent nothing
			hw := len(g.mask)
			for j := range g.initLatent {
				g.initLatent[j] *= g.mask[j%hw]
			}
		}
	}

	mult := in.InitialNoiseMultiplier
	if mult == 0 {
		mult = 1
	}
	nz := noise0.Clone()
	for j := range nz.Data {
		nz.Data[j] *= float32(mult)
	}
	g.noise0 = nz.Data
	g.last = slices.Clone(g.initLatent) // A1111's sample_img2img: last_latent = x
	steps, tEnc := img2imgSteps(g.req.Steps, in.DenoisingStrength, in.ExactSteps)
	x := sampling.NewLatent(g.b, 4, g.lh, g.lw)
	if steps == 0 { // exact steps at strength 0: A1111's schedule is [0], nothing is sampled
		copy(x.Data, g.initLatent)
		return x, nil
	}
	if g.smp.UsesTimesteps() {
		ts := sampling.DDIMTimesteps(steps, g.req.Sampling.DiscardNextToLastSigma)
		if tEnc >= len(ts) {
			return sampling.Latent{}, invalid("%d img2img steps: a %d-step timestep schedule has only %d", tEnc+1, steps, len(ts))
		}
		at := g.r.sched.AlphasCumprod[ts[tEnc]]
		sa, s1 := math.Sqrt(at), math.Sqrt(1-at)
		for j := range x.Data {
			x.Data[j] = float32(sa*float64(g.initLatent[j]) + s1*float64(nz.Data[j]))
		}
		sched := ts[:tEnc]
		g.steps = max(len(sched)-1, 0)
		return g.sampleT(ctx, x, sched, noise, opts)
	}
	sigmas, err := g.smp.Sigmas(steps, g.scheduler, g.r.sched, g.sigmaParams())
	if err != nil {
		return sampling.Latent{}, invalid("%v", err)
	}
	sched := sigmas[steps-tEnc-1:]
	for j := range x.Data {
		x.Data[j] = float32(float64(g.initLatent[j]) + float64(nz.Data[j])*sched[0])
	}
	g.steps = len(sched) - 1
	return g.sampleK(ctx, x, sched, noise, opts)
}

// encode runs the VAE encoder on one image (·2 − 1) and returns the latent
// mean ·0.18215 and the latent size.
func (g *job) encode(im *image.NRGBA) ([]float32, int, int, error) {
	r := g.r
	w, h := im.Rect.Dx(), im.Rect.Dy()
	px := make([]float32, 3*w*h)
	for i := range w * h {
		for c := range 3 {
			px[c*w*h+i] = float32(im.Pix[4*i+c])/255*2 - 1
		}
	}
	lh, lw := h/8, w/8
	outC := 4
	if r.encMean {
		outC = 8
	}
	var vs values
	defer vs.destroy()
	if err := vs.add(floatValue(r.vaeEnc.in[0].Elem, onnxruntime.NewShape(1, 3, int64(h), int64(w)), px)); err != nil {
		return nil, 0, 0, fmt.Errorf("vae encode: %w", err)
	}
	if err := vs.add(outputValue(r.vaeEnc.out[0].Elem, onnxruntime.NewShape(1, int64(outC), int64(lh), int64(lw)))); err != nil {
		return nil, 0, 0, fmt.Errorf("vae encode: %w", err)
	}
	if err := r.vaeEnc.run(g.ro, vs[:1], vs[1:], &g.timing.VAEEncode); err != nil {
		return nil, 0, 0, fmt.Errorf("vae encode: %w", err)
	}
	out, err := floatsOf(vs[1])
	if err != nil {
		return nil, 0, 0, err
	}
	lat := make([]float32, 4*lh*lw)
	for j := range lat { // mean = the first 4 channels of latent_parameters
		lat[j] = out[j] * g.r.latentScale
	}
	return lat, lh, lw, nil
}

// applyOverlay pastes the original image over the result outside the mask
// (A1111's apply_overlay): out = orig·α + gen·(1−α), α = 1 − mask_for_overlay.
// The overlay is width×height and the result 8× the latent, smaller when a
// side is not a multiple of 8; PIL's alpha_composite then composites where
// they overlap, from the top left.
func (g *job) applyOverlay(imgs []*image.NRGBA) {
	if g.overlayAlpha == nil {
		return
	}
	ow := g.req.Width
	for i, im := range imgs {
		orig := g.overlay[min(i, len(g.overlay)-1)]
		w, h := min(im.Rect.Dx(), ow), min(im.Rect.Dy(), len(g.overlayAlpha)/ow)
		for y := range h {
			for x := range w {
				a := g.overlayAlpha[y*ow+x]
				if a == 0 {
					continue
				}
				k, o := y*im.Stride+4*x, y*orig.Stride+4*x
				for c := range 3 {
					v := float32(orig.Pix[o+c])*a + float32(im.Pix[k+c])*(1-a)
					im.Pix[k+c] = uint8(min(max(math.Round(float64(v)), 0), 255))
				}
			}
		}
	}
}

// rngSource maps a request's NoiseSource to an rng.Source (GPU when empty
// or unknown; Generate has validated it already).
func rngSource(s string) rng.Source {
	src, err := rng.ParseSource(s)
	if err != nil {
		return rng.GPU
	}
	return src
}

// bilinear resizes ch planes of w×h to nw×nh as
// torch.nn.functional.interpolate(mode="bilinear", align_corners=False).
func bilinear(src []float32, ch, w, h, nw, nh int) []float32 {
	out := make([]float32, ch*nw*nh)
	sx, sy := float64(w)/float64(nw), float64(h)/float64(nh)
	for y := range nh {
		fy := math.Max((float64(y)+0.5)*sy-0.5, 0)
		y0 := min(int(fy), h-1)
		y1 := min(y0+1, h-1)
		ly := float32(fy - float64(y0))
		for x := range nw {
			fx := math.Max((float64(x)+0.5)*sx-0.5, 0)
			x0 := min(int(fx), w-1)
			x1 := min(x0+1, w-1)
			lx := float32(fx - float64(x0))
			for c := range ch {
				p := src[c*w*h:]
				top := p[y0*w+x0]*(1-lx) + p[y0*w+x1]*lx
				bot := p[y1*w+x0]*(1-lx) + p[y1*w+x1]*lx
				out[c*nw*nh+y*nw+x] = top*(1-ly) + bot*ly
			}
		}
	}
	return out
}
