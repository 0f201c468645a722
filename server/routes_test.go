package server_test

import (
	"context"
	"image"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/sdapi/sdapi/gen"
	"github.com/sdapi/sdapi/processing/upscale"
	"github.com/sdapi/sdapi/server"
)

// lifecycleOps maps the --api-server-stop routes to the Lifecycle call each
// must make after replying.
var lifecycleOps = map[string]string{
	"/sdapi/v1/server-stop":    "Stop",
	"/sdapi/v1/server-kill":    "Kill",
	"/sdapi/v1/server-restart": "Restart",
}

// isRoutingMiss reports whether body is the router's own 404 or 405 answer.
func isRoutingMiss(body []byte) bool {
	s := strings.TrimSpace(string(body))
	return s == `{"detail":"Not Found"}` || s == `{"detail":"Method Not Allowed"}`
}

func TestEveryOperationHasAHandler(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		serverStop bool
	}{
		{"without api-server-stop", false},
		{"with api-server-stop", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, func(c *server.Config) { c.ServerStop = tc.serverStop })
			for _, op := range ts.V.Operations() {
				t.Run(op.Method+" "+op.Path, func(t *testing.T) {
					var body []byte
					if op.HasBody {
						body = []byte(`{}`)
					}
					res := ts.do(t, op.Method, op.Path, body)
					call, isLifecycle := lifecycleOps[op.Path]
					switch {
					case isLifecycle && !tc.serverStop:
						assertStatus(t, res, http.StatusNotFound)
						assertJSON(t, res.Body, `{"detail":"Not Found"}`)
						ts.Life.assertNoCall(t)
					case isLifecycle:
						// The reply has arrived although the fake blocks
						// until received here: the call came after it.
						assertStatus(t, res, http.StatusOK)
						if got := ts.Life.wait(t); got != call {
							t.Errorf("lifecycle call: got %s, want %s", got, call)
						}
					case isRoutingMiss(res.Body):
						t.Errorf("routing miss: %d %s", res.Status, res.Body)
					}
				})
			}
		})
	}
}

