package upscale

import (
	"math"

	"github.com/sdapi/sdapi/internal/apierr"
)

// LatentMode is one entry of A1111's shared.latent_upscale_modes: the
// torch.nn.functional.interpolate mode and antialias flag used to resize
// latents for hires fix.
type LatentMode struct {
	Name      string
	Mode      string // "bilinear", "bicubic", "nearest" or "nearest-exact"
	Antialias bool
}

var latentModes = []LatentMode{
	{"Latent", "bilinear", false},
	{"Latent (antialiased)", "bilinear", true},
	{"Latent (bicubic)", "bicubic", false},
	{"Latent (bicubic antialiased)", "bicubic", true},
	{"Latent (nearest)", "nearest", false},
	{"Latent (nearest-exact)", "nearest-exact", false},
}

// LatentModes returns the latent upscale mode names in A1111's order, as
// /sdapi/v1/latent-upscale-modes lists them.
func LatentModes() []string {
	names := make([]string, len(latentModes))
	for i, m := range latentModes {
		names[i] = m.Name
	}
	return names
}

// LookupLatentMode finds a latent upscale mode by its A1111 name.
func LookupLatentMode(name string) (LatentMode, bool) {
	for _, m := range latentModes {
		if m.Name == name {
			return m, true
		}
	}
	return LatentMode{}, false
}

// Interpolate resizes a C×H×W float32 tensor (row-major, one batch item)
// to C×outH×outW as torch.nn.functional.interpolate(x, size=(outH, outW),
// mode=m.Mode, antialias=m.Antialias) does with align_corners=False, in
// single precision with torch's index and weight formulas. It returns an
// error wrapping ErrInvalid for a bad shape, an unknown mode, or antialias
// with a nearest mode (torch raises there too).
func Interpolate(x []float32, c, h, w, outH, outW int, m LatentMode) ([]float32, error) {
	if c <= 0 || h <= 0 || w <= 0 || outH <= 0 || outW <= 0 || len(x) != c*h*w {
		return nil, apierr.Invalid("", "latent of %d values as %dx%dx%d to %dx%d", len(x), c, h, w, outH, outW)
	}
	switch {
	case m.Antialias && (m.Mode == "bilinear" || m.Mode == "bicubic"):
		filter, size := aaLinear, 2
		if m.Mode == "bicubic" {
			filter, size = aaCubic, 4
		}
		return interpolateAA(x, c, h, w, outH, outW, filter, size), nil
	case m.Antialias:
	case m.Mode == "bilinear":
		return interpolateSep(x, c, h, w, linearTaps(h, outH), linearTaps(w, outW), outH, outW), nil
	case m.Mode == "bicubic":
		return interpolateSep(x, c, h, w, cubicTaps(h, outH), cubicTaps(w, outW), outH, outW), nil
	case m.Mode == "nearest" || m.Mode == "nearest-exact":
		exact := m.Mode == "nearest-exact"
		return interpolateSep(x, c, h, w, nearestTaps(h, outH, exact), nearestTaps(w, outW, exact), outH, outW), nil
	}
	return nil, apierr.Invalid("", "latent mode %q with antialias=%v", m.Mode, m.Antialias)
}

// taps are the source indices and weights of each output position along
// one axis, n per output.
type taps struct {
	n   int
	idx []int
	wts []float32
}

// sourceIndex is torch's area_pixel_compute_source_index with
// align_corners=False: scale*(i+0.5)-0.5, clamped at 0 unless cubic.
func sourceIndex(scale float32, i int, cubic bool) float32 {
	s := scale*(float32(i)+0.5) - 0.5
	if !cubic && s < 0 {
		return 0
	}
	return s
}

// guardIndex is torch's guard_index_and_lambda.
func guardIndex(real float32, in int) (int, float32) {
	idx := min(int(float32(math.Floor(float64(real)))), in-1)
	lambda := min(max(real-float32(idx), 0), 1)
	return idx, lambda
}

func linearTaps(in, out int) taps {
	t := taps{n: 2, idx: make([]int, 2*out), wts: make([]float32, 2*out)}
	scale := float32(in) / float32(out)
	for i := 0; i < out; i++ {
		idx, l := guardIndex(sourceIndex(scale, i, false), in)
		next := idx
		if idx < in-1 {
			next++
		}
		t.idx[2*i], t.idx[2*i+1] = idx, next
		t.wts[2*i], t.wts[2*i+1] = 1-l, l
	}
	return t
}

// cubicConv1 and cubicConv2 are torch's cubic_convolution1/2.
func cubicConv1(x, a float32) float32 { return ((a+2)*x-(a+3))*x*x + 1 }
func cubicConv2(x, a float32) float32 { return ((a*x-5*a)*x+8*a)*x - 4*a }

