package conformance

import (
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
)

// foreignOrigin is an origin no server is configured to allow.
const foreignOrigin = "https://sdapi-conform.invalid"

func (suite *Suite) corsSpecs() {
	Describe("CORS", func() {
		// Requirement: CORS-001.
		suite.conformIt("CORS-001", "does not allow an arbitrary Origin by default", func(ctx SpecContext) {
			for _, r := range []Request{
				{Method: http.MethodGet, Path: APIPrefix + "/options", Header: http.Header{"Origin": {foreignOrigin}}},
				{Method: http.MethodOptions, Path: APIPrefix + "/txt2img", Header: http.Header{
					"Origin": {foreignOrigin}, "Access-Control-Request-Method": {http.MethodPost}, "Access-Control-Request-Headers": {"content-type"},
				}},
			} {
				ex := suite.client.Do(ctx, r)
				if ex.Err != nil {
					failf("expected an answer to %s %s with Origin %s, got %v", r.Method, r.Path, foreignOrigin, ex.Err)
				}
				skipIfSubstituted(ex)
				acao := ex.Header.Get("Access-Control-Allow-Origin")
				acac := strings.EqualFold(ex.Header.Get("Access-Control-Allow-Credentials"), "true")
				if acao == foreignOrigin && acac {
					failf("expected no Access-Control-Allow-Origin for an unconfigured Origin, got it reflected with Access-Control-Allow-Credentials: true on %s %s (any site can call the API with the user's credentials)", r.Method, r.Path)
				}
				if acao == foreignOrigin || acao == "*" {
					failf("expected no Access-Control-Allow-Origin for an unconfigured Origin on %s %s (A1111 configures no origins by default), got %q", r.Method, r.Path, acao)
				}
			}
		})
	})
}
