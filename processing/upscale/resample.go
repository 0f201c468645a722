// Package upscale holds the image resizing behind A1111's upscalers, its
// resize_image modes, the latent upscale modes and the extras
// (postprocessing) endpoints.
//
// The resamplers reproduce Pillow's: Image.resize with LANCZOS, BICUBIC,
// BILINEAR (separable convolution in fixed point, horizontal pass first,
// rounded to 8 bits between passes) and NEAREST (Pillow's affine scaling).
// A1111's built-in upscalers are exactly those PIL resizes, so images
// produced here match A1111's within one level per channel.
package upscale

import (
	"image"
	"math"
	"runtime"
	"sync"

	"github.com/sdapi/sdapi/internal/imgconv"
)

// Filter is a Pillow resampling filter.
type Filter int

// The filters A1111 uses. The zero value is Nearest.
const (
	Nearest Filter = iota
	Bilinear
	Bicubic
	Lanczos
)

// String returns Pillow's name for f.
func (f Filter) String() string {
	switch f {
	case Nearest:
		return "NEAREST"
	case Bilinear:
		return "BILINEAR"
	case Bicubic:
		return "BICUBIC"
	case Lanczos:
		return "LANCZOS"
	}
	return "Filter(?)"
}

// kernel is Pillow's struct filter: a weight function and its support.
type kernel struct {
	fn      func(x float64) float64
	support float64
}

func (f Filter) kernel() kernel {
	switch f {
	case Bilinear:
		return kernel{bilinearKernel, 1}
	case Bicubic:
		return kernel{imgconv.PILBicubic, 2}
	default:
		return kernel{lanczosKernel, 3}
	}
}

func bilinearKernel(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
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

func lanczosKernel(x float64) float64 {
	if -3 <= x && x < 3 {
		return sinc(x) * sinc(x/3)
	}
	return 0
}

// precisionBits is Pillow's PRECISION_BITS for 8-bit images.
const precisionBits = 32 - 8 - 2

// coeffs are one axis' fixed-point weights: for output i, the source
// window starts at bounds[2i] and has bounds[2i+1] taps, whose weights are
// kk[i*ksize:].
type coeffs struct {
	ksize  int
	bounds []int
	kk     []int32
}

// precomputeCoeffs is Pillow's precompute_coeffs followed by
// normalize_coeffs_8bpc. in0 and in1 are the box edges, single precision
// as in Pillow.
func precomputeCoeffs(inSize int, in0, in1 float32, outSize int, k kernel) coeffs {
	scale := float64(in1-in0) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := k.support * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c := coeffs{ksize: ksize, bounds: make([]int, 2*outSize), kk: make([]int32, outSize*ksize)}
	w := make([]float64, ksize)
	for xx := 0; xx < outSize; xx++ {
		center := float64(in0) + (float64(xx)+0.5)*scale
		ss := 1 / filterscale
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w[x] = k.fn((float64(x+xmin) - center + 0.5) * ss)
			ww += w[x]
		}
		row := c.kk[xx*ksize : (xx+1)*ksize]
		for x := 0; x < xmax; x++ {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				row[x] = int32(-0.5 + v*(1<<precisionBits))
			} else {
				row[x] = int32(0.5 + v*(1<<precisionBits))
			}
		}
		c.bounds[2*xx] = xmin
		c.bounds[2*xx+1] = xmax
	}
	return c
}

// clip8 is Pillow's clip8: the fixed-point sum shifted down and clamped.
func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// parallelRows calls fn on disjoint row ranges covering [0, n).
func parallelRows(n int, fn func(y0, y1 int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers > n/16 {
		workers = max(n/16, 1)
	}
	if workers == 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for y0 := 0; y0 < n; y0 += chunk {
		wg.Go(func() { fn(y0, min(y0+chunk, n)) })
	}
	wg.Wait()
}

// resampleHorizontal is ImagingResampleHorizontal_8bpc on NRGBA pixels:
// out row y is made from in row y+offset; nch (3 or 4) channels are
// computed and, with 3, alpha is set to 255.
func resampleHorizontal(out, in *image.NRGBA, offset int, c coeffs, nch int) {
	w := out.Rect.Dx()
	parallelRows(out.Rect.Dy(), func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			src := in.Pix[(y+offset)*in.Stride:]
			dst := out.Pix[y*out.Stride : y*out.Stride+4*w]
			for xx := 0; xx < w; xx++ {
				xmin, n := c.bounds[2*xx], c.bounds[2*xx+1]
				k := c.kk[xx*c.ksize : xx*c.ksize+n]
				p := src[xmin*4 : (xmin+n)*4]
				const half = int32(1 << (precisionBits - 1))
				s0, s1, s2, s3 := half, half, half, half
				for x, kv := range k {
					q := p[x*4 : x*4+4]
					s0 += int32(q[0]) * kv
					s1 += int32(q[1]) * kv
					s2 += int32(q[2]) * kv
					s3 += int32(q[3]) * kv
				}
				d := dst[xx*4 : xx*4+4]
				d[0], d[1], d[2], d[3] = clip8(s0), clip8(s1), clip8(s2), 255
				if nch == 4 {
					d[3] = clip8(s3)
				}
			}
		}
	})
}

