package scripts

import "math/bits"

// pcg64 is numpy's default_rng(seed) bit generator: PCG64 (128-bit LCG,
// XSL-RR output) seeded through SeedSequence, so that Outpainting mk2's
// noise (rng = np.random.default_rng(0)) is numpy's, number for number.
type pcg64 struct {
	hi, lo       uint64 // state
	incHi, incLo uint64 // increment (odd)
}

// PCG_DEFAULT_MULTIPLIER_128.
const (
	pcgMultHi = 2549297995355413924
	pcgMultLo = 4865540595714422341
)

// newNumpyRNG is np.random.default_rng(seed) for a non-negative seed
// below 2³².
func newNumpyRNG(seed uint32) *pcg64 {
	st := seedSequenceState(seed, 4) // generate_state(4, np.uint64)
	r := &pcg64{}
	// pcg64_set_seed: state = seed[0]<<64 | seed[1], inc = inc[0]<<64 | inc[1].
	initHi, initLo := st[0], st[1]
	seqHi, seqLo := st[2], st[3]
	// pcg_setseq_128_srandom_r: inc = initseq<<1 | 1; state = 0; step;
	// state += initstate; step.
	r.incHi = seqHi<<1 | seqLo>>63
	r.incLo = seqLo<<1 | 1
	r.step()
	var c uint64
	r.lo, c = bits.Add64(r.lo, initLo, 0)
	r.hi, _ = bits.Add64(r.hi, initHi, c)
	r.step()
	return r
}

// step is state = state·MULT + inc (mod 2¹²⁸).
func (r *pcg64) step() {
	hi, lo := bits.Mul64(r.lo, pcgMultLo)
	hi += r.hi*pcgMultLo + r.lo*pcgMultHi
	var c uint64
	lo, c = bits.Add64(lo, r.incLo, 0)
	hi, _ = bits.Add64(hi, r.incHi, c)
	r.hi, r.lo = hi, lo
}

// next64 is pcg64_next64: step, then XSL-RR of the new state.
func (r *pcg64) next64() uint64 {
	r.step()
	return bits.RotateLeft64(r.hi^r.lo, -int(r.hi>>58))
}

// random is Generator.random(): (next64 >> 11) · 2⁻⁵³.
func (r *pcg64) random() float64 {
	return float64(r.next64()>>11) * (1.0 / 9007199254740992.0)
}

// SeedSequence constants (numpy/random/bit_generator.pyx).
const (
	ssInitA    = 0x43b0d7e5
	ssMultA    = 0x931e8875
	ssInitB    = 0x8b51f9dd
	ssMultB    = 0x58f38ded
	ssMixMultL = 0xca01f9dd
	ssMixMultR = 0x4973f715
	ssXShift   = 16
	ssPoolSize = 4
)

// seedSequenceState is SeedSequence(entropy).generate_state(n, np.uint64)
// for an entropy below 2³² (one uint32 word; 0 is the word 0).
func seedSequenceState(entropy uint32, n int) []uint64 {
	hashConst := uint32(ssInitA)
	hashmix := func(v uint32) uint32 {
		v ^= hashConst
		hashConst *= ssMultA
		v *= hashConst
		return v ^ v>>ssXShift
	}
	mix := func(x, y uint32) uint32 {
		r := ssMixMultL*x - ssMixMultR*y
		return r ^ r>>ssXShift
	}
	entropyWords := []uint32{entropy}
	var pool [ssPoolSize]uint32
	for i := range pool {
		if i < len(entropyWords) {
			pool[i] = hashmix(entropyWords[i])
		} else {
			pool[i] = hashmix(0)
		}
	}
	for src := range pool {
		for dst := range pool {
			if src != dst {
				pool[dst] = mix(pool[dst], hashmix(pool[src]))
			}
		}
	}
	words := make([]uint32, 2*n)
	hc := uint32(ssInitB)
	for i := range words {
		v := pool[i%ssPoolSize]
		v ^= hc
		hc *= ssMultB
		v *= hc
		words[i] = v ^ v>>ssXShift
	}
	out := make([]uint64, n) // the uint32 words viewed as little-endian uint64
	for i := range out {
		out[i] = uint64(words[2*i]) | uint64(words[2*i+1])<<32
	}
	return out
}
