package conformance

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// listingRoutes are the GET routes answering a JSON array, with the fields
// every entry must carry (the spec's required properties).
var listingRoutes = []struct {
	path     string
	required []string
}{
	{"/samplers", []string{"name", "aliases", "options"}},
	{"/schedulers", []string{"name", "label"}},
	{"/upscalers", []string{"name"}},
	{"/latent-upscale-modes", []string{"name"}},
	{"/sd-models", []string{"title", "model_name", "filename"}},
	{"/sd-vae", []string{"model_name", "filename"}},
	{"/hypernetworks", []string{"name"}},
	{"/face-restorers", []string{"name"}},
	{"/realesrgan-models", []string{"name"}},
	{"/prompt-styles", []string{"name"}},
	{"/script-info", []string{"args"}},
	{"/extensions", []string{"name", "remote", "branch", "commit_hash", "version", "commit_date", "enabled"}},
	{"/loras", []string{"name", "path"}},
}

func (suite *Suite) listingSpecs() {
	Describe("Listings", func() {
		for _, route := range listingRoutes {
			// Requirement: LIST-001.
			suite.conformIt("LIST-001", "GET "+route.path+" answers a JSON array of well-formed entries", func(ctx SpecContext) {
				ex := suite.get(ctx, route.path)
				expectStatus(ex, 200)
				var entries []map[string]json.RawMessage
				Expect(json.Unmarshal(ex.Body, &entries)).To(Succeed(), "the body MUST be a JSON array of objects\n%s", ex.Describe())
				for i, e := range entries {
					for _, k := range route.required {
						Expect(e).To(HaveKey(k), "entry %d of %s lacks %q", i, route.path, k)
					}
				}
			})
		}

		// Requirement: LIST-002.
		suite.conformIt("LIST-002", "GET /embeddings answers loaded and skipped objects", func(ctx SpecContext) {
			ex := suite.get(ctx, "/embeddings")
			expectStatus(ex, 200)
			body := decode[map[string]json.RawMessage](ex)
			for _, k := range []string{"loaded", "skipped"} {
				Expect(body).To(HaveKey(k))
				var m map[string]any
				Expect(json.Unmarshal(body[k], &m)).To(Succeed(), "%s MUST be an object keyed by embedding name", k)
			}
		})

		// Requirement: LIST-003.
		suite.conformIt("LIST-003", "GET /scripts answers the txt2img and img2img script names", func(ctx SpecContext) {
			ex := suite.get(ctx, "/scripts")
			expectStatus(ex, 200)
			body := decode[map[string]json.RawMessage](ex)
			for _, k := range []string{"txt2img", "img2img"} {
				Expect(body).To(HaveKey(k))
				var names []string
				Expect(json.Unmarshal(body[k], &names)).To(Succeed(), "%s MUST be an array of script names", k)
			}
		})

		// Requirement: LIST-004.
		suite.conformIt("LIST-004", "GET /samplers lists unique, non-empty names", func(ctx SpecContext) {
			ex := suite.get(ctx, "/samplers")
			expectStatus(ex, 200)
			list := decode[[]struct {
				Name    string   `json:"name"`
				Aliases []string `json:"aliases"`
			}](ex)
			seen := map[string]bool{}
			for i, s := range list {
				Expect(s.Name).NotTo(BeEmpty(), "sampler %d has an empty name", i)
				Expect(seen).NotTo(HaveKey(s.Name), "sampler %q is listed twice", s.Name)
				seen[s.Name] = true
			}
			AddReportEntry("samplers", len(list))
		})

		// Requirement: LIST-005.
		suite.conformIt("LIST-005", "GET /samplers gives option values as strings", func(ctx SpecContext) {
			list := decode[[]struct {
				Name    string                     `json:"name"`
				Options map[string]json.RawMessage `json:"options"`
			}](suite.get(ctx, "/samplers"))
			var wrong []string
			for _, s := range list {
				for k, v := range s.Options {
					var str string
					if json.Unmarshal(v, &str) != nil {
						wrong = append(wrong, fmt.Sprintf("%s.%s = %s", s.Name, k, v))
					}
				}
			}
			slices.Sort(wrong)
			if len(wrong) > 0 {
				failf("expected every sampler option value to be a string (A1111: dict[str, str], so True is \"True\"), got %d that are not: %s", len(wrong), strings.Join(wrong, ", "))
			}
		})
	})
}
