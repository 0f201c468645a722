package conformance

import (
	"fmt"
	"maps"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// upstreamTxt2Img is simple_txt2img_request of A1111's test/test_txt2img.py,
// field for field (sampler_index included: the tests still send it).
func upstreamTxt2Img(overrides map[string]any) map[string]any {
	req := map[string]any{
		"batch_size": 1, "cfg_scale": 7, "denoising_strength": 0, "enable_hr": false, "eta": 0,
		"firstphase_height": 0, "firstphase_width": 0, "height": 64, "n_iter": 1,
		"negative_prompt": "", "prompt": "example prompt", "restore_faces": false,
		"s_churn": 0, "s_noise": 1, "s_tmax": 0, "s_tmin": 0, "sampler_index": "Euler a",
		"seed": -1, "seed_resize_from_h": -1, "seed_resize_from_w": -1, "steps": 3,
		"styles": []string{}, "subseed": -1, "subseed_strength": 0, "tiling": false, "width": 64,
	}
	maps.Copy(req, overrides)
	return req
}

// upstreamImg2Img is simple_img2img_request of A1111's test/test_img2img.py.
func upstreamImg2Img(overrides map[string]any) map[string]any {
	req := map[string]any{
		"batch_size": 1, "cfg_scale": 7, "denoising_strength": 0.75, "eta": 0, "height": 64,
		"include_init_images": false, "init_images": []string{"data:image/png;base64," + pngBase64(testImage(64, 64, 3))},
		"inpaint_full_res": false, "inpaint_full_res_padding": 0, "inpainting_fill": 0,
		"inpainting_mask_invert": false, "mask": nil, "mask_blur": 4, "n_iter": 1,
		"negative_prompt": "", "override_settings": map[string]any{}, "prompt": "example prompt",
		"resize_mode": 0, "restore_faces": false, "s_churn": 0, "s_noise": 1, "s_tmax": 0, "s_tmin": 0,
		"sampler_index": "Euler a", "seed": -1, "seed_resize_from_h": -1, "seed_resize_from_w": -1,
		"steps": 3, "styles": []string{}, "subseed": -1, "subseed_strength": 0, "tiling": false, "width": 64,
	}
	maps.Copy(req, overrides)
	return req
}

func (suite *Suite) upstreamSpecs() {
	Describe("A1111's own HTTP tests", func() {
		// Requirement: UPSTREAM-001.
		suite.conformIt("UPSTREAM-001", "answers the request bodies of A1111's test_txt2img.py", func(ctx SpecContext) {
			cases := []struct {
				name   string
				body   map[string]any
				images int
				height int
			}{
				{"simple", upstreamTxt2Img(nil), 1, 64},
				{"negative prompt", upstreamTxt2Img(map[string]any{"negative_prompt": "example negative prompt"}), 1, 64},
				{"complex prompt", upstreamTxt2Img(map[string]any{"prompt": "((emphasis)), (emphasis1:1.1), [to:1], [from::2], [from:to:0.3], [alt|alt1]"}), 1, 64},
				{"not square", upstreamTxt2Img(map[string]any{"height": 128}), 1, 128},
				{"hires fix", upstreamTxt2Img(map[string]any{"enable_hr": true}), 1, 128},
				{"tiling", upstreamTxt2Img(map[string]any{"tiling": true}), 1, 64},
				{"batch_size 2", upstreamTxt2Img(map[string]any{"batch_size": 2}), 2, 64},
				{"n_iter 2", upstreamTxt2Img(map[string]any{"n_iter": 2}), 2, 64},
				{"sampler PLMS", upstreamTxt2Img(map[string]any{"sampler_index": "PLMS"}), 1, 64},
				{"sampler DDIM", upstreamTxt2Img(map[string]any{"sampler_index": "DDIM"}), 1, 64},
				{"sampler UniPC", upstreamTxt2Img(map[string]any{"sampler_index": "UniPC"}), 1, 64},
			}
			for _, c := range cases {
				By(c.name)
				g := suite.txt2img(ctx, c.body)
				expectCount(len(g.images), c.images, c.name+": images")
				for i, img := range g.images {
					Expect(img.Bounds().Dy()).To(Equal(c.height), "%s: expected image %d to be %d pixels high, got %d", c.name, i, c.height, img.Bounds().Dy())
				}
				if c.body["tiling"] == true {
					Expect(g.infotexts()).To(HaveEach(ContainSubstring("Tiling: True")), "%s: tiling MUST be applied and recorded, not ignored", c.name)
				}
			}

			By("restore_faces")
			ex := suite.post(ctx, "/txt2img", upstreamTxt2Img(map[string]any{"restore_faces": true}))
			if ex.Status == http.StatusOK {
				g := suite.txt2img(ctx, upstreamTxt2Img(map[string]any{"restore_faces": true, "seed": 1}))
				Expect(g.infotexts()).To(HaveEach(ContainSubstring("Face restoration: ")), "restore_faces accepted but not applied")
				return
			}
			Expect(ex.Status).To(BeNumerically(">=", 400), "restore_faces: %s", ex.Describe())
			Expect(ex.Status).NotTo(Equal(http.StatusUnprocessableEntity), "restore_faces is a valid field: not a validation error\n%s", ex.Describe())
			body := decode[map[string]any](ex)
			for _, k := range []string{"error", "detail", "body", "errors"} {
				Expect(body).To(HaveKey(k), "A1111's error shape\n%s", ex.Describe())
			}
			Expect(strings.ToLower(fmt.Sprint(body["detail"], " ", body["errors"]))).To(ContainSubstring("face"), "the error MUST name face restoration\n%s", ex.Describe())
		})

		// Requirement: UPSTREAM-002.
		suite.conformIt("UPSTREAM-002", "answers the request bodies of A1111's test_img2img.py", func(ctx SpecContext) {
			mask := "data:image/png;base64," + pngBase64(maskImage(64, 64))
			cases := []struct {
				name string
				body map[string]any
				size int
			}{
				{"simple", upstreamImg2Img(nil), 64},
				{"inpainting masked", upstreamImg2Img(map[string]any{"mask": mask}), 64},
				{"inpainting with inverted mask", upstreamImg2Img(map[string]any{"mask": mask, "inpainting_mask_invert": true}), 64},
				{"sd upscale", upstreamImg2Img(map[string]any{"script_name": "sd upscale", "script_args": []any{"", 8, "Lanczos", 2.0}}), 128},
			}
			for _, c := range cases {
				By(c.name)
				g := suite.generate(ctx, "/img2img", c.body)
				expectCount(len(g.images), 1, c.name+": image")
				Expect(g.images[0].Bounds().Dx()).To(Equal(c.size), "%s: expected an image %d pixels wide, got %d", c.name, c.size, g.images[0].Bounds().Dx())
			}
		})
	})
}