// TestDisabledServerStopRoutesDoNotExist: without --api-server-stop A1111
// never registers the routes, so every method gets 404, not 405.
func TestDisabledServerStopRoutesDoNotExist(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		serverStop bool
		status     int
		want       string
	}{
		{"disabled", false, http.StatusNotFound, `{"detail":"Not Found"}`},
		{"enabled", true, http.StatusMethodNotAllowed, `{"detail":"Method Not Allowed"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, func(c *server.Config) { c.ServerStop = tc.serverStop })
			for path := range lifecycleOps {
				res := ts.doRaw(t, ts.newRequest(t, http.MethodGet, path, nil))
				assertStatus(t, res, tc.status)
				if got := strings.TrimSpace(string(res.Body)); got != tc.want {
					t.Errorf("GET %s: got %s, want %s", path, got, tc.want)
				}
			}
			ts.Life.assertNoCall(t)
		})
	}
}

func TestServerStopReplies(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, withServerStop)
	res := ts.do(t, http.MethodPost, "/sdapi/v1/server-stop", nil)
	assertStatus(t, res, http.StatusOK)
	if got := string(res.Body); got != "Stopping." {
		t.Errorf("server-stop body: got %q, want %q", got, "Stopping.")
	}
	if got := ts.Life.wait(t); got != "Stop" {
		t.Errorf("lifecycle call: got %s, want Stop", got)
	}
}

// camelCase is oapi-codegen's operationId -> Go method name mapping.
func camelCase(id string) string {
	var b strings.Builder
	for part := range strings.FieldsFuncSeq(id, func(r rune) bool { return r == '_' || r == '-' }) {
		r := []rune(part)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	return b.String()
}

// sourceOperationIDs reads the operationIds of openapi/sdapi.yaml itself:
// the embedded copy in gen has them rewritten to CamelCase.
func sourceOperationIDs(t *testing.T) []string {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join("..", "openapi", "sdapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			ids = append(ids, op.OperationID)
		}
	}
	slices.Sort(ids)
	return ids
}

func TestSpecOperationsMatchInterfaceAndRoutes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ops := ts.V.Operations()
	ids := sourceOperationIDs(t)
	if len(ids) != len(ops) {
		t.Errorf("openapi/sdapi.yaml has %d operations, the embedded spec %d", len(ids), len(ops))
	}

	var fromSpec []string
	for _, id := range ids {
		fromSpec = append(fromSpec, camelCase(id))
	}
	it := reflect.TypeFor[gen.StrictServerInterface]()
	var fromIface []string
	for i := range it.NumMethod() {
		fromIface = append(fromIface, it.Method(i).Name)
	}
	slices.Sort(fromSpec)
	if len(fromSpec) != len(fromIface) {
		t.Errorf("spec has %d operations, StrictServerInterface %d methods", len(fromSpec), len(fromIface))
	}
	if !slices.Equal(fromSpec, fromIface) { // both sorted
		t.Errorf("operationIds and interface methods differ:\n spec  %v\n iface %v", fromSpec, fromIface)
	}

	registered := map[string]bool{}
	for _, r := range ts.Echo.Routes() {
		registered[r.Method+" "+r.Path] = true
	}
	for _, op := range ops {
		if !registered[op.Method+" "+op.Path] {
			t.Errorf("%s %s (%s) is not registered", op.Method, op.Path, op.ID)
		}
	}
}

func TestEveryGetAnswers200(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for _, op := range ts.V.Operations() {
		if op.Method != http.MethodGet {
			continue
		}
		t.Run(op.Path, func(t *testing.T) {
			res := ts.do(t, op.Method, op.Path, nil)
			assertStatus(t, res, http.StatusOK)
		})
	}
}

func TestListingsInventNothing(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for _, tc := range []struct{ path, want string }{
		{"/sdapi/v1/sd-models", `[]`},
		{"/sdapi/v1/sd-vae", `[]`},
		{"/sdapi/v1/hypernetworks", `[]`},
		{"/sdapi/v1/face-restorers", `[]`},
		{"/sdapi/v1/realesrgan-models", `[]`},
		{"/sdapi/v1/prompt-styles", `[]`},
		{"/sdapi/v1/loras", `[]`},
		{"/sdapi/v1/script-info", `[]`},
		{"/sdapi/v1/extensions", `[]`},
		{"/sdapi/v1/embeddings", `{"loaded":{},"skipped":{}}`},
		{"/sdapi/v1/scripts", `{"txt2img":[],"img2img":[]}`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res := ts.do(t, http.MethodGet, tc.path, nil)
			assertStatus(t, res, http.StatusOK)
			assertJSON(t, res.Body, tc.want)
		})
	}
}

func TestRefreshRoutesAnswerNull(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for _, path := range []string{
		"/sdapi/v1/refresh-checkpoints", "/sdapi/v1/refresh-vae",
		"/sdapi/v1/refresh-embeddings", "/sdapi/v1/refresh-loras", "/sdapi/v1/skip",
	} {
		t.Run(path, func(t *testing.T) {
			res := ts.do(t, http.MethodPost, path, nil)
			assertStatus(t, res, http.StatusOK)
			if got := strings.TrimSpace(string(res.Body)); got != "null" {
				t.Errorf("body: got %q, want null", got)
			}
		})
	}
}

func TestModelListsFollowTheDisk(t *testing.T) {
	t.Parallel()
	dirs := newTestDirs(t)
	first := dirs.addCheckpoint(t, "dreamshaper-8-onnx")
	vae := dirs.addVAE(t, "sd-vae-ft-mse")
	ts := startServer(t, dirs, nil)

	res := ts.do(t, http.MethodGet, "/sdapi/v1/sd-models", nil)
	assertStatus(t, res, http.StatusOK)
	// Without unet/ files a model has no hash: A1111's null hash, sha256, config.
	assertJSON(t, res.Body, `[{"title":"dreamshaper-8-onnx","model_name":"dreamshaper-8-onnx","hash":null,"sha256":null,"filename":`+quote(first)+`,"config":null}]`)
	res = ts.do(t, http.MethodGet, "/sdapi/v1/sd-vae", nil)
	assertJSON(t, res.Body, `[{"model_name":"sd-vae-ft-mse","filename":`+quote(vae)+`}]`)

	second := dirs.addCheckpoint(t, "a-later-model")
	dirs.addVAE(t, "later-vae")
	res = ts.do(t, http.MethodGet, "/sdapi/v1/sd-models", nil)
	if got := len(decode[[]any](t, res.Body)); got != 1 {
		t.Errorf("before refresh-checkpoints: got %d models, want 1", got)
	}
	assertStatus(t, ts.do(t, http.MethodPost, "/sdapi/v1/refresh-checkpoints", nil), http.StatusOK)
	res = ts.do(t, http.MethodGet, "/sdapi/v1/sd-models", nil)
	assertJSON(t, res.Body, `[
		{"title":"a-later-model","model_name":"a-later-model","hash":null,"sha256":null,"filename":`+quote(second)+`,"config":null},
		{"title":"dreamshaper-8-onnx","model_name":"dreamshaper-8-onnx","hash":null,"sha256":null,"filename":`+quote(first)+`,"config":null}]`)

	assertStatus(t, ts.do(t, http.MethodPost, "/sdapi/v1/refresh-vae", nil), http.StatusOK)
	res = ts.do(t, http.MethodGet, "/sdapi/v1/sd-vae", nil)
	if got := len(decode[[]any](t, res.Body)); got != 2 {
		t.Errorf("after refresh-vae: got %d VAEs, want 2", got)
	}
}

func TestPromptStylesReadsStylesCSV(t *testing.T) {
	t.Parallel()
	dirs := newTestDirs(t)
	writeFile(t, dirs.StylesCSV, "name,prompt,negative_prompt\n"+
		"cinematic,\"{prompt}, cinematic lighting, 35mm\",\"cartoon, drawing\"\n"+
		"plain,just words,\n")
	ts := startServer(t, dirs, nil)
	res := ts.do(t, http.MethodGet, "/sdapi/v1/prompt-styles", nil)
	assertStatus(t, res, http.StatusOK)
	assertJSON(t, res.Body, `[
		{"name":"cinematic","prompt":"{prompt}, cinematic lighting, 35mm","negative_prompt":"cartoon, drawing"},
		{"name":"plain","prompt":"just words","negative_prompt":""}]`)
}

func TestProgressInterruptSkip(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	idleState := map[string]any{
		"skipped": false, "interrupted": false, "stopping_generation": false,
		"job": "", "job_count": 0.0, "job_timestamp": "0", "job_no": 0.0,
		"sampling_step": 0.0, "sampling_steps": 0.0,
	}
	type progress struct {
		Progress    *float64       `json:"progress"`
		EtaRelative *float64       `json:"eta_relative"`
		State       map[string]any `json:"state"`
	}
	for _, path := range []string{"/sdapi/v1/progress", "/sdapi/v1/progress?skip_current_image=true"} {
		res := ts.do(t, http.MethodGet, path, nil)
		assertStatus(t, res, http.StatusOK)
		p := decode[progress](t, res.Body)
		if p.Progress == nil || *p.Progress != 0 || p.EtaRelative == nil || *p.EtaRelative != 0 {
			t.Errorf("%s idle: progress/eta_relative not 0: %s", path, res.Body)
		}
		if !reflect.DeepEqual(p.State, idleState) {
			t.Errorf("%s idle state:\n got %v\nwant %v", path, p.State, idleState)
		}
	}

	res := ts.do(t, http.MethodPost, "/sdapi/v1/interrupt", nil)
	assertStatus(t, res, http.StatusOK)
	assertJSON(t, res.Body, `{}`)
	p := decode[progress](t, ts.do(t, http.MethodGet, "/sdapi/v1/progress", nil).Body)
	if p.State["interrupted"] != true {
		t.Errorf("after interrupt: state.interrupted = %v, want true", p.State["interrupted"])
	}
}

func TestOpenAPIAndDocs(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	res := ts.doRaw(t, ts.newRequest(t, http.MethodGet, "/openapi.json", nil))
	assertStatus(t, res, http.StatusOK)
	doc := decode[struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}](t, res.Body)
	var ids []string
	for _, item := range doc.Paths {
		for _, op := range item {
			ids = append(ids, op.OperationID)
		}
	}
	if !slices.Contains(ids, "text2imgapi_sdapi_v1_txt2img_post") {
		t.Errorf("/openapi.json lacks text2imgapi_sdapi_v1_txt2img_post; has %v", ids)
	}
	// Every id as written in the source spec (FastAPI's), none CamelCased.
	slices.Sort(ids)
	if want := sourceOperationIDs(t); !slices.Equal(ids, want) {
		t.Errorf("/openapi.json operationIds:\n got %v\nwant %v", ids, want)
	}

	res = ts.doRaw(t, ts.newRequest(t, http.MethodGet, "/docs", nil))
	assertStatus(t, res, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("/docs Content-Type: got %q, want text/html", ct)
	}
	if !strings.Contains(string(res.Body), "/openapi.json") {
		t.Errorf("/docs page does not point at /openapi.json")
	}
}

// x4Model is a ModelUpscaler stand-in: the listing reads only its scale.
type x4Model struct{}

func (x4Model) Upscale(_ context.Context, img image.Image) (image.Image, error) { return img, nil }
func (x4Model) Scale() int                                                      { return 4 }

func TestUpscalerListingsFollowTheRegistry(t *testing.T) {
	t.Parallel()
	reg := upscale.NewRegistry(
		upscale.NewModelUpscaler("RealESRGAN_x4plus", "RealESRGAN", "/m/RealESRGAN/RealESRGAN_x4plus.onnx", x4Model{}),
		upscale.NewModelUpscaler("4x-UltraSharp", "ESRGAN", "/m/ESRGAN/4x-UltraSharp.onnx", x4Model{}),
	)
	ts := startServerDeps(t, newTestDirs(t), nil, func(d *server.Deps) { d.Upscalers = reg })
	res := ts.do(t, http.MethodGet, "/sdapi/v1/realesrgan-models", nil)
	assertStatus(t, res, http.StatusOK)
	assertJSON(t, res.Body, `[{"name":"RealESRGAN_x4plus","path":"/m/RealESRGAN/RealESRGAN_x4plus.onnx","scale":4}]`)
	res = ts.do(t, http.MethodGet, "/sdapi/v1/upscalers", nil)
	assertStatus(t, res, http.StatusOK)
	for _, name := range []string{`"None"`, `"Lanczos"`, `"Nearest"`, `"4x-UltraSharp"`, `"RealESRGAN_x4plus"`} {
		if !strings.Contains(string(res.Body), name) {
			t.Errorf("/upscalers lacks %s: %s", name, res.Body)
		}
	}
}
