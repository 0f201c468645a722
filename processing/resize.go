package processing

import (
	"image"
	"image/color"
	"image/draw"
	"math"
)

// resampleFilter is a Pillow-style resampling kernel.
type resampleFilter int

const (
	filterNearest resampleFilter = iota
	filterBilinear
	filterBicubic
	filterLanczos
)

func (f resampleFilter) support() float64 {
	switch f {
	case filterBilinear:
		return 1
	case filterBicubic:
		return 2
	case filterLanczos:
		return 3
	}
	return 0
}

func (f resampleFilter) weight(x float64) float64 {
	x = math.Abs(x)
	switch f {
	case filterBilinear:
		if x < 1 {
			return 1 - x
		}
	case filterBicubic: // a = -0.5, as Pillow
		const a = -0.5
		if x < 1 {
			return ((a+2)*x-(a+3))*x*x + 1
		}
		if x < 2 {
			return (((x-5)*x+8)*x - 4) * a
		}
	case filterLanczos:
		if x < 3 {
			return sinc(x) * sinc(x/3)
		}
	}
	return 0
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x *= math.Pi
	return math.Sin(x) / x
}

// resample resizes img to w×h with f, the way Pillow's Image.resize does
// (separable convolution, kernel widened when shrinking). The result is an
// *image.RGBA with bounds at the origin.
func resample(img image.Image, w, h int, f resampleFilter) *image.RGBA {
	src := toRGBA(img)
	sw, sh := src.Bounds().Dx(), src.Bounds().Dy()
	if sw == w && sh == h {
		return src
	}
	if f == filterNearest {
		dst := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			sy := min(int((float64(y)+0.5)*float64(sh)/float64(h)), sh-1)
			for x := range w {
				sx := min(int((float64(x)+0.5)*float64(sw)/float64(w)), sw-1)
				copy(dst.Pix[dst.PixOffset(x, y):dst.PixOffset(x, y)+4], src.Pix[src.PixOffset(sx, sy):src.PixOffset(sx, sy)+4])
			}
		}
		return dst
	}
	// Horizontal pass into float rows, then vertical pass.
	tmp := make([]float64, w*sh*4)
	xw := kernelWeights(sw, w, f)
	for y := range sh {
		for x := range w {
			kw := xw[x]
			var acc [4]float64
			for i, wt := range kw.w {
				o := src.PixOffset(kw.start+i, y)
				for c := range 4 {
					acc[c] += wt * float64(src.Pix[o+c])
				}
			}
			copy(tmp[(y*w+x)*4:], acc[:])
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	yw := kernelWeights(sh, h, f)
	for y := range h {
		kw := yw[y]
		for x := range w {
			var acc [4]float64
			for i, wt := range kw.w {
				o := ((kw.start+i)*w + x) * 4
				for c := range 4 {
					acc[c] += wt * tmp[o+c]
				}
			}
			o := dst.PixOffset(x, y)
			for c := range 4 {
				dst.Pix[o+c] = clamp8(acc[c])
			}
		}
	}
	return dst
}

type kernel struct {
	start int
	w     []float64
}

// kernelWeights computes normalised weights for each output coordinate,
// as Pillow's precompute_coeffs.
func kernelWeights(in, out int, f resampleFilter) []kernel {
	scale := float64(in) / float64(out)
	fscale := max(scale, 1)
	support := f.support() * fscale
	ks := make([]kernel, out)
	for o := range out {
		center := (float64(o) + 0.5) * scale
		lo := max(int(math.Floor(center-support+0.5)), 0)
		hi := min(int(math.Floor(center+support+0.5)), in)
		k := kernel{start: lo}
		var sum float64
		for i := lo; i < hi; i++ {
			wt := f.weight((float64(i) - center + 0.5) / fscale)
			k.w = append(k.w, wt)
			sum += wt
		}
		if sum != 0 {
			for i := range k.w {
				k.w[i] /= sum
			}
		}
		ks[o] = k
	}
	return ks
}

func clamp8(v float64) uint8 {
	v = math.Round(v)
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// toRGBA returns img as an *image.RGBA with bounds at the origin.
func toRGBA(img image.Image) *image.RGBA {
	if r, ok := img.(*image.RGBA); ok && r.Bounds().Min == (image.Point{}) {
		return r
	}
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
	return dst
}

// cropImage returns the part of img inside r (relative to img's origin),
// padding with black where r leaves img.
func cropImage(img image.Image, r image.Rectangle) *image.RGBA {
	src := toRGBA(img)
	dst := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.Black), image.Point{}, draw.Src)
	draw.Draw(dst, dst.Bounds(), src, r.Min, draw.Src)
	return dst
}
