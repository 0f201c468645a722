package ort

import (
	"math"

	"github.com/sdapi/sdapi/internal/imgconv"
)

// Image resizing happens in processing (A1111's images.resize_image, see
// runner.Init). The runner resizes only latents (bilinear, in img2img.go)
// and the inpainting mask down to the latent grid (bicubicPlane).

// bicubicPlane resizes one w×h float plane to nw×nh with PIL's BICUBIC
// filter (a = −0.5; support widened when shrinking, as precompute_coeffs
// does), in float without PIL's 8-bit rounding between the passes.
func bicubicPlane(src []float32, w, h, nw, nh int) []float32 {
	tmp := make([]float32, h*nw)
	xw := bicubicTaps(w, nw)
	for y := range h {
		row := src[y*w:]
		for x := range nw {
			var s float32
			for _, t := range xw[x] {
				s += row[t.i] * t.w
			}
			tmp[y*nw+x] = s
		}
	}
	out := make([]float32, nh*nw)
	yw := bicubicTaps(h, nh)
	for y := range nh {
		for x := range nw {
			var s float32
			for _, t := range yw[y] {
				s += tmp[t.i*nw+x] * t.w
			}
			out[y*nw+x] = s
		}
	}
	return out
}

type tap struct {
	i int
	w float32
}

// bicubicTaps returns, for each output index, the normalised taps over
// the input indices.
func bicubicTaps(in, out int) [][]tap {
	scale := float64(in) / float64(out)
	fs := math.Max(scale, 1)
	support := 2 * fs
	res := make([][]tap, out)
	for o := range out {
		center := (float64(o) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in)
		var taps []tap
		var sum float64
		for i := lo; i < hi; i++ {
			wt := imgconv.PILBicubic((float64(i) - center + 0.5) / fs)
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
