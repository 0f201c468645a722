package rng

import "math"

// Philox constants (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3").
const (
	philoxM0 = 0xD2511F53
	philoxM1 = 0xCD9E8D57
	philoxW0 = 0x9E3779B9
	philoxW1 = 0xBB67AE85
)

// Box–Muller scale factors as A1111's rng_philox.py holds them: float32
// constants that numpy promotes to float64 when multiplied with uint32 counters.
// They are computed at run time so that the product is rounded to float64
// first and to float32 second, as Python does.
var (
	philoxInv32    = float64(float32(2.3283064e-10))
	philoxInv32Tau = float64(float32(float64(2.3283064e-10) * fpTau))
	fpTau          = 6.2831855
)

// Philox is the "NV" noise source: a CPU imitation of torch's CUDA randn
// (Philox4x32-10 followed by Box–Muller), as in A1111's modules/rng_philox.py.
// The zero value is not useful; use NewPhilox.
type Philox struct {
	seed   uint64
	offset uint32
}

var _ Generator = (*Philox)(nil)

// NewPhilox returns a Philox generator keyed by seed. A1111 uses the full
// 64-bit seed as the key.
func NewPhilox(seed uint64) *Philox {
	return &Philox{seed: seed}
}

// Randn fills dst with standard normal values, as one call of A1111's
// Generator.randn with len(dst) elements: element i comes from the counter
// [offset, 0, i, 0], and the offset advances by one per call.
func (p *Philox) Randn(dst []float32) {
	k0, k1 := uint32(p.seed), uint32(p.seed>>32)
	off := p.offset
	p.offset++
	for i := range dst {
		c0, c1 := philox4x32x10(off, uint32(i), k0, k1)
		u := float64(c0)*philoxInv32 + float64(float32(philoxInv32/2))
		v := float64(c1)*philoxInv32Tau + float64(float32(philoxInv32Tau/2))
		dst[i] = float32(math.Sqrt(-2*math.Log(u)) * math.Sin(v))
	}
}

// philox4x32x10 runs ten Philox rounds on the counter [c0, 0, c2, 0] with key
// [k0, k1] and returns the first two output words (the other two are unused).
func philox4x32x10(c0, c2, k0, k1 uint32) (uint32, uint32) {
	var c1, c3 uint32
	for r := 0; r < 10; r++ {
		if r > 0 {
			k0 += philoxW0
			k1 += philoxW1
		}
		p0 := uint64(c0) * philoxM0
		p2 := uint64(c2) * philoxM1
		c0, c1, c2, c3 = uint32(p2>>32)^c1^k0, uint32(p2), uint32(p0>>32)^c3^k1, uint32(p0)
	}
	return c0, c1
}
