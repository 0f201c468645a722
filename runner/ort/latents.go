package ort

import (
	"math"

	"github.com/sdapi/sdapi/runner"
)

// validateLatents checks runner.Init.Latents: one per batch entry or one
// for all, each [4, Height/8, Width/8]. Latents replace the images, and
// inpainting needs the image for its overlay, so neither may come along.
func validateLatents(req *runner.Request) error {
	in, b := req.Init, len(req.Prompts)
	per := 4 * (req.Height / 8) * (req.Width / 8)
	switch {
	case len(in.Images) != 0:
		return invalid("init latents and %d init images: give one or the other", len(in.Images))
	case in.Mask != nil:
		return invalid("init latents with a mask: inpainting needs init images")
	case len(in.Latents) != 1 && len(in.Latents) != b:
		return invalid("%d init latents for %d prompts", len(in.Latents), b)
	}
	for i, lat := range in.Latents {
		if len(lat) != per {
			return invalid("init latent %d has %d values, want 4×%d×%d = %d", i, len(lat), req.Height/8, req.Width/8, per)
		}
		for _, v := range lat {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return invalid("init latent %d is not finite", i)
			}
		}
	}
	return nil
}

// splitLatents hands out the batch's sampled latents per image. They are
// views of x, which the job no longer writes once sampling is done, so
// nothing is copied; the capacity is capped so an append cannot reach the
// next image.
func splitLatents(x []float32, b int) [][]float32 {
	per := len(x) / b
	out := make([][]float32, b)
	for i := range out {
		out[i] = x[i*per : (i+1)*per : (i+1)*per]
	}
	return out
}

// img2imgSteps is A1111's setup_img2img_steps: the schedule length and
// t_enc for a strength. With exact steps (the hires pass passes its steps)
// exactly steps steps run at the tail of a longer schedule.
func img2imgSteps(steps int, strength float64, exact bool) (total, tEnc int) {
	s := math.Min(strength, 0.999)
	if !exact {
		return steps, int(s * float64(steps))
	}
	if strength <= 0 {
		return 0, steps - 1
	}
	return int(float64(steps) / s), steps - 1
}
