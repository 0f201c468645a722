package imagemeta_test

import (
	"image"
	"math/rand/v2"
	"testing"

	"github.com/sdapi/sdapi/processing/imagemeta"
)

// BenchmarkEncodePNG is the PNG share of a txt2img response for one 512²
// image with A1111-sized infotext: noise-like pixels, as a random-weight
// model produces, are the worst case for the compressor.
func BenchmarkEncodePNG(b *testing.B) {
	img := image.NewNRGBA(image.Rect(0, 0, 512, 512))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.Uint32())
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	text := []imagemeta.Text{{Key: "parameters", Value: "a lighthouse at dusk\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 42, Size: 512x512, Model hash: 0123456789, Model: tiny, Version: v1.10.1"}}
	b.SetBytes(int64(len(img.Pix)))
	for b.Loop() {
		if _, err := imagemeta.EncodePNG(img, text); err != nil {
			b.Fatal(err)
		}
	}
}