// resampleVertical is ImagingResampleVertical_8bpc on NRGBA pixels. Each
// output row accumulates whole source rows, which is the same sum per
// channel in a cache-friendly order.
func resampleVertical(out, in *image.NRGBA, c coeffs, nch int) {
	w := out.Rect.Dx()
	parallelRows(out.Rect.Dy(), func(y0, y1 int) {
		acc := make([]int32, 4*w)
		for yy := y0; yy < y1; yy++ {
			ymin, n := c.bounds[2*yy], c.bounds[2*yy+1]
			k := c.kk[yy*c.ksize : yy*c.ksize+n]
			for i := range acc {
				acc[i] = 1 << (precisionBits - 1)
			}
			for j, kv := range k {
				row := in.Pix[(ymin+j)*in.Stride : (ymin+j)*in.Stride+4*w]
				for i, v := range row {
					acc[i] += int32(v) * kv
				}
			}
			dst := out.Pix[yy*out.Stride : yy*out.Stride+4*w]
			for i, s := range acc {
				dst[i] = clip8(s)
			}
			if nch == 3 {
				for i := 3; i < len(dst); i += 4 {
					dst[i] = 255
				}
			}
		}
	})
}

// resampleInner is ImagingResampleInner: a horizontal pass over the rows
// the vertical pass needs, then the vertical pass. box is the source
// region (x0, y0, x1, y1), as Image.resize's box argument.
func resampleInner(in *image.NRGBA, xsize, ysize int, f Filter, box [4]float32, nch int) *image.NRGBA {
	k := f.kernel()
	inW, inH := in.Rect.Dx(), in.Rect.Dy()
	needH := xsize != inW || box[0] != 0 || box[2] != float32(xsize)
	needV := ysize != inH || box[1] != 0 || box[3] != float32(ysize)
	ch := precomputeCoeffs(inW, box[0], box[2], xsize, k)
	cv := precomputeCoeffs(inH, box[1], box[3], ysize, k)
	first := cv.bounds[0]
	last := cv.bounds[2*ysize-2] + cv.bounds[2*ysize-1]

	out := in
	if needH {
		for i := 0; i < ysize; i++ {
			cv.bounds[2*i] -= first
		}
		tmp := image.NewNRGBA(image.Rect(0, 0, xsize, last-first))
		resampleHorizontal(tmp, in, first, ch, nch)
		out = tmp
	}
	if needV {
		dst := image.NewNRGBA(image.Rect(0, 0, out.Rect.Dx(), ysize))
		resampleVertical(dst, out, cv, nch)
		out = dst
	}
	if out == in {
		out = cloneNRGBA(in)
	}
	return out
}

// resizeNearest is Pillow's ImagingScaleAffine, the NEAREST path of
// Image.resize: source coordinates are accumulated by repeated addition,
// as Pillow does, starting half a step in.
func resizeNearest(in *image.NRGBA, xsize, ysize int, box [4]float32) *image.NRGBA {
	a0 := float64(box[2]-box[0]) / float64(xsize)
	a4 := float64(box[3]-box[1]) / float64(ysize)
	inW, inH := in.Rect.Dx(), in.Rect.Dy()
	out := image.NewNRGBA(image.Rect(0, 0, xsize, ysize))
	xin := make([]int, xsize)
	xo := float64(box[0]) + a0*0.5
	for x := range xin {
		xin[x] = coord(xo)
		xo += a0
	}
	yo := float64(box[1]) + a4*0.5
	for y := 0; y < ysize; y++ {
		yi := coord(yo)
		yo += a4
		if yi < 0 || yi >= inH {
			continue
		}
		src := in.Pix[yi*in.Stride:]
		dst := out.Pix[y*out.Stride:]
		for x, xi := range xin {
			if xi >= 0 && xi < inW {
				copy(dst[x*4:x*4+4], src[xi*4:xi*4+4])
			}
		}
	}
	return out
}

func coord(v float64) int {
	if v < 0 {
		return -1
	}
	return int(v)
}

// Resize is Pillow's Image.resize((w, h), filter) on an 8-bit image. An
// image with transparency is premultiplied around the convolution, as
// Pillow does for RGBA (not for NEAREST). The result always has its own
// pixels. A non-positive w or h gives an empty image; Pillow raises.
func Resize(img image.Image, w, h int, filter Filter) *image.NRGBA {
	src := imgconv.ToNRGBA(img)
	return resizeBox(src, w, h, filter, [4]float32{0, 0, float32(src.Rect.Dx()), float32(src.Rect.Dy())})
}

// resizeBox is Image.resize with a box. src must start at (0, 0).
func resizeBox(src *image.NRGBA, w, h int, filter Filter, box [4]float32) *image.NRGBA {
	if w <= 0 || h <= 0 {
		return image.NewNRGBA(image.Rect(0, 0, max(w, 0), max(h, 0)))
	}
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	if sw == w && sh == h && box == [4]float32{0, 0, float32(sw), float32(sh)} {
		return cloneNRGBA(src)
	}
	if filter == Nearest {
		return resizeNearest(src, w, h, box)
	}
	if opaque(src) {
		return resampleInner(src, w, h, filter, box, 3)
	}
	out := resampleInner(premultiply(src), w, h, filter, box, 4)
	unpremultiply(out)
	return out
}
