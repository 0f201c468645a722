package ort

import (
	"image"
	"math"

	"github.com/sdapi/sdapi/internal/imgconv"
	"github.com/sdapi/sdapi/runner"
)

// inpaintMask is an inpainting mask prepared as A1111's
// StableDiffusionProcessingImg2Img.init prepares it.
type inpaintMask struct {
	image   *image.Gray // latent_mask, width×height
	overlay *image.Gray // mask_for_overlay: clip(2·mask, 0, 255)
}

// prepareMask takes the caller's prepared mask (runner.Mask) as
// latent_mask and derives mask_for_overlay = clip(2·mask, 0, 255).
func prepareMask(m *runner.Mask) inpaintMask {
	src := imgconv.ToNRGBA(m.Image)
	out := inpaintMask{image: image.NewGray(src.Rect), overlay: image.NewGray(src.Rect)}
	for i := range out.image.Pix {
		v := src.Pix[4*i]
		out.image.Pix[i] = v
		out.overlay.Pix[i] = uint8(min(2*int(v), 255))
	}
	if m.Latent != nil { // a script's latent_mask (validated: same size)
		lat := imgconv.ToNRGBA(m.Latent)
		for i := range out.image.Pix {
			out.image.Pix[i] = lat.Pix[4*i]
		}
	}
	return out
}

// latentMask is A1111's latmask: the mask resized (PIL bicubic) to the
// latent size, /255, rounded when round is set. It returns A1111's
// self.mask = 1 − latmask (1 keeps the init latent).
func latentMask(m *image.Gray, lw, lh int, round bool) []float32 {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	src := make([]float32, w*h)
	for i, v := range m.Pix {
		src[i] = float32(v)
	}
	small := bicubicPlane(src, w, h, lw, lh)
	out := make([]float32, lw*lh)
	for i, v := range small {
		// PIL rounds to uint8 before A1111 divides by 255.
		lm := float32(min(max(math.Round(float64(v)), 0), 255)) / 255
		if round {
			lm = float32(math.RoundToEven(float64(lm)))
		}
		out[i] = 1 - lm
	}
	return out
}

// fillMasked is A1111's masking.fill (inpainting_fill 0, "fill"): the
// masked area is replaced by colours of the unmasked surroundings, blurred
// with radii 256, 64, 16, 4, 2, 0 and composited repeatedly. PIL's
// GaussianBlur is approximated by three box blurs of the same variance.
func fillMasked(im *image.NRGBA, mask *image.Gray) *image.NRGBA {
	w, h := im.Rect.Dx(), im.Rect.Dy()
	n := w * h
	// premultiplied RGBa with alpha = 255 − mask
	pm := make([]float32, 4*n)
	for i := range n {
		a := float32(255-mask.Pix[i]) / 255
		for c := range 3 {
			pm[c*n+i] = float32(im.Pix[4*i+c]) * a
		}
		pm[3*n+i] = a
	}
	acc := make([]float32, 4*n) // image_mod, straight RGB in [0,255] + alpha in [0,1]
	for _, pass := range []struct{ radius, repeats int }{{256, 1}, {64, 1}, {16, 2}, {4, 4}, {2, 2}, {0, 1}} {
		blurred := append([]float32(nil), pm...)
		if pass.radius > 0 {
			for c := range 4 {
				boxBlur3(blurred[c*n:(c+1)*n], w, h, float64(pass.radius))
			}
		}
		for range pass.repeats {
			for i := range n {
				sa := blurred[3*n+i]
				if sa <= 0 {
					continue
				}
				da := acc[3*n+i]
				oa := sa + da*(1-sa)
				for c := range 3 {
					sc := blurred[c*n+i] / sa // un-premultiply
					acc[c*n+i] = (sc*sa + acc[c*n+i]*da*(1-sa)) / oa
				}
				acc[3*n+i] = oa
			}
		}
	}
	out := image.NewNRGBA(im.Rect)
	for i := range n {
		for c := range 3 {
			out.Pix[4*i+c] = uint8(min(max(math.Round(float64(acc[c*n+i])), 0), 255))
		}
		out.Pix[4*i+3] = 255
	}
	return out
}

// boxBlur3 approximates a Gaussian of standard deviation sigma on one
// plane with three passes of a box blur in each direction (edges clamp).
func boxBlur3(p []float32, w, h int, sigma float64) {
	r := int(math.Round((math.Sqrt(4*sigma*sigma+1) - 1) / 2))
	if r < 1 {
		return
	}
	tmp := make([]float32, max(w, h))
	for range 3 {
		for y := range h {
			boxLine(p[y*w:(y+1)*w], 1, w, r, tmp)
		}
		for x := range w {
			boxLine(p[x:], w, h, r, tmp)
		}
	}
}

// boxLine replaces n values spaced by stride with their running mean over
// 2r+1 neighbours, clamping at the edges.
func boxLine(p []float32, stride, n, r int, tmp []float32) {
	for i := range n {
		tmp[i] = p[i*stride]
	}
	var s float32
	for j := -r; j <= r; j++ {
		s += tmp[min(max(j, 0), n-1)]
	}
	inv := 1 / float32(2*r+1)
	for i := range n {
		p[i*stride] = s * inv
		s += tmp[min(i+r+1, n-1)] - tmp[max(i-r, 0)]
	}
}
