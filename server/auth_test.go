package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/server"
)

// authPairs is --api-auth "alice:wonderland,bob:p@ss:word": the password
// of the second pair contains the separator of user and password.
var authPairs = []server.Credential{
	{User: "alice", Password: "wonderland"},
	{User: "bob", Password: "p@ss:word"},
}

const (
	notAuthenticated  = `{"error":"HTTPException","detail":"Not authenticated","body":"","errors":""}`
	incorrectPassword = `{"error":"HTTPException","detail":"Incorrect username or password","body":"","errors":""}`
)

func TestAuth(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, withAuth(authPairs...))
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		creds              *server.Credential // nil: no Authorization header
		status             int
		want               string // exact JSON body, when set
	}{
		{name: "no credentials", method: http.MethodGet, path: "/sdapi/v1/options",
			status: http.StatusUnauthorized, want: notAuthenticated},
		{name: "no credentials POST", method: http.MethodPost, path: "/sdapi/v1/interrupt",
			status: http.StatusUnauthorized, want: notAuthenticated},
		{name: "wrong password", method: http.MethodGet, path: "/sdapi/v1/options",
			creds: &server.Credential{User: "alice", Password: "nope"}, status: http.StatusUnauthorized, want: incorrectPassword},
		{name: "password of the other user", method: http.MethodGet, path: "/sdapi/v1/options",
			creds: &server.Credential{User: "alice", Password: "p@ss:word"}, status: http.StatusUnauthorized, want: incorrectPassword},
		{name: "unknown user", method: http.MethodGet, path: "/sdapi/v1/options",
			creds: &server.Credential{User: "mallory", Password: "wonderland"}, status: http.StatusUnauthorized, want: incorrectPassword},
		{name: "empty credentials", method: http.MethodGet, path: "/sdapi/v1/options",
			creds: &server.Credential{}, status: http.StatusUnauthorized, want: incorrectPassword},
		{name: "first pair", method: http.MethodGet, path: "/sdapi/v1/options",
			creds: &authPairs[0], status: http.StatusOK},
		{name: "second pair", method: http.MethodGet, path: "/sdapi/v1/loras",
			creds: &authPairs[1], status: http.StatusOK, want: `[]`},
		{name: "auth before validation", method: http.MethodPost, path: "/sdapi/v1/txt2img",
			body: []byte(`{"steps":"abc"}`), status: http.StatusUnauthorized, want: notAuthenticated},
		{name: "auth before validation, wrong password", method: http.MethodPost, path: "/sdapi/v1/txt2img",
			body: []byte(`{"steps":"abc"`), creds: &server.Credential{User: "bob", Password: "x"},
			status: http.StatusUnauthorized, want: incorrectPassword},
		{name: "validation once authenticated", method: http.MethodPost, path: "/sdapi/v1/txt2img",
			body: []byte(`{"steps":"abc"}`), creds: &authPairs[0], status: http.StatusUnprocessableEntity},
		{name: "query validation after auth", method: http.MethodGet, path: "/sdapi/v1/progress?skip_current_image=x",
			status: http.StatusUnauthorized, want: notAuthenticated},
		// server-stop is not registered without --api-server-stop: a
		// missing route is 404 before any auth, as in A1111.
		{name: "disabled server-stop without credentials", method: http.MethodPost, path: "/sdapi/v1/server-stop",
			status: http.StatusNotFound, want: `{"detail":"Not Found"}`},
		{name: "disabled server-kill with credentials", method: http.MethodPost, path: "/sdapi/v1/server-kill",
			creds: &authPairs[0], status: http.StatusNotFound, want: `{"detail":"Not Found"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := ts.newRequest(t, tc.method, tc.path, tc.body)
			if tc.creds != nil {
				req.SetBasicAuth(tc.creds.User, tc.creds.Password)
			}
			res := ts.doReq(t, req)
			assertStatus(t, res, tc.status)
			if tc.want != "" {
				assertJSON(t, res.Body, tc.want)
			}
			// A1111's error handler builds a fresh response: no challenge.
			if h := res.Header.Get("WWW-Authenticate"); h != "" {
				t.Errorf("WWW-Authenticate: got %q, want none", h)
			}
		})
	}
}

func TestAuthLeavesUnroutedAndDocsAlone(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, withAuth(authPairs...))
	for _, tc := range []struct {
		name, method, path string
		status             int
		want               string
	}{
		{"unknown path", http.MethodGet, "/sdapi/v1/nope", http.StatusNotFound, `{"detail":"Not Found"}`},
		{"unknown path POST", http.MethodPost, "/sdapi/v1/txt2img/extra", http.StatusNotFound, `{"detail":"Not Found"}`},
		{"wrong method", http.MethodGet, "/sdapi/v1/txt2img", http.StatusMethodNotAllowed, `{"detail":"Method Not Allowed"}`},
		{"openapi.json", http.MethodGet, "/openapi.json", http.StatusOK, ""},
		{"metrics", http.MethodGet, "/metrics", http.StatusOK, ""},
		{"docs", http.MethodGet, "/docs", http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := ts.doRaw(t, ts.newRequest(t, tc.method, tc.path, nil))
			assertStatus(t, res, tc.status)
			if tc.want != "" {
				if got := strings.TrimSpace(string(res.Body)); got != tc.want {
					t.Errorf("body: got %s, want %s", got, tc.want)
				}
			}
		})
	}
}

// TestAuthCoversEveryOperation: with --api-auth every registered /sdapi
// route answers 401 without credentials; /internal/* stays open, as in
// A1111.
func TestAuthCoversEveryOperation(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, withAuth(authPairs...), withServerStop)
	for _, op := range ts.V.Operations() {
		t.Run(op.Method+" "+op.Path, func(t *testing.T) {
			if strings.HasPrefix(op.Path, "/internal/") {
				res := ts.do(t, op.Method, op.Path, []byte(`{}`))
				assertStatus(t, res, http.StatusOK)
				return
			}
			var body []byte
			if op.HasBody {
				body = []byte(`{}`)
			}
			res := ts.do(t, op.Method, op.Path, body)
			assertStatus(t, res, http.StatusUnauthorized)
			assertJSON(t, res.Body, notAuthenticated)
		})
	}
	ts.Life.assertNoCall(t)
}
