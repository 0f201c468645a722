package runnertest

import (
	"image"
	"image/color"

	"github.com/sdapi/sdapi/runner"
)

// The painters differ in what a test can read back from a pixel: the
// seed's pattern over position (images that differ everywhere, for
// encoders and previews), or one solid colour whose channels name the
// seed and the batch index or the step count (for tests that trace which
// request made which image of a grid).

// SeedPattern paints each image as SeedImage of its seed.
func SeedPattern(req runner.Request) runner.Result {
	var res runner.Result
	for i := range req.Prompts {
		res.Images = append(res.Images, SeedImage(req.Seeds[i], req.Width, req.Height))
	}
	return res
}

// SeedImage is a w×h pattern of the seed's low three bytes and the pixel
// position.
func SeedImage(seed int64, w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	s := uint32(seed)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := img.PixOffset(x, y)
			img.Pix[o] = uint8(s) + uint8(x)
			img.Pix[o+1] = uint8(s>>8) + uint8(y)
			img.Pix[o+2] = uint8(s>>16) ^ uint8(x+y)
			img.Pix[o+3] = 255
		}
	}
	return img
}

// SolidByIndex paints image i solid (seed, 40·i, 99) and, when the request
// asks for latents, returns Latent of its seed too.
func SolidByIndex(req runner.Request) runner.Result {
	var res runner.Result
	for i := range req.Prompts {
		res.Images = append(res.Images, solid(req.Width, req.Height, color.RGBA{uint8(req.Seeds[i]), uint8(i * 40), 99, 255}))
		if req.ReturnLatents {
			res.Latents = append(res.Latents, Latent(req.Seeds[i], req.Width/8, req.Height/8))
		}
	}
	return res
}

// SolidBySteps paints image i solid (seed, steps, 99).
func SolidBySteps(req runner.Request) runner.Result {
	var res runner.Result
	for i := range req.Prompts {
		res.Images = append(res.Images, solid(req.Width, req.Height, color.RGBA{uint8(req.Seeds[i]), uint8(req.Steps), 99, 255}))
	}
	return res
}

func solid(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for p := 0; p < len(img.Pix); p += 4 {
		img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = c.R, c.G, c.B, c.A
	}
	return img
}

// Latent is a [4, h, w] latent that varies along both axes and with the
// seed, so interpolation and cropping show in its values.
func Latent(seed int64, w, h int) []float32 {
	lat := make([]float32, 4*h*w)
	for c := range 4 {
		for y := range h {
			for x := range w {
				lat[(c*h+y)*w+x] = float32(seed%100)/10 + float32(c) - float32(x*x)/float32(w) + float32(y)/3
			}
		}
	}
	return lat
}
