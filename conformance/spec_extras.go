package conformance

import (
	"bytes"
	"encoding/base64"
	"image"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func (suite *Suite) decodeB64Image(s string) image.Image {
	raw, err := base64.StdEncoding.DecodeString(s)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "the image MUST be plain base64")
	img, _, err := image.Decode(bytes.NewReader(raw))
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "the image MUST decode")
	suite.keepImage("extras", img)
	return img
}

func (suite *Suite) extrasSpecs() {
	Describe("Extras", func() {
		// Requirement: EXTRAS-001.
		suite.conformIt("EXTRAS-001", "upscales a single image by upscaling_resize", func(ctx SpecContext) {
			ex := suite.post(ctx, "/extra-single-image", map[string]any{"image": pngBase64(testImage(32, 24, 5)), "upscaling_resize": 2, "upscaler_1": "Lanczos"})
			expectStatus(ex, 200)
			body := decode[struct {
				Image string `json:"image"`
			}](ex)
			img := suite.decodeB64Image(body.Image)
			expectImageSize(img, 64, 48, "the upscaled image")
		})

		// Requirement: EXTRAS-002.
		suite.conformIt("EXTRAS-002", "resizes a single image to upscaling_resize_w×h", func(ctx SpecContext) {
			ex := suite.post(ctx, "/extra-single-image", map[string]any{"image": pngBase64(testImage(32, 32, 6)), "resize_mode": 1,
				"upscaling_resize_w": 80, "upscaling_resize_h": 48, "upscaling_crop": true, "upscaler_1": "Lanczos"})
			expectStatus(ex, 200)
			body := decode[struct {
				Image string `json:"image"`
			}](ex)
			expectImageSize(suite.decodeB64Image(body.Image), 80, 48, "the resized image")
		})

		// Requirement: EXTRAS-003.
		suite.conformIt("EXTRAS-003", "upscales every image of a batch", func(ctx SpecContext) {
			ex := suite.post(ctx, "/extra-batch-images", map[string]any{"upscaling_resize": 2, "upscaler_1": "Lanczos", "imageList": []map[string]any{
				{"data": pngBase64(testImage(16, 16, 1)), "name": "a.png"}, {"data": pngBase64(testImage(24, 16, 2)), "name": "b.png"},
			}})
			expectStatus(ex, 200)
			body := decode[struct {
				Images []string `json:"images"`
			}](ex)
			expectCount(len(body.Images), 2, "images (one per imageList entry)")
			expectImageSize(suite.decodeB64Image(body.Images[0]), 32, 32, "image 0")
			expectImageSize(suite.decodeB64Image(body.Images[1]), 48, 32, "image 1")
		})
	})
}
