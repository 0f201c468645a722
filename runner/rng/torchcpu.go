package rng

import "math"

// mt19937 parameters (Matsumoto and Nishimura), as in torch's at::mt19937.
const (
	mtN         = 624
	mtM         = 397
	mtMatrixA   = 0x9908B0DF
	mtUpperMask = 0x80000000
	mtLowerMask = 0x7FFFFFFF
)

// TorchCPU is the "CPU" noise source: torch's CPU generator
// (torch.Generator().manual_seed(seed)) and its float32 randn. It keeps the
// generator's whole state, including the cached second Box–Muller value of
// the scalar path, so consecutive Randn calls continue one stream as
// consecutive torch.randn calls on one generator do. The zero value is not
// useful; use NewTorchCPU.
type TorchCPU struct {
	state [mtN]uint32
	next  int

	cached    float64 // torch's next_double_normal_sample
	hasCached bool
}

var _ Generator = (*TorchCPU)(nil)

// NewTorchCPU returns a generator in the state of
// torch.Generator().manual_seed(seed). torch seeds mt19937 with the low 32
// bits of the 64-bit seed.
func NewTorchCPU(seed uint64) *TorchCPU {
	g := &TorchCPU{next: mtN}
	g.state[0] = uint32(seed)
	for i := 1; i < mtN; i++ {
		prev := g.state[i-1]
		g.state[i] = 1812433253*(prev^(prev>>30)) + uint32(i)
	}
	return g
}

// Uint32 returns the next raw mt19937 output.
func (g *TorchCPU) Uint32() uint32 {
	if g.next >= mtN {
		g.twist()
	}
	y := g.state[g.next]
	g.next++
	y ^= y >> 11
	y ^= (y << 7) & 0x9D2C5680
	y ^= (y << 15) & 0xEFC60000
	y ^= y >> 18
	return y
}

func (g *TorchCPU) twist() {
	s := &g.state
	for i := 0; i < mtN; i++ {
		y := s[i]&mtUpperMask | s[(i+1)%mtN]&mtLowerMask
		v := s[(i+mtM)%mtN] ^ y>>1
		if y&1 != 0 {
			v ^= mtMatrixA
		}
		s[i] = v
	}
	g.next = 0
}

// uniformFloat is at::uniform_real_distribution<float>(0, 1): the low 24 bits
// of one output, scaled by 2^-24.
func (g *TorchCPU) uniformFloat() float32 {
	return float32(g.Uint32()&(1<<24-1)) * (1.0 / (1 << 24))
}

// uniformDouble is at::uniform_real_distribution<double>(0, 1): random64()
// (first output in the high word) masked to 53 bits, scaled by 2^-53.
func (g *TorchCPU) uniformDouble() float64 {
	hi := uint64(g.Uint32())
	lo := uint64(g.Uint32())
	return float64((hi<<32|lo)&(1<<53-1)) * (1.0 / (1 << 53))
}

// normalDouble is at::normal_distribution<double>(0, 1), caching the sine
// half of each Box–Muller pair in the generator.
func (g *TorchCPU) normalDouble() float64 {
	if g.hasCached {
		g.hasCached = false
		return g.cached
	}
	u1 := g.uniformDouble()
	u2 := g.uniformDouble()
	r := math.Sqrt(-2 * math.Log1p(-u2))
	theta := 2 * math.Pi * u1
	g.cached, g.hasCached = r*math.Sin(theta), true
	return r * math.Cos(theta)
}

// Randn fills dst as torch.randn(len(dst), generator=g) does on the CPU for
// float32. Fewer than 16 values use the scalar path (normal_distribution
// <double>, one value per element, cast to float32). 16 or more use
// normal_fill: all uniforms first, then Box–Muller on blocks of 16, and when
// the length is not a multiple of 16 the last 16 values are redrawn from
// fresh uniforms and transformed again.
func (g *TorchCPU) Randn(dst []float32) {
	n := len(dst)
	if n < 16 {
		for i := range dst {
			dst[i] = float32(g.normalDouble())
		}
		return
	}
	for i := range dst {
		dst[i] = g.uniformFloat()
	}
	for i := 0; i+16 <= n; i += 16 {
		normalFill16(dst[i : i+16])
	}
	if n%16 != 0 {
		tail := dst[n-16:]
		for i := range tail {
			tail[i] = g.uniformFloat()
		}
		normalFill16(tail)
	}
}

// normalFill16 is torch's normal_fill_16 for float: element j and j+8 form a
// Box–Muller pair with u1 = 1 − d[j] and u2 = d[j+8]. Each step is rounded to
// float32, as the C++ float arithmetic (logf, sqrtf, cosf, sinf) does.
func normalFill16(d []float32) {
	_ = d[15]
	for j := 0; j < 8; j++ {
		u1 := 1 - d[j]
		u2 := d[j+8]
		lg := float32(math.Log(float64(u1)))
		radius := float32(math.Sqrt(float64(-2 * lg)))
		theta := float32(2 * math.Pi * float64(u2))
		d[j] = radius * float32(math.Cos(float64(theta)))
		d[j+8] = radius * float32(math.Sin(float64(theta)))
	}
}
