package scripts

import (
	"math"
	"math/cmplx"
)

// fft1 is the discrete Fourier transform of x in place, any length:
// mixed-radix Cooley–Tukey over the smallest prime factor, a direct sum
// for a prime length. inverse uses exp(+2πi·jk/n); neither direction
// scales.
func fft1(x []complex128, inverse bool) {
	n := len(x)
	sign := -1.0
	if inverse {
		sign = 1
	}
	tw := make([]complex128, n) // tw[e] = exp(sign·2πi·e/n)
	for e := range tw {
		tw[e] = cmplx.Rect(1, sign*2*math.Pi*float64(e)/float64(n))
	}
	fftRec(x, tw, 1)
}

// fftRec transforms x, of length len(tw)/stride, with the twiddles of
// the top-level length: exp(sign·2πi·e/len(x)) = tw[e·stride mod len(tw)].
func fftRec(x []complex128, tw []complex128, stride int) {
	n := len(x)
	if n <= 1 {
		return
	}
	w := func(e int) complex128 { return tw[(e%n)*stride] }
	p := smallestFactor(n)
	if p == n { // prime: direct DFT
		out := make([]complex128, n)
		for k := range n {
			var s complex128
			for j, v := range x {
				s += v * w(j*k)
			}
			out[k] = s
		}
		copy(x, out)
		return
	}
	m := n / p
	// p interleaved sub-sequences x[r], x[r+p], …, each transformed.
	subs := make([][]complex128, p)
	for r := range p {
		s := make([]complex128, m)
		for j := range m {
			s[j] = x[j*p+r]
		}
		fftRec(s, tw, stride*p)
		subs[r] = s
	}
	// X[k] = Σ_r w^(r·k) · S_r[k mod m].
	for k := range n {
		var s complex128
		for r := range p {
			s += subs[r][k%m] * w(r*k)
		}
		x[k] = s
	}
}

func smallestFactor(n int) int {
	for f := 2; f*f <= n; f++ {
		if n%f == 0 {
			return f
		}
	}
	return n
}

// plane is a rows×cols complex array, row-major.
type plane struct {
	rows, cols int
	v          []complex128
}

// fft2Ortho is numpy.fft.fft2(a, norm="ortho") (ifft2 when inverse):
// rows, then columns, scaled by 1/√(rows·cols).
func fft2Ortho(a plane, inverse bool) plane {
	out := plane{a.rows, a.cols, append([]complex128(nil), a.v...)}
	for r := range a.rows {
		fft1(out.v[r*a.cols:(r+1)*a.cols], inverse)
	}
	col := make([]complex128, a.rows)
	for c := range a.cols {
		for r := range a.rows {
			col[r] = out.v[r*a.cols+c]
		}
		fft1(col, inverse)
		for r := range a.rows {
			out.v[r*a.cols+c] = col[r]
		}
	}
	scale := complex(1/math.Sqrt(float64(a.rows*a.cols)), 0)
	for i := range out.v {
		out.v[i] *= scale
	}
	return out
}

// roll2 is numpy.roll over both axes by (dr, dc).
func roll2(a plane, dr, dc int) plane {
	out := plane{a.rows, a.cols, make([]complex128, len(a.v))}
	for r := range a.rows {
		nr := ((r+dr)%a.rows + a.rows) % a.rows
		for c := range a.cols {
			nc := ((c+dc)%a.cols + a.cols) % a.cols
			out.v[nr*a.cols+nc] = a.v[r*a.cols+c]
		}
	}
	return out
}

func fftshift(a plane) plane  { return roll2(a, a.rows/2, a.cols/2) }
func ifftshift(a plane) plane { return roll2(a, -(a.rows / 2), -(a.cols / 2)) }

// shiftedFFT2 is get_matched_noise's _fft2 (inverse: _ifft2) for one
// channel: ifftshift(fft2(fftshift(a), norm="ortho")).
func shiftedFFT2(a plane, inverse bool) plane {
	return ifftshift(fft2Ortho(fftshift(a), inverse))
}
