package conformance

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// listedSampler is one /samplers entry.
type listedSampler struct {
	Name    string   `json:"name"`
	Aliases []string `json:"aliases"`
}

// names reports whether s is this sampler's name or one of its aliases,
// without regard to case.
func (l listedSampler) names(s string) bool {
	return strings.EqualFold(s, l.Name) || slices.ContainsFunc(l.Aliases, func(a string) bool { return strings.EqualFold(s, a) })
}

// samplersToAsk picks up to two listed samplers a fallback cannot fake:
// never the first one (A1111 1.10 falls back to samplers[0]) nor one named
// "default", preferring common names.
func samplersToAsk(list []listedSampler) []listedSampler {
	var out []listedSampler
	for _, want := range []string{"Euler a", "Euler", "Heun", "LMS", "DDIM"} {
		for i, l := range list {
			if i > 0 && len(out) < 2 && l.names(want) && !strings.EqualFold(l.Name, "default") {
				out = append(out, l)
			}
		}
	}
	for i, l := range list {
		if i > 0 && len(out) < 2 && !strings.EqualFold(l.Name, "default") && !slices.ContainsFunc(out, func(o listedSampler) bool { return o.Name == l.Name }) {
			out = append(out, l)
		}
	}
	return out
}

// refused reports whether ex is an honest refusal: an error status that is
// not a validation error of a valid field.
func refused(ex *Exchange) bool {
	return ex.Status >= 400 && ex.Status != http.StatusUnprocessableEntity
}

func (suite *Suite) effectsSpecs() {
	Describe("Requests take effect", func() {
		// Requirement: TXT2IMG-012.
		suite.conformIt("TXT2IMG-012", "names the sampler that was asked for", func(ctx SpecContext) {
			list := decode[[]listedSampler](suite.get(ctx, "/samplers"))
			ask := samplersToAsk(list)
			if len(ask) == 0 {
				Skip(fmt.Sprintf("/samplers lists %d sampler(s): none that a fallback to the first could not fake", len(list)))
			}
			for _, s := range ask {
				g := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"sampler_name": s.Name, "steps": 2}))
				got, _ := g.info["sampler_name"].(string)
				if !s.names(got) {
					failf("expected info.sampler_name to name the sampler asked for, %q (aliases %v), got %q", s.Name, s.Aliases, got)
				}
				texts := g.infotexts()
				expectCount(len(texts), 1, "infotext")
				if txt := parseInfotext(texts[0])["Sampler"]; !s.names(txt) {
					failf("expected the infotext's Sampler: to name the sampler asked for, %q, got %q", s.Name, txt)
				}
			}
		})

		// Requirement: TXT2IMG-013.
		suite.conformIt("TXT2IMG-013", "applies tiling, restore_faces and override_settings or refuses them", Serial, func(ctx SpecContext) {
			base := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"seed": 4321}))
			expectCount(len(base.images), 1, "image")

			By("tiling")
			req := suite.smallTxt2Img(map[string]any{"seed": 4321, "tiling": true})
			if ex := suite.post(ctx, "/txt2img", req); !refused(ex) {
				g := suite.decodeGen(ex, "/txt2img", req)
				expectCount(len(g.images), 1, "image")
				if diffImages(base.images[0], g.images[0]).Exact {
					failf("expected tiling true to change the image (A1111 makes every convolution circular), got the same pixels as without tiling")
				}
				Expect(g.infotexts()).To(HaveEach(ContainSubstring("Tiling: True")), "expected the infotext to record Tiling: True")
			}

			By("restore_faces")
			req = suite.smallTxt2Img(map[string]any{"seed": 4321, "restore_faces": true})
			if ex := suite.post(ctx, "/txt2img", req); !refused(ex) {
				g := suite.decodeGen(ex, "/txt2img", req)
				Expect(g.infotexts()).To(HaveEach(ContainSubstring("Face restoration: ")), "expected restore_faces true to be applied and recorded as Face restoration: in the infotext, or refused")
			}

			By("override_settings CLIP_stop_at_last_layers")
			// Clip skip 1 against 3, both explicit so the server's own options
			// do not matter, with sdxl_clip_l_skip on: A1111 1.10 ignores clip
			// skip on SDXL without it (CLIP-L fixed at its penultimate layer,
			// which is what skip 2 would give), so 3 is the value that differs
			// for every family.
			clipReq := func(skip int) map[string]any {
				return suite.smallTxt2Img(map[string]any{"seed": 4321, "override_settings": map[string]any{
					"CLIP_stop_at_last_layers": skip, "sdxl_clip_l_skip": true,
				}})
			}
			req = clipReq(3)
			if ex := suite.post(ctx, "/txt2img", req); !refused(ex) {
				g := suite.decodeGen(ex, "/txt2img", req)
				expectCount(len(g.images), 1, "image")
				texts := g.infotexts()
				if got := parseInfotext(texts[0])["Clip skip"]; got != "3" {
					failf("expected override_settings CLIP_stop_at_last_layers 3 to be recorded as Clip skip: 3, got Clip skip %q", got)
				}
				one := suite.txt2img(ctx, clipReq(1))
				expectCount(len(one.images), 1, "image")
				if diffImages(one.images[0], g.images[0]).Exact {
					failf("expected Clip skip 3 to change the image from Clip skip 1 (A1111 conditions on an earlier CLIP layer; on SDXL with sdxl_clip_l_skip, CLIP-L's), got the same pixels")
				}
			}
		})
	})
}
