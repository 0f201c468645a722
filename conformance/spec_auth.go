package conformance

import (
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("HTTP basic auth", func() {
	// Requirement: AUTH-001. With --api-auth, no credentials MUST answer 401
	// (A1111 api.py auth: HTTPBasic 'Not authenticated').
	conformIt("AUTH-001", "refuses a request without credentials", func(ctx SpecContext) {
		ex := call(ctx, Request{Method: http.MethodGet, Path: APIPrefix + "/options", Auth: authNone})
		expectStatus(ex, 401)
	})

	// Requirement: AUTH-002. With --api-auth, a wrong password MUST answer
	// 401 (A1111: 'Incorrect username or password').
	conformIt("AUTH-002", "refuses a wrong password", func(ctx SpecContext) {
		ex := call(ctx, Request{Method: http.MethodGet, Path: APIPrefix + "/options", Auth: authWrong})
		expectStatus(ex, 401)
	})

	// Requirement: AUTH-003. With --api-auth, the right credentials MUST
	// answer 200.
	conformIt("AUTH-003", "accepts the right credentials", func(ctx SpecContext) {
		ex := get(ctx, "/options")
		expectStatus(ex, 200)
		Expect(ex.Req.Auth).To(Equal(authConfigured))
	})
})
