package conformance

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func (suite *Suite) infotextSpecs() {
	Describe("Infotext and PNG metadata", func() {
		// Requirement: INFO-001.
		suite.conformIt("INFO-001", "writes infotexts that parse back to the request and each image's seed", func(ctx SpecContext) {
			req := suite.smallTxt2Img(map[string]any{"seed": 321, "batch_size": 2, "steps": 2, "cfg_scale": 6.5,
				"prompt": "a cat, sitting: on a mat", "negative_prompt": "dogs\nsecond line"})
			g := suite.txt2img(ctx, req)
			texts := g.infotexts()
			seeds := g.infoInts("all_seeds")
			Expect(texts).To(HaveLen(2))
			for i, t := range texts {
				p := parseInfotext(t)
				Expect(p).To(HaveKeyWithValue("Prompt", req["prompt"]), "infotext %d: %q", i, t)
				Expect(p).To(HaveKeyWithValue("Negative prompt", req["negative_prompt"]), "infotext %d: %q", i, t)
				Expect(p).To(HaveKeyWithValue("Steps", "2"), "infotext %d: %q", i, t)
				Expect(p).To(HaveKeyWithValue("Sampler", req["sampler_name"]), "infotext %d: %q", i, t)
				Expect(p).To(HaveKeyWithValue("CFG scale", "6.5"), "infotext %d: %q", i, t)
				Expect(p).To(HaveKeyWithValue("Size-1", fmt.Sprint(smallSize)), "infotext %d: %q", i, t)
				Expect(p).To(HaveKeyWithValue("Size-2", fmt.Sprint(smallSize)), "infotext %d: %q", i, t)
				Expect(p).To(HaveKeyWithValue("Seed", fmt.Sprint(seeds[i])), "infotext %d MUST carry all_seeds[%d]: %q", i, i, t)
			}
		})

		// Requirement: INFO-002.
		suite.conformIt("INFO-002", "embeds each infotext as the PNG's parameters chunk", func(ctx SpecContext) {
			g := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"seed": 654, "batch_size": 2, "steps": 2}))
			texts := g.infotexts()
			Expect(g.pngs).To(HaveLen(len(texts)))
			for i, raw := range g.pngs {
				chunks, err := pngTextChunks(raw)
				Expect(err).NotTo(HaveOccurred(), "image %d", i)
				Expect(chunks).To(HaveKeyWithValue("parameters", texts[i]), "image %d's parameters chunk MUST equal infotexts[%d]", i, i)
			}
		})

		// Requirement: INFO-003.
		suite.conformIt("INFO-003", "reads a returned PNG's infotext back through png-info", func(ctx SpecContext) {
			g := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"seed": 987}))
			texts := g.infotexts()
			ex := suite.post(ctx, "/png-info", map[string]any{"image": encodeB64(g.pngs[0])})
			expectStatus(ex, 200)
			body := decode[struct {
				Info       string         `json:"info"`
				Parameters map[string]any `json:"parameters"`
			}](ex)
			Expect(body.Info).To(Equal(texts[0]))
			Expect(body.Parameters).To(HaveKeyWithValue("Seed", "987"))
			Expect(body.Parameters).To(HaveKeyWithValue("Steps", fmt.Sprint(smallSteps)))
		})

		// Requirement: PNG-001.
		suite.conformIt("PNG-001", "answers info \"\" for a PNG without metadata", func(ctx SpecContext) {
			ex := suite.post(ctx, "/png-info", map[string]any{"image": pngBase64(testImage(16, 16, 2))})
			expectStatus(ex, 200)
			Expect(decode[map[string]any](ex)).To(HaveKeyWithValue("info", ""))
		})

		// Requirement: PNG-002.
		suite.conformIt("PNG-002", "parses a parameters chunk as A1111 does", func(ctx SpecContext) {
			text := "a lighthouse, at dusk\nNegative prompt: fog\nSteps: 7, Sampler: Euler a, CFG scale: 6, Seed: 12345, Size: 48x32, Model: \"x, y\""
			img := withTextChunk(encodePNG(testImage(48, 32, 4)), "parameters", text)
			ex := suite.post(ctx, "/png-info", map[string]any{"image": "data:image/png;base64," + encodeB64(img)})
			expectStatus(ex, 200)
			body := decode[struct {
				Info       string         `json:"info"`
				Parameters map[string]any `json:"parameters"`
			}](ex)
			Expect(body.Info).To(Equal(text))
			want := map[string]any{"Prompt": "a lighthouse, at dusk", "Negative prompt": "fog", "Steps": "7", "Sampler": "Euler a",
				"CFG scale": "6", "Seed": "12345", "Size-1": "48", "Size-2": "32", "Model": "x, y", "Clip skip": "1"}
			var bad []string
			for k, v := range want {
				if body.Parameters[k] != v {
					bad = append(bad, fmt.Sprintf("%s = %#v, want %#v", k, body.Parameters[k], v))
				}
			}
			Expect(bad).To(BeEmpty(), "parameters differ from parse_generation_parameters:\n%s", strings.Join(bad, "\n"))
		})
	})
}
