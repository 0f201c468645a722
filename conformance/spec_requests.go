package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// notOptional are the request fields A1111's models declare without
// Optional (models.py additional fields): null gets pydantic's 422.
var notOptional = []struct{ path, field string }{
	{"/txt2img", "sampler_index"}, {"/txt2img", "script_args"}, {"/txt2img", "send_images"},
	{"/txt2img", "save_images"}, {"/txt2img", "alwayson_scripts"},
	{"/img2img", "denoising_strength"}, {"/img2img", "include_init_images"},
}

func (suite *Suite) requestSpecs() {
	Describe("Request bodies as A1111 parses them", func() {
		// Requirement: TXT2IMG-009.
		suite.conformIt("TXT2IMG-009", "accepts an empty or missing prompt", func(ctx SpecContext) {
			g := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"prompt": "", "steps": 2}))
			expectCount(len(g.images), 1, `image for prompt ""`)
			req := suite.smallTxt2Img(map[string]any{"steps": 2})
			delete(req, "prompt")
			g = suite.txt2img(ctx, req)
			expectCount(len(g.images), 1, "image without a prompt")
		})

		// Requirement: ERR-009.
		suite.conformIt("ERR-009", "accepts null for Optional fields and refuses it for the others", func(ctx SpecContext) {
			By("null for the Optional fields")
			nulls := map[string]any{"styles": nil, "seed": nil, "subseed": nil, "sampler_name": nil, "scheduler": nil,
				"eta": nil, "script_name": nil, "override_settings": nil, "steps": 2}
			ex := suite.post(ctx, "/txt2img", suite.smallTxt2Img(nulls))
			if ex.Status != http.StatusOK {
				failf("expected 200 for null in fields A1111 declares Optional (styles, seed, subseed, sampler_name, scheduler, eta, script_name, override_settings), got %s", ex.Seen())
			}
			g := suite.generate(ctx, "/img2img", suite.smallImg2Img(map[string]any{"mask": nil, "steps": 2}))
			expectCount(len(g.images), 1, "img2img image with mask null")

			By("null for the fields A1111 does not declare Optional")
			var wrong []string
			for _, c := range notOptional {
				req := suite.smallTxt2Img(map[string]any{"steps": 2})
				if c.path == "/img2img" {
					req = suite.smallImg2Img(map[string]any{"steps": 2})
				}
				req[c.field] = nil
				ex := suite.call(ctx, Request{Method: http.MethodPost, Path: APIPrefix + c.path, Body: mustJSON(req), Negative: true})
				locs, err := validationDetail(ex)
				if err == nil && !hasLoc(locs, c.field) {
					err = fmt.Errorf("no detail item has loc [\"body\", %q] (locs: %v)", c.field, locs)
				}
				if err != nil {
					wrong = append(wrong, fmt.Sprintf("%s %s: null %v", c.path, c.field, err))
				}
			}
			if len(wrong) > 0 {
				failf("expected 422 naming the field for null in %d fields A1111 does not declare Optional, got another answer for %d: %s",
					len(notOptional), len(wrong), strings.Join(wrong, "; "))
			}
		})

		// Requirement: ERR-010.
		suite.conformIt("ERR-010", "coerces numeric and boolean strings as pydantic v1 does", func(ctx SpecContext) {
			req := suite.smallTxt2Img(map[string]any{"steps": "4", "cfg_scale": "7.5", "restore_faces": "false"})
			ex := suite.post(ctx, "/txt2img", req)
			if ex.Status != http.StatusOK {
				failf(`expected 200 for "steps": "4", "cfg_scale": "7.5", "restore_faces": "false" (pydantic v1 coerces them), got %s`, ex.Seen())
			}
			g := suite.generate(ctx, "/txt2img", req)
			texts := g.infotexts()
			expectCount(len(texts), 1, "infotext")
			p := parseInfotext(texts[0])
			if p["Steps"] != "4" || p["CFG scale"] != "7.5" {
				failf(`expected the coerced values in the infotext (Steps: 4, CFG scale: 7.5), got Steps: %q, CFG scale: %q`, p["Steps"], p["CFG scale"])
			}
		})

		// Requirement: ERR-011.
		suite.conformIt("ERR-011", "parses a body without Content-Type as JSON", func(ctx SpecContext) {
			ex := suite.call(ctx, Request{Method: http.MethodPost, Path: APIPrefix + "/txt2img", Body: mustJSON(suite.smallTxt2Img(map[string]any{"steps": 2})), NoContentType: true})
			if ex.Status != http.StatusOK {
				failf("expected 200 for a JSON body sent without Content-Type (FastAPI 0.94 parses it as JSON), got %s", ex.Seen())
			}
			var body struct {
				Images []string `json:"images"`
			}
			Expect(json.Unmarshal(ex.Body, &body)).To(Succeed(), "expected a TextToImageResponse, got %s", ex.Seen())
			expectCount(len(body.Images), 1, "image")
		})
	})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return b
}
