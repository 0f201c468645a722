package conformance

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func (suite *Suite) txt2imgSpecs() {
	Describe("POST /sdapi/v1/txt2img", func() {
		// Requirement: TXT2IMG-001.
		suite.conformIt("TXT2IMG-001", "answers plain base64 PNG images, parameters and a JSON info string", func(ctx SpecContext) {
			g := suite.txt2img(ctx, suite.smallTxt2Img(nil))
			expectCount(len(g.pngs), 1, "image")
			Expect(string(g.pngs[0][:8])).To(Equal("\x89PNG\r\n\x1a\n"), "expected a PNG image (samples_format png), got another format")
			Expect(g.params).NotTo(BeNil(), "parameters MUST be an object")
			Expect(g.info).NotTo(BeNil(), "info MUST be a JSON object encoded as a string, got %q", truncate(g.infoRaw, 200))
		})

		// Requirement: TXT2IMG-002.
		suite.conformIt("TXT2IMG-002", "returns images of exactly width×height", func(ctx SpecContext) {
			g := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"width": 2 * smallSize, "height": smallSize}))
			expectCount(len(g.images), 1, "image")
			expectImageSize(g.images[0], 2*smallSize, smallSize, "the image")
		})

		// Requirement: TXT2IMG-003.
		suite.conformIt("TXT2IMG-003", "writes steps, CFG scale and sampler into the infotext", func(ctx SpecContext) {
			req := suite.smallTxt2Img(map[string]any{"steps": 4, "cfg_scale": 5.5})
			g := suite.txt2img(ctx, req)
			texts := g.infotexts()
			expectCount(len(texts), 1, "infotext")
			p := parseInfotext(texts[0])
			Expect(p).To(HaveKeyWithValue("Steps", "4"), "infotext: %q", texts[0])
			Expect(p).To(HaveKeyWithValue("CFG scale", "5.5"), "infotext: %q", texts[0])
			Expect(p).To(HaveKeyWithValue("Sampler", req["sampler_name"]), "infotext: %q", texts[0])
		})

		// Requirement: TXT2IMG-004.
		suite.conformIt("TXT2IMG-004", "echoes the request in parameters", func(ctx SpecContext) {
			req := suite.smallTxt2Img(map[string]any{"seed": 4242})
			g := suite.txt2img(ctx, req)
			for _, k := range []string{"prompt", "negative_prompt", "steps", "width", "height", "seed", "cfg_scale"} {
				want, _ := json.Marshal(req[k])
				got, _ := json.Marshal(g.params[k])
				Expect(string(got)).To(MatchJSON(string(want)), "expected parameters.%s to echo %s, got %s", k, want, shorten(string(got), 80))
			}
		})

		// Requirement: TXT2IMG-005.
		suite.conformIt("TXT2IMG-005", "describes the generation in info", func(ctx SpecContext) {
			g := suite.txt2img(ctx, suite.smallTxt2Img(nil))
			Expect(g.info).NotTo(BeNil(), "info MUST be a JSON object string")
			for _, k := range []string{"prompt", "all_prompts", "negative_prompt", "seed", "all_seeds", "subseed", "all_subseeds",
				"width", "height", "sampler_name", "cfg_scale", "steps", "batch_size", "infotexts", "index_of_first_image", "job_timestamp"} {
				Expect(g.info).To(HaveKey(k), "info lacks %q", k)
			}
			Expect(g.infoInt("width")).To(BeEquivalentTo(smallSize))
			Expect(g.infoInt("steps")).To(BeEquivalentTo(smallSteps))
			Expect(g.info["prompt"]).To(Equal(suite.smallTxt2Img(nil)["prompt"]))
			Expect(g.infotexts()).To(HaveLen(len(g.images)), "one infotext per image")
		})

		// Requirement: TXT2IMG-006.
		suite.conformIt("TXT2IMG-006", "accepts unknown keys, nulls and an unknown sampler name", func(ctx SpecContext) {
			By("unknown keys and null fields")
			suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"sdapi_conform_unknown": true, "styles": nil, "eta": nil, "override_settings": nil, "scheduler": nil}))
			By("an unknown sampler name")
			suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"sampler_name": "sdapi-conform no such sampler"}))
		})

		// Requirement: TXT2IMG-007.
		suite.conformIt("TXT2IMG-007", "returns batch_size×n_iter images", func(ctx SpecContext) {
			g := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"batch_size": 2, "n_iter": 2, "steps": 2}))
			expectCount(len(g.images), 4, "images (batch_size 2 × n_iter 2)")
			expectCount(len(g.infoInts("all_seeds")), 4, "info.all_seeds entries (batch_size 2 × n_iter 2)")
		})

		// Requirement: TXT2IMG-008.
		suite.conformIt("TXT2IMG-008", "returns no images with send_images false", func(ctx SpecContext) {
			g := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"send_images": false}))
			expectCount(len(g.images), 0, "images with send_images false")
			Expect(g.info).To(HaveKey("seed"))
		})
	})
}
