package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// validationDetail checks FastAPI's 422 shape and returns the locs.
func validationDetail(ex *Exchange) ([][]any, error) {
	if ex.Status != http.StatusUnprocessableEntity {
		return nil, fmt.Errorf("answered %d, want 422", ex.Status)
	}
	var body struct {
		Detail []struct {
			Loc  []any   `json:"loc"`
			Msg  *string `json:"msg"`
			Type *string `json:"type"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(ex.Body, &body); err != nil {
		return nil, fmt.Errorf("422 body is not FastAPI's {detail:[...]}: %v", err)
	}
	if len(body.Detail) == 0 {
		return nil, fmt.Errorf("422 detail is empty or missing")
	}
	var locs [][]any
	for i, d := range body.Detail {
		if len(d.Loc) == 0 || d.Loc[0] != "body" {
			return nil, fmt.Errorf("detail[%d].loc = %v, want it to start with \"body\"", i, d.Loc)
		}
		if d.Msg == nil || d.Type == nil {
			return nil, fmt.Errorf("detail[%d] lacks msg or type", i)
		}
		locs = append(locs, d.Loc)
	}
	return locs, nil
}

func (suite *Suite) errorSpecs() {
	Describe("Errors and negative data", func() {
		// Requirement: ERR-001.
		suite.conformIt("ERR-001", "an unknown path answers 404 Not Found", func(ctx SpecContext) {
			ex := suite.call(ctx, Request{Method: http.MethodGet, Path: APIPrefix + "/sdapi-conform-no-such-route"})
			expectStatus(ex, 404)
			Expect(decode[map[string]any](ex)).To(HaveKeyWithValue("detail", "Not Found"))
		})

		// Requirement: ERR-002.
		suite.conformIt("ERR-002", "the wrong method answers 405 Method Not Allowed", func(ctx SpecContext) {
			for _, r := range []Request{{Method: http.MethodGet, Path: APIPrefix + "/txt2img"}, {Method: http.MethodDelete, Path: APIPrefix + "/options"}} {
				ex := suite.call(ctx, r)
				expectStatus(ex, 405)
				Expect(decode[map[string]any](ex)).To(HaveKeyWithValue("detail", "Method Not Allowed"))
			}
		})

		spec, err := suite.tree, suite.treeErr
		if err != nil {
			It("loads the spec", func() { Fail(err.Error()) })
			return
		}
		categories := []struct{ id, category string }{
			{"ERR-003", negMalformed}, {"ERR-004", negWrongType}, {"ERR-005", negRange}, {"ERR-006", negShape},
		}
		for _, op := range spec.Operations() {
			if jsonBodySchema(op.Op) == nil {
				continue
			}
			base := suite.validBody(op.Path)
			for _, c := range categories {
				cases := negativeCases(op.Op, base, c.category)
				if len(cases) == 0 {
					continue
				}
				// Requirement: ERR-003..ERR-006.
				suite.conformIt(c.id, fmt.Sprintf("%s %s refuses %s (%d generated cases)", op.Method, op.Path, c.category, len(cases)), func(ctx SpecContext) {
					var failures []string
					for _, nc := range cases {
						ex := suite.call(ctx, Request{Method: op.Method, Path: op.Path, Body: nc.Body, ContentType: "application/json", Negative: true})
						locs, err := validationDetail(ex)
						if err == nil && nc.Prop != "" && !hasLoc(locs, nc.Prop) {
							err = fmt.Errorf("no detail item has loc [\"body\", %q] (locs: %v)", nc.Prop, locs)
						}
						if err != nil {
							failures = append(failures, fmt.Sprintf("- %s: %v\n  body: %s\n  Reproduce with: %s", nc.Name, err, truncate(string(ex.Body), 200), ex.Curl()))
						}
					}
					Expect(failures).To(BeEmpty(), "%d of %d generated %s cases were not refused with FastAPI's 422:\n%s\nReproduce with: see each case",
						len(failures), len(cases), c.category, strings.Join(failures, "\n"))
				})
			}
		}

		// Requirement: ERR-007.
		suite.conformIt("ERR-007", "unknown JSON keys are ignored", func(ctx SpecContext) {
			ex := suite.post(ctx, "/png-info", map[string]any{"image": pngBase64(testImage(16, 16, 1)), "sdapi_conform_unknown": []int{1, 2}})
			expectStatus(ex, 200)
		})

		// Requirement: ERR-008.
		suite.conformIt("ERR-008", "an undecodable image is refused in A1111's error shape", func(ctx SpecContext) {
			ex := suite.post(ctx, "/png-info", map[string]any{"image": "bm90IGFuIGltYWdl"})
			Expect(ex.Status).To(BeNumerically(">=", 400), "an undecodable image MUST NOT answer %d\n%s", ex.Status, ex.Describe())
			body := decode[map[string]any](ex)
			for _, k := range []string{"error", "detail", "body", "errors"} {
				Expect(body).To(HaveKey(k), "A1111's error body carries %q", k)
			}
		})
	})
}

func hasLoc(locs [][]any, prop string) bool {
	for _, l := range locs {
		if len(l) >= 2 && l[1] == prop {
			return true
		}
	}
	return false
}
