// Package imgconv holds the image conversion and the PIL resampling kernel
// that the runner and the processing layers share, so that each sees the
// same pixels.
package imgconv

import (
	"image"
	"image/color"
	"math"
)

// PILBicubic is Pillow's BICUBIC filter kernel (a = -0.5, support 2).
func PILBicubic(x float64) float64 {
	const a = -0.5
	x = math.Abs(x)
	switch {
	case x < 1:
		return ((a+2)*x-(a+3))*x*x + 1
	case x < 2:
		return (((x-5)*x+8)*x - 4) * a
	}
	return 0
}

// ToNRGBA returns img as an *image.NRGBA whose bounds start at (0, 0). An
// NRGBA already at the origin is returned as is (callers never write to it).
func ToNRGBA(img image.Image) *image.NRGBA {
	if n, ok := img.(*image.NRGBA); ok && n.Rect.Min == (image.Point{}) {
		return n
	}
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	switch src := img.(type) {
	case *image.NRGBA:
		for y := 0; y < b.Dy(); y++ {
			copy(out.Pix[y*out.Stride:y*out.Stride+4*b.Dx()], src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):])
		}
		return out
	case *image.RGBA:
		for y := 0; y < b.Dy(); y++ {
			s := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			d := out.Pix[y*out.Stride:]
			for x := 0; x < b.Dx(); x++ {
				c := color.NRGBAModel.Convert(color.RGBA{s[4*x], s[4*x+1], s[4*x+2], s[4*x+3]}).(color.NRGBA)
				d[4*x], d[4*x+1], d[4*x+2], d[4*x+3] = c.R, c.G, c.B, c.A
			}
		}
		return out
	}
	for y := 0; y < b.Dy(); y++ {
		d := out.Pix[y*out.Stride:]
		for x := 0; x < b.Dx(); x++ {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			d[4*x], d[4*x+1], d[4*x+2], d[4*x+3] = c.R, c.G, c.B, c.A
		}
	}
	return out
}