func cubicTaps(in, out int) taps {
	const a = -0.75
	t := taps{n: 4, idx: make([]int, 4*out), wts: make([]float32, 4*out)}
	scale := float32(in) / float32(out)
	for i := 0; i < out; i++ {
		idx, l := guardIndex(sourceIndex(scale, i, true), in)
		w := [4]float32{cubicConv2(l+1, a), cubicConv1(l, a), cubicConv1(1-l, a), cubicConv2(2-l, a)}
		for j := 0; j < 4; j++ {
			t.idx[4*i+j] = min(max(idx-1+j, 0), in-1)
			t.wts[4*i+j] = w[j]
		}
	}
	return t
}

// nearestTaps is torch's nearest_idx / nearest_exact_idx.
func nearestTaps(in, out int, exact bool) taps {
	t := taps{n: 1, idx: make([]int, out), wts: make([]float32, out)}
	scale := float32(in) / float32(out)
	for i := 0; i < out; i++ {
		var src int
		switch {
		case exact:
			src = int(math.Floor(float64(float32((float64(i) + 0.5) * float64(scale)))))
		case out == in:
			src = i
		case out == 2*in:
			src = i >> 1
		default:
			src = int(float32(math.Floor(float64(float32(i) * scale))))
		}
		t.idx[i], t.wts[i] = min(src, in-1), 1
	}
	return t
}

// interpolateSep evaluates torch's generic upsample kernel: for each output
// the rows are combined first along W and then along H, in float32.
func interpolateSep(x []float32, c, h, w int, th, tw taps, outH, outW int) []float32 {
	out := make([]float32, c*outH*outW)
	for ch := 0; ch < c; ch++ {
		plane := x[ch*h*w:]
		dst := out[ch*outH*outW:]
		for oy := 0; oy < outH; oy++ {
			for ox := 0; ox < outW; ox++ {
				var acc float32
				for j := 0; j < th.n; j++ {
					row := plane[th.idx[oy*th.n+j]*w:]
					var r float32
					for k := 0; k < tw.n; k++ {
						r += float32(row[tw.idx[ox*tw.n+k]] * tw.wts[ox*tw.n+k])
					}
					acc += float32(r * th.wts[oy*th.n+j])
				}
				dst[oy*outW+ox] = acc
			}
		}
	}
	return out
}

func aaLinear(x float32) float32 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// aaCubic is torch's antialiasing bicubic filter, Keys with a = -0.5 as in
// Pillow.
func aaCubic(x float32) float32 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return cubicConv1(x, a)
	}
	if x < 2 {
		return cubicConv2(x, a)
	}
	return 0
}

// aaTaps is torch's _compute_weights_aa: a Pillow-style window whose
// support grows with the downscale factor, weights normalised to 1.
func aaTaps(in, out int, filter func(float32) float32, interpSize int) (starts []int, wts [][]float32) {
	scale := float32(in) / float32(out)
	support := float32(interpSize) * 0.5
	invscale := float32(1)
	if scale >= 1 {
		support *= scale
		invscale = 1 / scale
	}
	starts, wts = make([]int, out), make([][]float32, out)
	for i := 0; i < out; i++ {
		center := float32(float64(scale) * (float64(i) + 0.5))
		xmin := max(int(float64(center-support)+0.5), 0)
		xsize := min(int(float64(center+support)+0.5), in) - xmin
		ws := make([]float32, max(xsize, 0))
		var total float32
		for j := range ws {
			ws[j] = filter(float32((float64(float32(j+xmin)-center) + 0.5) * float64(invscale)))
			total += ws[j]
		}
		if total != 0 {
			for j := range ws {
				ws[j] /= total
			}
		}
		starts[i], wts[i] = xmin, ws
	}
	return starts, wts
}

// interpolateAA is torch's separable antialiased resize: along W first,
// then along H, in float32.
func interpolateAA(x []float32, c, h, w, outH, outW int, filter func(float32) float32, size int) []float32 {
	cur, curW := x, w
	if outW != w {
		st, ws := aaTaps(w, outW, filter, size)
		next := make([]float32, c*h*outW)
		for r := 0; r < c*h; r++ {
			src, dst := cur[r*w:], next[r*outW:]
			for o := 0; o < outW; o++ {
				var acc float32
				for j, wt := range ws[o] {
					acc += float32(src[st[o]+j] * wt)
				}
				dst[o] = acc
			}
		}
		cur, curW = next, outW
	}
	if outH == h {
		if outW == w {
			return append([]float32(nil), x...)
		}
		return cur
	}
	st, ws := aaTaps(h, outH, filter, size)
	out := make([]float32, c*outH*curW)
	for ch := 0; ch < c; ch++ {
		src, dst := cur[ch*h*curW:], out[ch*outH*curW:]
		for o := 0; o < outH; o++ {
			for xx := 0; xx < curW; xx++ {
				var acc float32
				for j, wt := range ws[o] {
					acc += float32(src[(st[o]+j)*curW+xx] * wt)
				}
				dst[o*curW+xx] = acc
			}
		}
	}
	return out
}
