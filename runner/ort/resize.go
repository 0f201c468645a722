package ort

import (
	"image"
	"image/color"
	"image/draw"
	"math"
)

// toNRGBA returns im as a non-premultiplied RGBA image with its origin at
// (0, 0) (a copy unless it already is one).
func toNRGBA(im image.Image) *image.NRGBA {
	if n, ok := im.(*image.NRGBA); ok && n.Rect.Min == (image.Point{}) {
		return n
	}
	b := im.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Rect, im, b.Min, draw.Src)
	return out
}

// flatten composites im over white, as A1111's images.flatten with the
// default img2img_background_color, and returns an opaque image.
func flatten(im image.Image) *image.NRGBA {
	src := toNRGBA(im)
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

// gray converts im to 8-bit luminance as PIL's convert('L') does
// (ITU-R 601-2: L = R·299/1000 + G·587/1000 + B·114/1000).
func gray(im image.Image) *image.Gray {
	src := toNRGBA(im)
	out := image.NewGray(src.Rect)
	for i := range len(src.Pix) / 4 {
		p := src.Pix[4*i:]
		out.Pix[i] = uint8((int(p[0])*299 + int(p[1])*587 + int(p[2])*114 + 500) / 1000)
	}
	return out
}

// resample resizes the channels of a planar float image (ch planes of w×h)
// to nw×nh with a separable filter whose support widens when downscaling,
// as PIL's resize does (in float, without PIL's 8-bit rounding between the
// passes).
func resample(src []float32, ch, w, h, nw, nh int, f filter) []float32 {
	tmp := make([]float32, ch*h*nw)
	xw := filterWeights(w, nw, f)
	for c := range ch {
		for y := range h {
			row := src[c*w*h+y*w:]
			for x := range nw {
				var s float32
				for _, t := range xw[x] {
					s += row[t.i] * t.w
				}
				tmp[c*nw*h+y*nw+x] = s
			}
		}
	}
	out := make([]float32, ch*nh*nw)
	yw := filterWeights(h, nh, f)
	for c := range ch {
		for y := range nh {
			for x := range nw {
				var s float32
				for _, t := range yw[y] {
					s += tmp[c*nw*h+t.i*nw+x] * t.w
				}
				out[c*nw*nh+y*nw+x] = s
			}
		}
	}
	return out
}

type tap struct {
	i int
	w float32
}

// filter is a resampling kernel and its support, as PIL defines them.
type filter struct {
	support float64
	kernel  func(float64) float64
}

var (
	lanczosFilter = filter{3, lanczos3}
	bicubicFilter = filter{2, bicubic}
)

// filterWeights returns, for each output index, the normalised taps over
// the input indices (PIL's precompute_coeffs).
func filterWeights(in, out int, f filter) [][]tap {
	scale := float64(in) / float64(out)
	fs := math.Max(scale, 1)
	support := f.support * fs
	res := make([][]tap, out)
	for o := range out {
		center := (float64(o) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in)
		var taps []tap
		var sum float64
		for i := lo; i < hi; i++ {
			wt := f.kernel((float64(i) - center + 0.5) / fs)
			taps = append(taps, tap{i, float32(wt)})
			sum += wt
		}
		if sum != 0 {
			for k := range taps {
				taps[k].w = float32(float64(taps[k].w) / sum)
			}
		}
		res[o] = taps
	}
	return res
}

// bicubic is PIL's cubic kernel with a = −0.5.
func bicubic(x float64) float64 {
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

func lanczos3(x float64) float64 {
	if x == 0 {
		return 1
	}
	if x <= -3 || x >= 3 {
		return 0
	}
	px := math.Pi * x
	return 3 * math.Sin(px) * math.Sin(px/3) / (px * px)
}

// resizeRGB resizes an image with Lanczos (A1111's resize without an
// upscaler, img2img's default "None").
func resizeRGB(im *image.NRGBA, nw, nh int) *image.NRGBA {
	w, h := im.Rect.Dx(), im.Rect.Dy()
	if w == nw && h == nh {
		return im
	}
	planes := make([]float32, 4*w*h)
	for i := range w * h {
		for c := range 4 {
			planes[c*w*h+i] = float32(im.Pix[4*i+c])
		}
	}
	res := resample(planes, 4, w, h, nw, nh, lanczosFilter)
	out := image.NewNRGBA(image.Rect(0, 0, nw, nh))
	for i := range nw * nh {
		for c := range 4 {
			out.Pix[4*i+c] = uint8(min(max(math.Round(float64(res[c*nw*nh+i])), 0), 255))
		}
	}
	return out
}

// resizeImage is A1111's images.resize_image without upscalers: 0 just
// resize; 1 crop and resize (scale to cover, centre, crop); 2 (and 3)
// resize and fill (scale to fit, centre, stretch the edge rows or columns
// into the bars).
func resizeImage(mode int, im *image.NRGBA, width, height int) *image.NRGBA {
	w, h := im.Rect.Dx(), im.Rect.Dy()
	if mode == 0 {
		return resizeRGB(im, width, height)
	}
	ratio := float64(width) / float64(height)
	srcRatio := float64(w) / float64(h)
	var sw, sh int
	if mode == 1 {
		sw, sh = w*height/h, h*width/w
		if ratio > srcRatio {
			sw = width
		} else {
			sh = height
		}
	} else {
		sw, sh = w*height/h, h*width/w
		if ratio < srcRatio {
			sw = width
		} else {
			sh = height
		}
	}
	resized := resizeRGB(im, sw, sh)
	res := image.NewNRGBA(image.Rect(0, 0, width, height))
	draw.Draw(res, res.Rect, image.NewUniform(color.NRGBA{0, 0, 0, 255}), image.Point{}, draw.Src)
	ox, oy := width/2-sw/2, height/2-sh/2
	draw.Draw(res, image.Rect(ox, oy, ox+sw, oy+sh), resized, image.Point{}, draw.Src)
	if mode == 1 {
		return res
	}
	if ratio < srcRatio && oy > 0 { // bars above and below
		for y := range height {
			sy := min(max(y-oy, 0), sh-1)
			if y >= oy && y < oy+sh {
				continue
			}
			for x := range width {
				copy(res.Pix[y*res.Stride+4*x:], resized.Pix[sy*resized.Stride+4*min(x, sw-1):][:4])
			}
		}
	} else if ratio > srcRatio && ox > 0 { // bars left and right
		for y := range height {
			sy := min(y, sh-1)
			for x := range width {
				if x >= ox && x < ox+sw {
					continue
				}
				sx := min(max(x-ox, 0), sw-1)
				copy(res.Pix[y*res.Stride+4*x:], resized.Pix[sy*resized.Stride+4*sx:][:4])
			}
		}
	}
	return res
}
