package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// getOptions reads GET /options as a map.
func (suite *Suite) getOptions(ctx SpecContext) map[string]any {
	ex := suite.get(ctx, "/options")
	expectStatus(ex, 200)
	return decode[map[string]any](ex)
}

// setOptions POSTs opts and expects 200.
func (suite *Suite) setOptions(ctx SpecContext, opts map[string]any) {
	ex := suite.post(ctx, "/options", opts)
	expectStatus(ex, 200)
}

func (suite *Suite) optionSpecs() {
	Describe("Options", func() {
		// Requirement: OPT-001.
		suite.conformIt("OPT-001", "GET /options answers the settings clients read", func(ctx SpecContext) {
			opts := suite.getOptions(ctx)
			Expect(opts).To(HaveKey("sd_model_checkpoint"))
			Expect(opts).To(HaveKey("samples_format"))
		})

		// Requirement: OPT-002.
		suite.conformIt("OPT-002", "POST /options is visible in the next GET and is restored", Serial, func(ctx SpecContext) {
			before := suite.getOptions(ctx)
			old, ok := before["send_seed"].(bool)
			Expect(ok).To(BeTrue(), "GET /options MUST carry the boolean send_seed")
			DeferCleanup(func(ctx SpecContext) {
				suite.setOptions(ctx, map[string]any{"send_seed": old})
				Expect(suite.getOptions(ctx)["send_seed"]).To(Equal(old), "restoring send_seed MUST take effect")
			}, NodeTimeout(30*time.Second))
			suite.setOptions(ctx, map[string]any{"send_seed": !old})
			Expect(suite.getOptions(ctx)["send_seed"]).To(Equal(!old), "the POSTed value MUST be visible in the next GET")
		})

		// Requirement: OPT-003.
		suite.conformIt("OPT-003", "POST /options refuses an unknown key", Serial, func(ctx SpecContext) {
			const key = "sdapi_conform_no_such_option"
			ex := suite.call(ctx, Request{Method: http.MethodPost, Path: APIPrefix + "/options", Body: []byte(`{"` + key + `": 1}`)})
			Expect(ex.Status).To(BeNumerically(">=", 400), "an unknown option key MUST be refused\n%s", ex.Describe())
			var body map[string]any
			Expect(json.Unmarshal(ex.Body, &body)).To(Succeed())
			Expect(body).To(HaveKey("error"), "A1111 answers its error shape {error, detail, body, errors}")
			Expect(suite.getOptions(ctx)).NotTo(HaveKey(key))
		})

		// Requirement: OPT-004.
		suite.conformIt("OPT-004", "override_settings apply to one request only", Serial, func(ctx SpecContext) {
			before := suite.getOptions(ctx)
			clip, _ := before["CLIP_stop_at_last_layers"].(float64)
			want := 2
			if clip == 2 {
				want = 3
			}
			g := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"override_settings": map[string]any{"CLIP_stop_at_last_layers": want}}))
			Expect(g.info).NotTo(BeNil(), "info MUST be JSON")
			texts := g.infotexts()
			Expect(texts).NotTo(BeEmpty())
			Expect(parseInfotext(texts[0])).To(HaveKeyWithValue("Clip skip", fmtNum(want)),
				"the override MUST apply to the request (infotext: %q)", texts[0])
			after := suite.getOptions(ctx)
			Expect(after["CLIP_stop_at_last_layers"]).To(Equal(before["CLIP_stop_at_last_layers"]), "the override MUST be gone after the request")
		})

		// Requirement: OPT-005.
		suite.conformIt("OPT-005", "sd_model_checkpoint names a model /sd-models lists", func(ctx SpecContext) {
			models := decode[[]struct {
				Title string `json:"title"`
			}](suite.get(ctx, "/sd-models"))
			var titles []string
			for _, m := range models {
				titles = append(titles, m.Title)
			}
			ckpt := suite.getOptions(ctx)["sd_model_checkpoint"]
			name, _ := ckpt.(string)
			if !slices.Contains(titles, name) {
				failf("expected GET /options sd_model_checkpoint to be one of the titles /sd-models lists %q, got %s", titles, shorten(fmt.Sprintf("%#v", ckpt), 100))
			}
		})

		// Requirement: FLAGS-001.
		suite.conformIt("FLAGS-001", "GET /cmd-flags answers the server's flags", func(ctx SpecContext) {
			ex := suite.get(ctx, "/cmd-flags")
			expectStatus(ex, 200)
			flags := decode[map[string]any](ex)
			AddReportEntry("cmd-flags", len(flags))
		})

		// Requirement: HDR-001.
		suite.conformIt("HDR-001", "responses carry X-Process-Time", func(ctx SpecContext) {
			for _, p := range []string{"/options", "/samplers", "/progress"} {
				ex := suite.get(ctx, p)
				Expect(ex.Header.Get("X-Process-Time")).NotTo(BeEmpty(), "GET %s lacks X-Process-Time", p)
			}
		})

		// Requirement: REF-001.
		suite.conformIt("REF-001", "GET /cmd-flags redacts the API credentials", func(ctx SpecContext) {
			ex := suite.get(ctx, "/cmd-flags")
			expectStatus(ex, 200)
			if len(suite.cfg.Password) >= 6 { // a short password would match unrelated text
				Expect(string(ex.Body)).NotTo(ContainSubstring(suite.cfg.Password), "the password MUST NOT appear in /cmd-flags")
			}
			flags := decode[map[string]any](ex)
			if v := flags["api_auth"]; v != nil {
				Expect(v).To(Equal("<redacted>"))
			}
		})
	})
}
