package sampling

import (
	"context"
	"testing"
)

// BenchmarkStep measures the per-step sampler math (no model) on one 4×64×64
// latent: the denoiser hands back a precomputed latent. ns/step is per sampler
// step (second-order samplers do two denoiser calls per step).
func BenchmarkStep(b *testing.B) {
	s := SD1()
	const steps = 10
	x0 := randLatent(1, 1, 4, 64, 64)
	fixed := randLatent(2, 1, 4, 64, 64)
	den := DenoiserFunc(func(context.Context, Latent, float64) (Latent, error) { return fixed, nil })
	eps := EpsPredictorFunc(func(context.Context, Latent, float64) (Latent, error) { return fixed, nil })
	for _, sm := range Samplers() {
		b.Run(sm.Name, func(b *testing.B) {
			noise := seededNoise(3, 1)
			o := sm.DefaultOptions()
			sigmas, _ := sm.Sigmas(steps, "Automatic", s, SigmaParams{})
			ts := DDIMTimesteps(steps+1, false)
			var err error
			for b.Loop() {
				if sm.UsesTimesteps() {
					_, err = sm.SampleT(b.Context(), eps, x0, ts, s, noise, o)
				} else {
					_, err = sm.SampleK(b.Context(), den, x0, sigmas, noise, o)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*steps), "ns/step")
		})
	}
}
