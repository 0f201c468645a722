package conformance

import (
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func (suite *Suite) authSpecs() {
	Describe("HTTP basic auth", func() {
		// Requirement: AUTH-001.
		suite.conformIt("AUTH-001", "refuses a request without credentials", func(ctx SpecContext) {
			ex := suite.call(ctx, Request{Method: http.MethodGet, Path: APIPrefix + "/options", Auth: authNone})
			expectStatus(ex, 401)
		})

		// Requirement: AUTH-002.
		suite.conformIt("AUTH-002", "refuses a wrong password", func(ctx SpecContext) {
			ex := suite.call(ctx, Request{Method: http.MethodGet, Path: APIPrefix + "/options", Auth: authWrong})
			expectStatus(ex, 401)
		})

		// Requirement: AUTH-003.
		suite.conformIt("AUTH-003", "accepts the right credentials", func(ctx SpecContext) {
			ex := suite.get(ctx, "/options")
			expectStatus(ex, 200)
			Expect(ex.Req.Auth).To(Equal(authConfigured))
		})
	})
}
