package conformance

import (
	"fmt"
	"net/http"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// expectSame compares two images under the profile's tolerance and records
// the figures (exact match and the largest difference).
func (suite *Suite) expectSame(id, what string, a, b *genResult, ia, ib int) {
	Expect(len(a.images)).To(BeNumerically(">", ia))
	Expect(len(b.images)).To(BeNumerically(">", ib))
	d := diffImages(a.images[ia], b.images[ib])
	tol := suite.profile.PixelTolerance
	suite.recordFigure(id, what, d.String())
	AddReportEntry(what, d.String())
	suite.keepImage(id+"-pair-a", a.images[ia])
	suite.keepImage(id+"-pair-b", b.images[ib])
	ExpectWithOffset(1, d.SameSize).To(BeTrue(), "%s: expected two images of the same size, got %v and %v", what, a.images[ia].Bounds().Size(), b.images[ib].Bounds().Size())
	ExpectWithOffset(1, d.MaxDiff).To(BeNumerically("<=", tol),
		"%s: expected the images to match within %d per channel (profile %s), got %s (images: %s, %s)", what, tol, suite.profile.Name, d,
		suite.evidenceImageIf(d.MaxDiff > tol, id+"-a", a.images[ia]), suite.evidenceImageIf(d.MaxDiff > tol, id+"-b", b.images[ib]))
}

func (suite *Suite) seedSpecs() {
	Describe("Seeds and determinism", func() {
		// Requirement: SEED-001.
		suite.conformIt("SEED-001", "gives the same pixels for the same fixed seed", func(ctx SpecContext) {
			req := suite.smallTxt2Img(map[string]any{"seed": 31337})
			a := suite.txt2img(ctx, req)
			b := suite.txt2img(ctx, req)
			suite.expectSame("SEED-001", "same seed twice", a, b, 0, 0)
		})

		// Requirement: SEED-002.
		suite.conformIt("SEED-002", "gives different images for different seeds", func(ctx SpecContext) {
			a := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"seed": 1001}))
			b := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"seed": 1002}))
			d := diffImages(a.images[0], b.images[0])
			suite.recordFigure("SEED-002", "seeds 1001 vs 1002", d.String())
			Expect(d.Exact).To(BeFalse(), "expected seeds 1001 and 1002 to give different images, got identical pixels")
		})

		// Requirement: SEED-003.
		suite.conformIt("SEED-003", "resolves seed -1 and reproduces it", func(ctx SpecContext) {
			a := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"seed": -1}))
			seed := a.infoInt("seed")
			Expect(seed).To(And(BeNumerically(">=", 0), BeNumerically("<", int64(4294967294))), "info.seed MUST be the resolved seed")
			Expect(a.infoInts("all_seeds")).To(HaveExactElements(seed))
			b := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"seed": seed}))
			suite.expectSame("SEED-003", fmt.Sprintf("seed -1 resolved to %d, re-sent", seed), a, b, 0, 0)
		})

		// Requirement: SEED-004.
		suite.conformIt("SEED-004", "reports all_seeds as seed+i", func(ctx SpecContext) {
			g := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"seed": 500, "batch_size": 2, "n_iter": 2, "steps": 2}))
			Expect(g.infoInts("all_seeds")).To(HaveExactElements(int64(500), int64(501), int64(502), int64(503)))
			Expect(g.infoInt("seed")).To(BeEquivalentTo(500))
		})

		// Requirement: SEED-005.
		suite.conformIt("SEED-005", "makes image i of a batch equal to a single run with seed+i", func(ctx SpecContext) {
			batch := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"seed": 700, "batch_size": 2, "n_iter": 2, "steps": 2}))
			expectCount(len(batch.images), 4, "images (batch_size 2 × n_iter 2)")
			for _, i := range []int{1, 2} {
				single := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"seed": 700 + i, "steps": 2}))
				suite.expectSame("SEED-005", fmt.Sprintf("batch image %d vs single seed %d", i, 700+i), batch, single, i, 0)
			}
		})

		// Requirement: SEED-006.
		suite.conformIt("SEED-006", "varies the image gradually with subseed_strength", func(ctx SpecContext) {
			base := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"seed": 900, "subseed": 77}))
			var prev float64
			for _, s := range []float64{0.1, 0.5, 1.0} {
				g := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"seed": 900, "subseed": 77, "subseed_strength": s, "batch_size": 2, "steps": smallSteps}))
				Expect(g.infoInts("all_seeds")).To(HaveExactElements(int64(900), int64(900)), "with subseed_strength %v every image shares the base seed", s)
				Expect(g.infoInts("all_subseeds")).To(HaveExactElements(int64(77), int64(78)))
				d := diffImages(base.images[0], g.images[0])
				suite.recordFigure("SEED-006", fmt.Sprintf("subseed_strength %.1f vs 0", s), d.String())
				Expect(d.MeanDiff).To(BeNumerically(">", prev), "expected the difference from subseed_strength 0 to grow with subseed_strength, got mean %.3f at %.1f after %.3f", d.MeanDiff, s, prev)
				prev = d.MeanDiff
			}
		})

		// Requirement: SEED-007.
		suite.conformIt("SEED-007", "resolves seed -1 to different seeds in concurrent requests", func(ctx SpecContext) {
			req := suite.smallTxt2Img(map[string]any{"seed": -1, "steps": 1})
			body := mustJSON(req)
			var exs [2]*Exchange
			var wg sync.WaitGroup
			for i := range exs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					exs[i] = suite.client.Do(ctx, Request{Method: http.MethodPost, Path: APIPrefix + "/txt2img", Body: body})
				}()
			}
			wg.Wait()
			var seeds [2]int64
			for i, ex := range exs {
				Expect(ex.Err).NotTo(HaveOccurred(), "expected an answer to concurrent request %d", i)
				skipIfSubstituted(ex)
				seeds[i] = suite.decodeGen(ex, "/txt2img", req).infoInt("seed")
			}
			suite.recordFigure("SEED-007", "seed -1 resolved concurrently", fmt.Sprint(seeds))
			if seeds[0] == seeds[1] {
				failf("expected two concurrent seed -1 requests to resolve to different seeds, got %d twice", seeds[0])
			}
		})

		// Requirement: SEED-008.
		suite.conformIt("SEED-008", "gives different images at steps N and N+1", func(ctx SpecContext) {
			for _, n := range []int{3, 80} {
				a := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"seed": 8080, "steps": n}))
				b := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"seed": 8080, "steps": n + 1}))
				expectCount(len(a.images), 1, "image")
				expectCount(len(b.images), 1, "image")
				d := diffImages(a.images[0], b.images[0])
				suite.recordFigure("SEED-008", fmt.Sprintf("steps %d vs %d", n, n+1), d.String())
				if d.Exact {
					failf("expected seed 8080 at steps %d and %d to give different images (is steps clamped?), got identical pixels", n, n+1)
				}
			}
		})
	})
}
