package processing

import (
	"context"
	"fmt"
	"image"
	"math"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/internal/imgconv"
	"github.com/sdapi/sdapi/processing/upscale"
	"github.com/sdapi/sdapi/runner"
)

// initFor is the img2img input of the job, prepared as the image half of
// A1111's StableDiffusionProcessingImg2Img.init: each init image is
// flattened over white and resized with images.resize_image(resize_mode),
// and the mask is binarised, inverted, blurred and resized the same way.
// The runner so receives images at width×height and does only the latent
// work (VAE encode, latent mask, fill, overlay). It returns nil for
// txt2img.
//
// Resize mode 3 ("just resize (latent upscale)") leaves the image at its
// own size for the runner to upscale in latent space, floored to a
// multiple of 8 because the VAE needs one. With a mask, A1111 raises for
// mode 3 whenever the sizes differ (Pillow's "images do not match" in
// masking.fill and apply_overlay); here the image is resized to
// width×height instead.
func (j *job) initFor(ctx context.Context) (*runner.Init, error) {
	p := j.p
	if p.Mode != Img2Img {
		return nil, nil
	}
	w, h := j.width, j.height
	in := &runner.Init{
		Images:                 make([]image.Image, len(p.InitImages)),
		DenoisingStrength:      *p.DenoisingStrength,
		ResizeMode:             p.ResizeMode,
		InitialNoiseMultiplier: j.noiseMultiplier(),
		ExactSteps:             j.jo.img2imgFixSteps,
	}
	if p.Mask != nil {
		m, err := prepareMask(ctx, p, w, h)
		if err != nil {
			return nil, err
		}
		in.Mask = &runner.Mask{Image: m, Latent: p.LatentMask, Round: p.MaskRound, Fill: p.InpaintingFill}
	}
	for i, img := range p.InitImages {
		if img == nil || img.Bounds().Empty() {
			return nil, apierr.Invalid("", "init image %d is empty", i)
		}
		flat := flatten(img)
		var err error
		switch iw, ih := flat.Rect.Dx(), flat.Rect.Dy(); {
		case p.ResizeMode == 3 && p.Mask == nil:
			if iw%8 != 0 || ih%8 != 0 {
				flat = upscale.Resize(flat, max(iw/8*8, 8), max(ih/8*8, 8), upscale.Lanczos)
			}
			in.Images[i] = flat
		case p.ResizeMode == 3:
			in.Images[i], err = upscale.ResizeImageContext(ctx, upscale.ResizeJust, flat, w, h, upscale.Upscaler{})
		default:
			in.Images[i], err = upscale.ResizeImageContext(ctx, p.ResizeMode, flat, w, h, upscale.Upscaler{})
		}
		if err != nil {
			return nil, fmt.Errorf("init image %d: %w", i, err)
		}
	}
	return in, nil
}

// prepareMask is A1111's image_mask: create_binary_mask, ImageOps.invert
// for inpainting_mask_invert, cv2.GaussianBlur along x and y, then
// images.resize_image(resize_mode) to the target size. resize_image sends
// every mode other than 0 and 1 to its fill branch, mode 3 included.
func prepareMask(ctx context.Context, p *Params, w, h int) (*image.Gray, error) {
	g := binaryMask(p.Mask, p.MaskRound)
	if p.InpaintingMaskInvert != 0 {
		for i, v := range g.Pix {
			g.Pix[i] = 255 - v
		}
	}
	if p.MaskBlurX > 0 {
		gaussianBlurCV(g, float64(p.MaskBlurX), true)
	}
	if p.MaskBlurY > 0 {
		gaussianBlurCV(g, float64(p.MaskBlurY), false)
	}
	mode := p.ResizeMode
	if mode == 3 {
		mode = upscale.ResizeResizeFill
	}
	// Without an upscaler a mode "L" and an RGB image take the same
	// Lanczos path through resize_image; RGB gives one pixel layout to
	// read back for every mode.
	rgb := image.NewNRGBA(g.Rect)
	for i, v := range g.Pix {
		rgb.Pix[4*i], rgb.Pix[4*i+1], rgb.Pix[4*i+2], rgb.Pix[4*i+3] = v, v, v, 255
	}
	resized, err := upscale.ResizeImageContext(ctx, mode, rgb, w, h, upscale.Upscaler{})
	if err != nil {
		if apierr.KindOf(err) == apierr.KindInvalid {
			return nil, apierr.Invalid("mask", "mask: %w", err)
		}
		return nil, fmt.Errorf("mask: %w", err)
	}
	src := imgconv.ToNRGBA(resized)
	out := image.NewGray(image.Rect(0, 0, w, h))
	for i := range out.Pix {
		out.Pix[i] = src.Pix[4*i]
	}
	return out, nil
}

