package ort

import (
	"image"

	"github.com/sdapi/sdapi/runner/sampling"
)

// cheapCoeffs are A1111's "Approx cheap" latent→RGB coefficients for SD1/SD2
// (sd_vae_approx.cheap_approximation): row = latent channel, column = R, G, B.
var cheapCoeffs = [4][3]float32{
	{0.298, 0.207, 0.208},
	{0.187, 0.286, 0.173},
	{-0.158, 0.189, 0.264},
	{-0.184, -0.271, -0.473},
}

// cheapPreviews converts b latents [4, h, w] to latent-sized RGB previews
// as A1111's single_sample_to_image does with the cheap approximation:
// x·0.5 + 0.5, clamped, 255·x truncated.
func cheapPreviews(x sampling.Latent, b, h, w int) []image.Image {
	out := make([]image.Image, b)
	plane := h * w
	for i := range b {
		lat := x.Data[i*4*plane : (i+1)*4*plane]
		rgb := make([]float32, 3*plane)
		for k := range plane {
			for c := range 3 {
				var v float32
				for l := range 4 {
					v += lat[l*plane+k] * cheapCoeffs[l][c]
				}
				rgb[c*plane+k] = v
			}
		}
		out[i] = planarToNRGBA(rgb, h, w, func(v float32) float32 { return v*0.5 + 0.5 })
	}
	return out
}
