package sampling

import "math"

// Float arithmetic as torch does it on the CPU, so schedules match A1111's
// bit for bit: A1111 keeps alphas_cumprod and the sigmas in float32 and
// builds most schedules with float32 tensor ops. Go converts explicitly at
// every step so no operation is fused or kept in higher precision.

// torchLinspace64 is torch.linspace(start, end, n, dtype=float64) as ATen's
// CPU kernel (AVX2 build) computes it: the first half as start + step·i, the
// second as end − step·(n−1−i), each one fused multiply-add in the scalar
// tail, and in blocks of two 4-lane vectors base + k·step with the base
// computed the scalar way.
func torchLinspace64(start, end float64, n int) []float64 {
	return torchLinspace(start, end, n, 4, func(a, b, c float64) float64 { return math.FMA(a, b, c) },
		func(k, step, base float64) float64 { return base + float64(k*step) })
}

// torchLinspace32 is torch.linspace(start, end, n) in the default float32,
// with 8-lane vectors. ATen's default (non-AVX) build would differ in the
// last bit of a few values; A1111 runs the AVX2 kernels on x86-64.
func torchLinspace32(start, end float32, n int) []float32 {
	return torchLinspace(start, end, n, 8,
		fma32, func(k, step, base float32) float32 { return base + float32(k*step) })
}

func torchLinspace[F float32 | float64](start, end F, n, lanes int, fma, lane func(a, b, c F) F) []F {
	if n <= 0 {
		return nil
	}
	out := make([]F, n)
	if n == 1 {
		out[0] = start
		return out
	}
	step := (end - start) / F(n-1)
	half := n / 2
	base := func(i int) F {
		if i < half {
			return fma(step, F(i), start)
		}
		return fma(-step, F(n-1-i), end)
	}
	i := 0
	for ; i+2*lanes <= n; i += 2 * lanes {
		for v := i; v < i+2*lanes; v += lanes {
			b := base(v)
			for k := range lanes {
				out[v+k] = lane(F(k), step, b)
			}
		}
	}
	for ; i < n; i++ {
		out[i] = base(i)
	}
	return out
}

// pow32 is float32 pow(x, float64 y) as ATen's scalar path computes it
// (std::pow in double, rounded).
func pow32(x float32, y float64) float32 { return float32(math.Pow(float64(x), y)) }

// df is SLEEF's double-float: an unevaluated sum x + y of two float32s.
type df struct{ x, y float32 }

func dfAdd2(x, y float32) df { // dfadd2_vf2_vf_vf
	s := x + y
	v := s - x
	return df{s, (x - (s - v)) + (y - v)}
}

func dfAddDD(x, y df) df { // dfadd_vf2_vf2_vf2
	s := x.x + y.x
	return df{s, (((x.x - s) + y.x) + x.y) + y.y}
}

func dfAddDF(x df, y float32) df { // dfadd_vf2_vf2_vf
	s := x.x + y
	return df{s, ((x.x - s) + y) + x.y}
}

func dfMulDF(x df, y float32) df { // dfmul_vf2_vf2_vf, FMA build
	s := x.x * y
	return df{s, fma32(x.y, y, fma32(x.x, y, -s))}
}

func dfDiv(n, d df) df { // dfdiv_vf2_vf2_vf2, FMA build
	t := 1 / d.x
	s := n.x * t
	u := fma32(t, n.x, -s)
	v := fma32(-d.y, t, fma32(-d.x, t, 1))
	return df{s, fma32(s, v, fma32(n.y, t, u))}
}

// log32 is SLEEF's xlogf_u1 (Sleef_logf8_u10, FMA build), ATen's vectorised
// float32 log, for positive normal x: log of the mantissa in [0.75, 1.5)
// through atanh's series in double-float, plus e·ln 2.
func log32(d float32) float32 {
	e := int32(math.Float32bits(d*(1.0/0.75))>>23&0xff) - 0x7f
	m := math.Float32frombits(uint32(int32(math.Float32bits(d)) - e<<23))
	s := dfMulDF(df{0.69314718246459960938, -1.904654323148236017e-09}, float32(e))
	x := dfDiv(dfAdd2(-1, m), dfAdd2(1, m))
	x2 := x.x * x.x
	t := float32(0.3027294874)
	t = fma32(t, x2, 0.3996108174)
	t = fma32(t, x2, 0.6666694880)
	s = dfAddDD(s, df{x.x * 2, x.y * 2})
	s = dfAddDF(s, (x2*x.x)*t)
	return s.x + s.y
}

// exp32 is SLEEF's xexpf (Sleef_expf8_u10, FMA build), which ATen's
// vectorised exp runs on every element of a float32 tensor: a Cody–Waite
// reduction by ln 2 and a degree-6 polynomial, with fused multiply-adds.
func exp32(d float32) float32 {
	const (
		rLn2 float32 = 1.442695040888963407359924681001892137426645954152985934135449406931
		l2U  float32 = 0.693145751953125
		l2L  float32 = 1.428606765330187045e-06
	)
	q := int32(math.RoundToEven(float64(d * rLn2)))
	fq := float32(q)
	s := fma32(fq, -l2U, d)
	s = fma32(fq, -l2L, s)
	u := float32(0.000198527617612853646278381)
	u = fma32(u, s, 0.00139304355252534151077271)
	u = fma32(u, s, 0.00833336077630519866943359)
	u = fma32(u, s, 0.0416664853692054748535156)
	u = fma32(u, s, 0.166666671633720397949219)
	u = fma32(u, s, 0.5)
	u = 1 + fma32(s*s, u, s)
	u = u * pow2i32(q>>1) * pow2i32(q-q>>1)
	switch {
	case d < -104:
		return 0
	case d > 100:
		return float32(math.Inf(1))
	}
	return u
}

// pow2i32 is 2^q as a float32 built from its exponent bits (SLEEF vpow2i).
func pow2i32(q int32) float32 { return math.Float32frombits(uint32(q+0x7f) << 23) }

// fma32 is a float32 fused multiply-add, a·b + c rounded once. The product
// is exact in float64; the sum is rounded to float64 and corrected when that
// rounding would make the float32 rounding land on the wrong side of a tie.
func fma32(a, b, c float32) float32 {
	p, cc := float64(a)*float64(b), float64(c)
	s := p + cc
	bv := s - p
	e := (p - (s - bv)) + (cc - bv) // s + e = p + cc exactly
	r := float32(s)
	if e == 0 || float64(r) == s {
		return r
	}
	toward := float32(math.Inf(1))
	if float64(r) > s {
		toward = float32(math.Inf(-1))
	}
	n := math.Nextafter32(r, toward)
	if s != (float64(r)+float64(n))/2 { // not a tie: s's rounding stands
		return r
	}
	if (e > 0) == (float64(n) > float64(r)) {
		return n
	}
	return r
}

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
