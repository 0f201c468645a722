// Package rng produces initial and sampler noise the way AUTOMATIC1111's
// stable-diffusion-webui (v1.10) does, so that a seed gives the same latent
// noise as in A1111.
//
// Two generators are provided: Philox (A1111's "NV" source, a CPU imitation
// of torch's CUDA randn from modules/rng_philox.py) and TorchCPU (the "CPU"
// source, torch's CPU mt19937 randn). A1111's default "GPU" source is torch's
// CUDA randn, which NV imitates, so GPU maps to Philox here. ImageRNG adds
// A1111's per-image seeding, variation seeds and seed resizing
// (modules/rng.py).
package rng

import (
	"errors"
	"fmt"
)

// Source names a noise source, with the values of A1111's randn_source
// option.
type Source string

// The noise sources of A1111's randn_source option.
const (
	GPU Source = "GPU" // torch CUDA randn; served by the Philox imitation
	CPU Source = "CPU" // torch CPU randn (mt19937)
	NV  Source = "NV"  // Philox4x32-10 + Box–Muller (rng_philox.py)
)

// ErrUnknownSource is returned for a Source other than GPU, CPU and NV.
var ErrUnknownSource = errors.New("unknown randn source")

// ErrInvalidShape is returned for a noise shape with a non-positive
// dimension or without seeds.
var ErrInvalidShape = errors.New("invalid noise shape")

// ParseSource returns the Source named s ("GPU", "CPU" or "NV"), or an error
// wrapping ErrUnknownSource.
func ParseSource(s string) (Source, error) {
	switch src := Source(s); src {
	case GPU, CPU, NV:
		return src, nil
	default:
		return "", fmt.Errorf("%w: %q", ErrUnknownSource, s)
	}
}

// Generator is a seeded stream of standard normal float32 values.
type Generator interface {
	// Randn fills dst with the values of one randn call of len(dst)
	// elements; consecutive calls continue the stream as consecutive randn
	// calls on one torch (or rng_philox) generator do.
	Randn(dst []float32)
}

// NewGenerator returns a fresh generator for src seeded with seed, like
// A1111's rng.create_generator. The seed is taken as the unsigned 64-bit
// value torch and numpy see: negative seeds wrap modulo 2^64.
func NewGenerator(src Source, seed int64) (Generator, error) {
	switch src {
	case GPU, NV:
		return NewPhilox(uint64(seed)), nil
	case CPU:
		return NewTorchCPU(uint64(seed)), nil
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownSource, string(src))
	}
}

// Randn returns the first n values of a fresh generator for src and
// seed, like A1111's rng.randn_local(seed, shape) with n elements.
func Randn(src Source, seed int64, n int) ([]float32, error) {
	g, err := NewGenerator(src, seed)
	if err != nil {
		return nil, err
	}
	out := make([]float32, n)
	g.Randn(out)
	return out, nil
}
