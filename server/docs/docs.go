// Package docs serves Swagger UI for the sdapi spec at /docs, the way FastAPI
// does for AUTOMATIC1111's WebUI, from assets embedded in the binary (no CDN).
//
// The assets in swagger-ui/ are copied verbatim from the swagger-ui-dist npm
// package pinned in package.json by `make vendor-swagger-ui`; do not edit them.
package docs

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"net/http"
	"strings"
	"time"
)

// Prefix is the path under which Handler serves the page and its assets.
const Prefix = "/docs"

//go:embed swagger-ui/swagger-ui-bundle.js swagger-ui/swagger-ui.css
//go:embed swagger-ui/LICENSE swagger-ui/NOTICE swagger-ui/swagger-ui-bundle.js.LICENSE.txt
//go:embed swagger-ui/VERSION
var files embed.FS

// SwaggerUIVersion is the vendored swagger-ui-dist version.
var SwaggerUIVersion = strings.TrimSpace(mustRead("swagger-ui/VERSION"))

type asset struct {
	data        []byte
	contentType string
	etag        string
}

// assets maps the name under /docs/ to the embedded file.
var assets = map[string]*asset{
	"swagger-ui-bundle.js":             newAsset("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
	"swagger-ui.css":                   newAsset("swagger-ui.css", "text/css; charset=utf-8"),
	"LICENSE":                          newAsset("LICENSE", "text/plain; charset=utf-8"),
	"NOTICE":                           newAsset("NOTICE", "text/plain; charset=utf-8"),
	"swagger-ui-bundle.js.LICENSE.txt": newAsset("swagger-ui-bundle.js.LICENSE.txt", "text/plain; charset=utf-8"),
}

func mustRead(name string) string {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(err) // unreachable: the file is embedded at build time
	}
	return string(b)
}

func newAsset(name, contentType string) *asset {
	data := []byte(mustRead("swagger-ui/" + name))
	sum := sha256.Sum256(data)
	return &asset{data: data, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// The assets are referenced with ?v=<etag>, so a new swagger-ui version gets
// new URLs and the long cache lifetime below is safe.
var page = template.Must(template.New("docs").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sdapi - Swagger UI</title>
<link rel="stylesheet" type="text/css" href="/docs/swagger-ui.css?v={{.CSSVersion}}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js?v={{.JSVersion}}"></script>
<script>
window.ui = SwaggerUIBundle({url: {{.SpecURL}}, dom_id: '#swagger-ui', deepLinking: true, layout: 'BaseLayout', tryItOutEnabled: true});
</script>
</body>
</html>
`))

type handler struct {
	html []byte
	etag string
}

// Handler returns an http.Handler for Prefix and everything below it:
//
//	GET /docs          the Swagger UI page, loading the spec from specURL
//	GET /docs/<asset>  swagger-ui-bundle.js, swagger-ui.css, LICENSE, NOTICE,
//	                   swagger-ui-bundle.js.LICENSE.txt
//
// Deep links work as with FastAPI: /docs#/default/<operationId>.
// Other paths get 404 with FastAPI's {"detail":"Not Found"}; methods other
// than GET and HEAD get 405.
func Handler(specURL string) http.Handler {
	var buf bytes.Buffer
	err := page.Execute(&buf, struct{ SpecURL, CSSVersion, JSVersion string }{
		SpecURL:    specURL,
		CSSVersion: strings.Trim(assets["swagger-ui.css"].etag, `"`),
		JSVersion:  strings.Trim(assets["swagger-ui-bundle.js"].etag, `"`),
	})
	if err != nil {
		panic("docs: rendering the Swagger UI page: " + err.Error())
	}
	sum := sha256.Sum256(buf.Bytes())
	return &handler{html: buf.Bytes(), etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var a *asset
	switch p := r.URL.Path; {
	case p == Prefix:
	case p == Prefix+"/":
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	case strings.HasPrefix(p, Prefix+"/") && assets[p[len(Prefix)+1:]] != nil:
		a = assets[p[len(Prefix)+1:]]
	default:
		notFound(w)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, `{"detail":"Method Not Allowed"}`)
		return
	}
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	if a == nil {
		hd.Set("Content-Type", "text/html; charset=utf-8")
		hd.Set("Cache-Control", "no-cache")
		hd.Set("ETag", h.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.html))
		return
	}
	hd.Set("Content-Type", a.contentType)
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	hd.Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, `{"detail":"Not Found"}`)
}

func writeJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}
