package conformance

import (
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("POST /sdapi/v1/img2img", func() {
	// Requirement: IMG2IMG-001. An init image and a mask MUST give 200 with
	// width×height images (api.py img2imgapi; test_img2img.py with mask).
	conformIt("IMG2IMG-001", "inpaints an init image under a mask", func(ctx SpecContext) {
		g := generate(ctx, "/img2img", smallImg2Img(map[string]any{
			"mask": pngBase64(maskImage(smallSize, smallSize)), "mask_blur": 2, "inpainting_fill": 1, "batch_size": 2, "steps": 2,
		}))
		Expect(g.images).To(HaveLen(2))
		for i, img := range g.images {
			Expect(img.Bounds().Dx()).To(Equal(smallSize), "image %d width", i)
			Expect(img.Bounds().Dy()).To(Equal(smallSize), "image %d height", i)
		}
	})

	// Requirement: IMG2IMG-002. Init images as data: URIs MUST be accepted
	// (decode_base64_to_image strips the prefix; upstream tests send it).
	conformIt("IMG2IMG-002", "accepts data: URI init images", func(ctx SpecContext) {
		g := generate(ctx, "/img2img", smallImg2Img(map[string]any{
			"init_images": []string{"data:image/png;base64," + pngBase64(testImage(smallSize, smallSize, 9))},
		}))
		Expect(g.images).To(HaveLen(1))
	})

	// Requirement: IMG2IMG-003. Without init_images img2img MUST answer 404
	// 'Init image not found' in A1111's error shape.
	conformIt("IMG2IMG-003", "refuses a request without init images with 404", func(ctx SpecContext) {
		req := smallImg2Img(nil)
		delete(req, "init_images")
		ex := post(ctx, "/img2img", req)
		expectStatus(ex, http.StatusNotFound)
		body := decode[map[string]any](ex)
		Expect(body).To(HaveKeyWithValue("detail", "Init image not found"))
		Expect(body).To(HaveKey("error"))
	})
})