// flatten composites im over white, as A1111's images.flatten with the
// default img2img_background_color, and returns an opaque image.
func flatten(im image.Image) *image.NRGBA {
	src := imgconv.ToNRGBA(im)
	out := image.NewNRGBA(src.Rect)
	for i := 0; i < len(src.Pix); i += 4 {
		a := float64(src.Pix[i+3]) / 255
		for c := range 3 {
			out.Pix[i+c] = uint8(math.Round(float64(src.Pix[i+c])*a + 255*(1-a)))
		}
		out.Pix[i+3] = 255
	}
	return out
}

// binaryMask is A1111's create_binary_mask: the alpha channel when the
// image has transparency, else its luminance (PIL's convert('L'),
// ITU-R 601-2); with round, values above 128 become 255 and the rest 0.
func binaryMask(im image.Image, round bool) *image.Gray {
	src := imgconv.ToNRGBA(im)
	useAlpha := false
	for i := 3; i < len(src.Pix); i += 4 {
		if src.Pix[i] != 255 {
			useAlpha = true
			break
		}
	}
	g := image.NewGray(src.Rect)
	for i := range g.Pix {
		px := src.Pix[4*i:]
		if useAlpha {
			g.Pix[i] = px[3]
		} else {
			g.Pix[i] = uint8((int(px[0])*299 + int(px[1])*587 + int(px[2])*114 + 500) / 1000)
		}
	}
	if round {
		for i, v := range g.Pix {
			if v > 128 {
				g.Pix[i] = 255
			} else {
				g.Pix[i] = 0
			}
		}
	}
	return g
}

// gaussianBlurCV blurs g in place along one axis as
// cv2.GaussianBlur(mask, (k, 1) or (1, k), σ) does in A1111 1.10, with
// k = 2·int(2.5σ + 0.5) + 1 and cv2's default BORDER_REFLECT_101.
func gaussianBlurCV(g *image.Gray, sigma float64, horizontal bool) {
	r := int(2.5*sigma + 0.5)
	k := make([]float64, 2*r+1)
	var sum float64
	for i := range k {
		d := float64(i - r)
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	w, h := g.Rect.Dx(), g.Rect.Dy()
	n, lines := w, h
	if !horizontal {
		n, lines = h, w
	}
	line := make([]float64, n)
	at := func(l, i int) *uint8 {
		if horizontal {
			return &g.Pix[l*g.Stride+i]
		}
		return &g.Pix[i*g.Stride+l]
	}
	for l := range lines {
		for i := range n {
			line[i] = float64(*at(l, i))
		}
		for i := range n {
			var s float64
			for j, kw := range k {
				s += kw * line[reflect101(i+j-r, n)]
			}
			*at(l, i) = uint8(min(max(math.Round(s), 0), 255))
		}
	}
}

// reflect101 maps i into [0, n) as cv2's BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba).
func reflect101(i, n int) int {
	if n == 1 {
		return 0
	}
	for i < 0 || i >= n {
		if i < 0 {
			i = -i
		}
		if i >= n {
			i = 2*n - 2 - i
		}
	}
	return i
}
