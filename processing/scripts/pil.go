package scripts

import (
	"image"
	"image/color"
	"math"
)

// The few PIL operations the outpainting scripts use, on opaque NRGBA
// images (mode "RGB"; an "L" mask is grey in all three channels).

// newRGB is Image.new("RGB", (w, h)) (black), or filled white.
func newRGB(w, h int, white bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, max(w, 0), max(h, 0)))
	v := uint8(0)
	if white {
		v = 255
	}
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = v, v, v, 255
	}
	return img
}

// paste is Image.paste(src, (x, y)) without a mask: src's colour channels
// (its alpha dropped, as convert("RGB") drops it), clipped to dst.
func paste(dst *image.NRGBA, src image.Image, x, y int) {
	s := asNRGBA(src)
	for sy := range s.Rect.Dy() {
		dy := y + sy
		if dy < 0 || dy >= dst.Rect.Dy() {
			continue
		}
		for sx := range s.Rect.Dx() {
			dx := x + sx
			if dx < 0 || dx >= dst.Rect.Dx() {
				continue
			}
			si, di := s.PixOffset(sx, sy), dst.PixOffset(dx, dy)
			copy(dst.Pix[di:di+3], s.Pix[si:si+3])
			dst.Pix[di+3] = 255
		}
	}
}

// fillRect is ImageDraw.rectangle((x0, y0, x1, y1), fill=black) as
// Pillow 9.5 draws it: both corners inclusive, reversed corners swapped,
// clipped to the image.
func fillRect(img *image.NRGBA, x0, y0, x1, y1 int) {
	if x0 > x1 {
		x0, x1 = x1, x0
	}
	if y0 > y1 {
		y0, y1 = y1, y0
	}
	for y := max(y0, 0); y <= min(y1, img.Rect.Dy()-1); y++ {
		for x := max(x0, 0); x <= min(x1, img.Rect.Dx()-1); x++ {
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2] = 0, 0, 0
		}
	}
}

// crop is Image.crop((x0, y0, x1, y1)): black where the box leaves the
// image.
func crop(img image.Image, x0, y0, x1, y1 int) *image.NRGBA {
	s := asNRGBA(img)
	out := newRGB(x1-x0, y1-y0, false)
	for y := range out.Rect.Dy() {
		sy := y0 + y
		if sy < 0 || sy >= s.Rect.Dy() {
			continue
		}
		for x := range out.Rect.Dx() {
			sx := x0 + x
			if sx < 0 || sx >= s.Rect.Dx() {
				continue
			}
			si, di := s.PixOffset(sx, sy), out.PixOffset(x, y)
			copy(out.Pix[di:di+3], s.Pix[si:si+3])
		}
	}
	return out
}

// asNRGBA returns img as an NRGBA with its origin at (0, 0) (colour
// channels unpremultiplied, as PIL keeps them).
func asNRGBA(img image.Image) *image.NRGBA {
	if n, ok := img.(*image.NRGBA); ok && n.Rect.Min == (image.Point{}) {
		return n
	}
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			v := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			i := out.PixOffset(x, y)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = v.R, v.G, v.B, v.A
		}
	}
	return out
}

// toArray is np.asarray(img) / 255.0 for an RGB image.
func toArray(img *image.NRGBA) rgbArray {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	a := rgbArray{h, w, make([]float64, 3*w*h)}
	for i := range w * h {
		for c := range 3 {
			a.v[3*i+c] = float64(img.Pix[4*i+c]) / 255.0
		}
	}
	return a
}

// fromArray is Image.fromarray(np.clip(a·255, 0, 255).astype(np.uint8)):
// truncated toward zero.
func fromArray(a rgbArray) *image.NRGBA {
	img := newRGB(a.cols, a.rows, false)
	for i := range a.rows * a.cols {
		for c := range 3 {
			img.Pix[4*i+c] = uint8(math.Min(math.Max(a.v[3*i+c]*255.0, 0), 255))
		}
	}
	return img
}
