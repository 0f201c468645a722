package rng_test

import (
	"fmt"

	"github.com/sdapi/sdapi/runner/rng"
)

func ExampleNew() {
	// One 512x512 image (a 4x64x64 latent) with seed 0 on the default GPU
	// source, which is served by the Philox (NV) imitation of CUDA randn.
	r, err := rng.New(rng.GPU, rng.Shape{C: 4, H: 64, W: 64}, rng.Batch{Seeds: []int64{0}})
	if err != nil {
		panic(err)
	}
	x := r.Next() // initial latent noise; later Next calls give sampler noise
	fmt.Printf("%d %.4f %.4f %.4f\n", len(x), x[0], x[1], x[2])
	// Output: 16384 -0.9247 -0.4253 -2.6438
}
