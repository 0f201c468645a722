package scripts

import (
	"math"
	"math/cmplx"
	"sort"

	"github.com/sdapi/sdapi/internal/apierr"
)

// rgbArray is a float64 image as numpy holds it: shape (rows, cols, 3),
// row-major, index (r·cols + c)·3 + channel.
type rgbArray struct {
	rows, cols int
	v          []float64
}

func (a rgbArray) channel(ch int) plane {
	p := plane{a.rows, a.cols, make([]complex128, a.rows*a.cols)}
	for i := range p.v {
		p.v[i] = complex(a.v[3*i+ch], 0)
	}
	return p
}

// matchedNoise is outpainting_mk_2.py get_matched_noise (from
// g-diffuser-bot): noise whose spectrum is shaped by the unmasked source's
// (FFT magnitude and phase), histogram-matched to the unmasked pixels,
// filled in where mask is 1 (src and mask in [0, 1]). It follows numpy
// step by step; the noise is numpy's default_rng(0).random().
func matchedNoise(src, mask rgbArray, noiseQ, colorVariation float64) (rgbArray, error) {
	rows, cols := src.rows, src.cols
	n := rows * cols
	grey := make([]float64, n)
	for i := range grey {
		grey[i] = (mask.v[3*i] + mask.v[3*i+1] + mask.v[3*i+2]) / 3
	}

	// windowed_image = src·(1−mask_grey); /= max; += mean(src)·mask.
	windowed := rgbArray{rows, cols, make([]float64, 3*n)}
	maxW := math.Inf(-1)
	for i := range n {
		for c := range 3 {
			v := src.v[3*i+c] * (1 - grey[i])
			windowed.v[3*i+c] = v
			maxW = math.Max(maxW, v)
		}
	}
	mean := pairwiseSum(src.v) / float64(3*n) // np.average
	for i := range windowed.v {
		windowed.v[i] = windowed.v[i]/maxW + mean*mask.v[i]
	}
	var srcDist [3][]float64
	var srcPhase [3][]complex128
	for c := range 3 {
		f := shiftedFFT2(windowed.channel(c), false)
		srcDist[c] = make([]float64, n)
		srcPhase[c] = make([]complex128, n)
		for i, z := range f.v {
			d := cmplx.Abs(z)
			srcDist[c][i] = d
			srcPhase[c][i] = z / complex(d, 0)
		}
	}

	// _get_gaussian_window(rows, cols, mode=1) with std 3.14: the
	// exponent std/3.14 is exactly 1.
	window := make([]float64, n)
	sx := float64(rows) / float64(min(rows, cols))
	sy := float64(cols) / float64(min(rows, cols))
	for r := range rows {
		x := (float64(r)/float64(rows)*2 - 1) * sx
		for c := range cols {
			fy := (float64(c)/float64(cols)*2 - 1) * sy
			window[r*cols+c] = npPow(1/((x*x+1)*(fy*fy+1)), 3.14/3.14)
		}
	}

	rng := newNumpyRNG(0)
	noise := rgbArray{rows, cols, make([]float64, 3*n)}
	for i := range noise.v {
		noise.v[i] = rng.random()
	}
	for i := range n {
		g := (noise.v[3*i] + noise.v[3*i+1] + noise.v[3*i+2]) / 3
		for c := range 3 {
			noise.v[3*i+c] = noise.v[3*i+c]*colorVariation + (1-colorVariation)*g
		}
	}
	shaped := rgbArray{rows, cols, make([]float64, 3*n)}
	for c := range 3 {
		f := shiftedFFT2(noise.channel(c), false)
		for i := range f.v {
			f.v[i] *= complex(window[i], 0)
		}
		back := shiftedFFT2(f, true)
		for i := range back.v {
			back.v[i] = complex(real(back.v[i]), 0) // np.real
		}
		g := shiftedFFT2(back, false)
		for i, z := range g.v {
			a := cmplx.Abs(z)
			g.v[i] = complex(a*a*npPow(srcDist[c][i], noiseQ), 0) * srcPhase[c][i]
		}
		out := shiftedFFT2(g, true)
		for i, z := range out.v {
			shaped.v[3*i+c] = real(z)
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range shaped.v {
		lo = math.Min(lo, v)
	}
	for i := range shaped.v {
		shaped.v[i] -= lo
		hi = math.Max(hi, shaped.v[i])
	}
	for i := range shaped.v {
		shaped.v[i] /= hi
	}

	// shaped[img_mask] = match_histograms(shaped[img_mask], src[ref_mask],
	// channel_axis=1); brightness_variation is 0, so the reference is src.
	for c := range 3 {
		var source, ref []float64
		var at []int
		for i := range n {
			if grey[i] > 1e-6 {
				source = append(source, shaped.v[3*i+c])
				at = append(at, i)
			}
			if grey[i] < 1e-3 {
				ref = append(ref, src.v[3*i+c])
			}
		}
		if len(source) == 0 {
			continue
		}
		if len(ref) == 0 {
			return rgbArray{}, apierr.Invalid("", "outpainting mk2: no unmasked pixels to match the noise to")
		}
		matched := matchCumulativeCDF(source, ref)
		for k, i := range at {
			shaped.v[3*i+c] = matched[k]
		}
	}
	out := rgbArray{rows, cols, make([]float64, 3*n)}
	for i := range out.v {
		v := src.v[i]*(1-mask.v[i]) + shaped.v[i]*mask.v[i]
		out.v[i] = math.Min(math.Max(v, 0), 1)
	}
	return out, nil
}

// pairwiseSum is numpy's pairwise_sum for a contiguous float64 array (the
// order np.sum and np.mean add in): blocks of up to 128 summed in eight
// interleaved partial sums, larger ranges halved at a multiple of 8.
func pairwiseSum(a []float64) float64 {
	n := len(a)
	switch {
	case n < 8:
		res := 0.0
		for _, v := range a {
			res += v
		}
		return res
	case n <= 128:
		var r [8]float64
		copy(r[:], a[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := range 8 {
				r[j] += a[i+j]
			}
		}
		res := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			res += a[i]
		}
		return res
	}
	n2 := n / 2
	n2 -= n2 % 8
	return pairwiseSum(a[:n2]) + pairwiseSum(a[n2:])
}

// npPow is ndarray ** scalar: numpy's fast paths for the exponents 1, 2,
// 0.5, 0 and -1, math.Pow otherwise.
func npPow(x, q float64) float64 {
	switch q {
	case 1:
		return x
	case 2:
		return x * x
	case 0.5:
		return math.Sqrt(x)
	case 0:
		return 1
	case -1:
		return 1 / x
	}
	return math.Pow(x, q)
}

// matchCumulativeCDF is scikit-image's _match_cumulative_cdf for float
// input: each source value takes the reference value at its quantile,
// through np.unique, np.cumsum and np.interp.
func matchCumulativeCDF(source, template []float64) []float64 {
	srcValues, srcIdx, srcCounts := uniqueInverse(source)
	tmplValues, _, tmplCounts := uniqueInverse(template)
	quantiles := func(counts []int, size int) []float64 {
		q := make([]float64, len(counts))
		total := 0
		for i, c := range counts {
			total += c
			q[i] = float64(total) / float64(size)
		}
		return q
	}
	srcQ, tmplQ := quantiles(srcCounts, len(source)), quantiles(tmplCounts, len(template))
	interp := make([]float64, len(srcValues))
	for i, x := range srcQ {
		interp[i] = npInterp(x, tmplQ, tmplValues)
	}
	out := make([]float64, len(source))
	for i, k := range srcIdx {
		out[i] = interp[k]
	}
	return out
}

// uniqueInverse is np.unique(a, return_inverse=True, return_counts=True).
func uniqueInverse(a []float64) (values []float64, inverse []int, counts []int) {
	order := make([]int, len(a))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return a[order[i]] < a[order[j]] })
	inverse = make([]int, len(a))
	for k, i := range order {
		if k == 0 || a[i] != values[len(values)-1] {
			values = append(values, a[i])
			counts = append(counts, 0)
		}
		counts[len(counts)-1]++
		inverse[i] = len(values) - 1
	}
	return values, inverse, counts
}

// npInterp is np.interp(x, xp, fp) for one x (xp increasing, non-empty).
func npInterp(x float64, xp, fp []float64) float64 {
	last := len(xp) - 1
	switch {
	case x < xp[0]:
		return fp[0]
	case x > xp[last]:
		return fp[last]
	case x == xp[last]:
		return fp[last]
	}
	j := sort.SearchFloat64s(xp, x) // first xp[j] >= x
	if xp[j] != x {
		j--
	}
	if j >= last {
		return fp[last]
	}
	if x == xp[j] {
		return fp[j]
	}
	slope := (fp[j+1] - fp[j]) / (xp[j+1] - xp[j])
	v := slope*(x-xp[j]) + fp[j]
	if math.IsNaN(v) {
		v = slope*(x-xp[j+1]) + fp[j+1]
		if math.IsNaN(v) && fp[j] == fp[j+1] {
			v = fp[j]
		}
	}
	return v
}
