package upscale

import (
	"image"

	"github.com/sdapi/sdapi/internal/imgconv"
)

// toRGB is Pillow's convert("RGB"): the colour channels are kept and the
// alpha channel dropped (set opaque), without compositing.
func toRGB(img image.Image) *image.NRGBA {
	src := imgconv.ToNRGBA(img)
	if opaque(src) {
		return src
	}
	out := cloneNRGBA(src)
	for i := 3; i < len(out.Pix); i += 4 {
		out.Pix[i] = 255
	}
	return out
}

// isGray reports whether img is a single-channel image, Pillow's mode "L".
func isGray(img image.Image) bool {
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		return true
	}
	return false
}

func cloneNRGBA(src *image.NRGBA) *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, src.Rect.Dx(), src.Rect.Dy()))
	for y := 0; y < src.Rect.Dy(); y++ {
		copy(out.Pix[y*out.Stride:(y+1)*out.Stride], src.Pix[y*src.Stride:])
	}
	return out
}

func opaque(src *image.NRGBA) bool {
	w := src.Rect.Dx()
	for y := 0; y < src.Rect.Dy(); y++ {
		row := src.Pix[y*src.Stride : y*src.Stride+4*w]
		for i := 3; i < len(row); i += 4 {
			if row[i] != 255 {
				return false
			}
		}
	}
	return true
}

// premultiply is Pillow's RGBA → RGBa conversion (rgbA2rgba).
func premultiply(src *image.NRGBA) *image.NRGBA {
	out := cloneNRGBA(src)
	p := out.Pix
	for i := 0; i < len(p); i += 4 {
		a := uint32(p[i+3])
		for c := 0; c < 3; c++ {
			t := uint32(p[i+c])*a + 128
			p[i+c] = uint8(((t >> 8) + t) >> 8)
		}
	}
	return out
}

// unpremultiply is Pillow's RGBa → RGBA conversion (rgba2rgbA), in place.
func unpremultiply(img *image.NRGBA) {
	p := img.Pix
	for i := 0; i < len(p); i += 4 {
		a := uint32(p[i+3])
		if a == 0 || a == 255 {
			continue
		}
		for c := 0; c < 3; c++ {
			v := 255 * uint32(p[i+c]) / a
			p[i+c] = uint8(min(v, 255))
		}
	}
}

// pasteRGB is Pillow's Image.paste(src, box=(x, y)) into an RGB image
// without a mask: src is converted to RGB (alpha dropped) and copied with
// its top-left corner at (x, y), clipped to dst.
func pasteRGB(dst, src *image.NRGBA, x, y int) {
	r := src.Rect.Add(image.Pt(x, y)).Intersect(dst.Rect)
	for yy := r.Min.Y; yy < r.Max.Y; yy++ {
		d := dst.Pix[dst.PixOffset(r.Min.X, yy):dst.PixOffset(r.Max.X, yy)]
		copy(d, src.Pix[src.PixOffset(r.Min.X-x, yy-y):])
		for i := 3; i < len(d); i += 4 {
			d[i] = 255
		}
	}
}

// newBlack is Image.new("RGB", (w, h)): opaque black.
func newBlack(w, h int) *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 3; i < len(out.Pix); i += 4 {
		out.Pix[i] = 255
	}
	return out
}
