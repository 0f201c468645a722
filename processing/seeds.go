package processing

import (
	"crypto/rand"
	"encoding/binary"
)

// maxRandomSeed is the bound of A1111's random.randrange(4294967294).
const maxRandomSeed = 4294967294

// FixedSeed is A1111's get_fixed_seed for a seed the server already turned
// into an integer: -1 becomes a random seed in [0, 4294967294); any other
// value is kept. rnd supplies 32 random bits; nil uses crypto/rand.
func FixedSeed(seed int64, rnd func() uint32) int64 {
	if seed != -1 {
		return seed
	}
	if rnd == nil {
		rnd = cryptoUint32
	}
	// Rejection sampling keeps the draw uniform below the bound.
	for {
		v := rnd()
		if v < maxRandomSeed {
			return int64(v)
		}
	}
}

func cryptoUint32() uint32 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("processing: crypto/rand failed: " + err.Error())
	}
	return binary.LittleEndian.Uint32(b[:])
}

// AllSeeds returns process_images_inner's all_seeds and all_subseeds for n
// images: seed+i (or seed for every image when subseedStrength is not 0)
// and subseed+i.
func AllSeeds(seed, subseed int64, subseedStrength float64, n int) (seeds, subseeds []int64) {
	seeds = make([]int64, n)
	subseeds = make([]int64, n)
	for i := range n {
		seeds[i] = seed
		if subseedStrength == 0 {
			seeds[i] += int64(i)
		}
		subseeds[i] = subseed + int64(i)
	}
	return seeds, subseeds
}

// batchSlice returns xs[n*size:(n+1)*size], clipped to xs, as A1111 slices
// every per-image list for batch n.
func batchSlice[T any](xs []T, n, size int) []T {
	lo := min(n*size, len(xs))
	hi := min((n+1)*size, len(xs))
	return xs[lo:hi]
}
