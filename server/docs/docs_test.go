package docs

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPage(t *testing.T) {
	h := Handler("/openapi.json")
	resp := get(t, h, http.MethodGet, "/docs", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /docs: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	page := body(t, resp)
	for _, want := range []string{
		"<title>sdapi - Swagger UI</title>",
		`url: "/openapi.json"`,
		"deepLinking: true",
		"dom_id: '#swagger-ui'",
		"layout: 'BaseLayout'",
		"tryItOutEnabled: true",
		`src="/docs/swagger-ui-bundle.js?v=`,
		`href="/docs/swagger-ui.css?v=`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("page refers to an external URL:\n%s", page)
	}
}

// The spec URL lands inside a <script>; it must stay a JS string literal.
func TestPageEscapesSpecURL(t *testing.T) {
	page := body(t, get(t, Handler(`/x"</script><script>alert(1)</script>`), http.MethodGet, "/docs", nil))
	if strings.Contains(page, "<script>alert(1)") {
		t.Fatalf("spec URL not escaped:\n%s", page)
	}
}

func TestAssets(t *testing.T) {
	h := Handler("/openapi.json")
	for path, wantType := range map[string]string{
		"/docs/swagger-ui-bundle.js":             "text/javascript; charset=utf-8",
		"/docs/swagger-ui.css":                   "text/css; charset=utf-8",
		"/docs/LICENSE":                          "text/plain; charset=utf-8",
		"/docs/NOTICE":                           "text/plain; charset=utf-8",
		"/docs/swagger-ui-bundle.js.LICENSE.txt": "text/plain; charset=utf-8",
	} {
		resp := get(t, h, http.MethodGet, path+"?v=whatever", nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", path, resp.StatusCode)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != wantType {
			t.Errorf("GET %s: Content-Type %q, want %q", path, ct, wantType)
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") {
			t.Errorf("GET %s: Cache-Control %q", path, cc)
		}
		if b := body(t, resp); len(b) == 0 {
			t.Errorf("GET %s: empty body", path)
		}
		// Revalidation with the ETag gives 304.
		resp2 := get(t, h, http.MethodGet, path, map[string]string{"If-None-Match": resp.Header.Get("ETag")})
		if resp2.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match: status %d", path, resp2.StatusCode)
		}
	}
	if b := body(t, get(t, h, http.MethodGet, "/docs/swagger-ui-bundle.js", nil)); !strings.Contains(b, "SwaggerUIBundle") {
		t.Error("swagger-ui-bundle.js does not define SwaggerUIBundle")
	}
}

func TestNotFound(t *testing.T) {
	h := Handler("/openapi.json")
	for _, path := range []string{
		"/docs/nope.js",
		"/docs/oauth2-redirect.html",
		"/docs/swagger-ui/swagger-ui.css",
		"/docs/../go.mod",
		"/docsx",
		"/openapi.json",
	} {
		resp := get(t, h, http.MethodGet, path, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, resp.StatusCode)
		}
		if b := body(t, resp); b != `{"detail":"Not Found"}` {
			t.Errorf("GET %s: body %q", path, b)
		}
	}
}

func TestMethods(t *testing.T) {
	h := Handler("/openapi.json")
	if resp := get(t, h, http.MethodHead, "/docs/swagger-ui.css", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD: status %d", resp.StatusCode)
	}
	resp := get(t, h, http.MethodPost, "/docs", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /docs: status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	resp = get(t, h, http.MethodGet, "/docs/", nil)
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/docs" {
		t.Errorf("GET /docs/: status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// The vendored assets must come from the swagger-ui-dist version pinned in
// package.json; after bumping the pin, run `make vendor-swagger-ui`.
func TestVendoredVersionMatchesPin(t *testing.T) {
	raw, err := os.ReadFile("../../package.json")
	if err != nil {
		t.Skipf("no package.json: %v", err)
	}
	var pkg struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		t.Fatal(err)
	}
	if pin := pkg.DevDependencies["swagger-ui-dist"]; pin != SwaggerUIVersion {
		t.Errorf("package.json pins swagger-ui-dist %q, vendored is %q: run make vendor-swagger-ui", pin, SwaggerUIVersion)
	}
}
