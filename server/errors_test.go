package server_test

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestRequestValidation(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for _, tc := range []struct {
		name, method, path string
		body               []byte // nil: no body at all
		wantLoc            []any  // exact loc of detail[0]
		wantLocPrefix      []any  // or only its beginning
		wantType           string // detail[0].type, when set
	}{
		{name: "string for integer", method: http.MethodPost, path: "/sdapi/v1/txt2img",
			body: []byte(`{"steps":"abc"}`), wantLoc: []any{"body", "steps"}, wantType: "type_error.integer"},
		{name: "malformed JSON", method: http.MethodPost, path: "/sdapi/v1/txt2img",
			body: []byte(`{"steps": 20,`), wantLocPrefix: []any{"body"}},
		{name: "list in string list", method: http.MethodPost, path: "/sdapi/v1/txt2img",
			body: []byte(`{"styles":[[]]}`), wantLoc: []any{"body", "styles", 0.0}, wantType: "type_error.str"},
		{name: "second list item wrong", method: http.MethodPost, path: "/sdapi/v1/txt2img",
			body: []byte(`{"styles":["ok", {}]}`), wantLoc: []any{"body", "styles", 1.0}},
		{name: "string for object", method: http.MethodPost, path: "/sdapi/v1/txt2img",
			body: []byte(`{"override_settings":"x"}`), wantLoc: []any{"body", "override_settings"}},
		{name: "object for boolean", method: http.MethodPost, path: "/sdapi/v1/img2img",
			body: []byte(`{"include_init_images":{}}`), wantLoc: []any{"body", "include_init_images"}},
		{name: "number body", method: http.MethodPost, path: "/sdapi/v1/txt2img",
			body: []byte(`5`), wantLoc: []any{"body"}, wantType: "type_error.dict"},
		{name: "missing body txt2img", method: http.MethodPost, path: "/sdapi/v1/txt2img",
			wantLoc: []any{"body"}, wantType: "value_error.missing"},
		{name: "missing body png-info", method: http.MethodPost, path: "/sdapi/v1/png-info",
			wantLocPrefix: []any{"body"}},
		{name: "missing body options", method: http.MethodPost, path: "/sdapi/v1/options",
			wantLocPrefix: []any{"body"}},
		{name: "png-info image is a number", method: http.MethodPost, path: "/sdapi/v1/png-info",
			body: []byte(`{"image":5}`), wantLoc: []any{"body", "image"}},
		{name: "query not a boolean", method: http.MethodGet, path: "/sdapi/v1/progress?skip_current_image=notabool",
			wantLoc: []any{"query", "skip_current_image"}, wantType: "type_error.bool"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := ts.do(t, tc.method, tc.path, tc.body)
			assertStatus(t, res, http.StatusUnprocessableEntity)
			detail := validationDetail(t, res.Body)
			loc := detail[0].Loc
			switch {
			case tc.wantLoc != nil && !reflect.DeepEqual(loc, tc.wantLoc):
				t.Errorf("detail[0].loc: got %v, want %v\nbody: %s", loc, tc.wantLoc, res.Body)
			case tc.wantLocPrefix != nil && (len(loc) < len(tc.wantLocPrefix) || !reflect.DeepEqual(loc[:len(tc.wantLocPrefix)], tc.wantLocPrefix)):
				t.Errorf("detail[0].loc: got %v, want it to start with %v", loc, tc.wantLocPrefix)
			}
			if tc.wantType != "" && detail[0].Type != tc.wantType {
				t.Errorf("detail[0].type: got %q, want %q", detail[0].Type, tc.wantType)
			}
			assertNoGoInternals(t, res.Body)
		})
	}
}

func TestRoutingErrors(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for _, tc := range []struct {
		name, method, path string
		status             int
		want               string
	}{
		{"unknown path", http.MethodGet, "/sdapi/v1/nope", http.StatusNotFound, `{"detail":"Not Found"}`},
		{"unknown path with body", http.MethodPost, "/sdapi/v2/txt2img", http.StatusNotFound, `{"detail":"Not Found"}`},
		{"root", http.MethodGet, "/", http.StatusNotFound, `{"detail":"Not Found"}`},
		{"GET on a POST route", http.MethodGet, "/sdapi/v1/txt2img", http.StatusMethodNotAllowed, `{"detail":"Method Not Allowed"}`},
		{"POST on a GET route", http.MethodPost, "/sdapi/v1/samplers", http.StatusMethodNotAllowed, `{"detail":"Method Not Allowed"}`},
		{"DELETE on options", http.MethodDelete, "/sdapi/v1/options", http.StatusMethodNotAllowed, `{"detail":"Method Not Allowed"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := ts.doRaw(t, ts.newRequest(t, tc.method, tc.path, nil))
			assertStatus(t, res, tc.status)
			if got := strings.TrimSpace(string(res.Body)); got != tc.want {
				t.Errorf("body: got %s, want %s", got, tc.want)
			}
		})
	}
}

// assertA1111Error checks that body is exactly A1111's four-key error shape
// and returns it.
func assertA1111Error(t *testing.T, body []byte) a1111Error {
	t.Helper()
	keys := slices.Sorted(maps.Keys(decode[map[string]any](t, body)))
	if want := []string{"body", "detail", "error", "errors"}; !slices.Equal(keys, want) {
		t.Errorf("error body keys: got %v, want %v\nbody: %s", keys, want, body)
	}
	assertNoGoInternals(t, body)
	return decode[a1111Error](t, body)
}

// assertNoGoInternals fails t if body leaks Go implementation details.
func assertNoGoInternals(t *testing.T, body []byte) {
	t.Helper()
	for _, s := range []string{".go:", "goroutine", "runtime.", "panic", "*server.", "*echo.", "openapi3", "%!", "0x"} {
		if strings.Contains(string(body), s) {
			t.Errorf("body leaks %q: %s", s, body)
		}
	}
}

func TestTxt2ImgNotImplemented(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	res := ts.do(t, http.MethodPost, "/sdapi/v1/txt2img", []byte(`{"prompt":"a cat","steps":20,"width":512,"height":512}`))
	assertStatus(t, res, http.StatusNotImplemented)
	e := assertA1111Error(t, res.Body)
	if e.Error != "NotImplementedError" || e.Detail == "" || e.Errors == "" || e.Body != "" {
		t.Errorf("501 body: got %+v", e)
	}
}

// TestTxt2ImgAcceptsWhatPydanticAccepts: unknown keys are ignored, null is
// accepted for every nullable (Optional) field, values are coerced, and a
// list of pairs is a dict, as in A1111, so none of these may be a 422.
func TestTxt2ImgAcceptsWhatPydanticAccepts(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	schema := ts.V.Doc().Components.Schemas["StableDiffusionProcessingTxt2Img"]
	if schema == nil || len(schema.Value.Properties) < 40 {
		t.Fatalf("StableDiffusionProcessingTxt2Img schema missing or too small")
	}
	var fields []string
	for k, p := range schema.Value.Properties {
		if p.Value.Nullable {
			fields = append(fields, k)
		}
	}
	sort.Strings(fields)
	bodies := map[string]string{
		"unknown keys":        `{"prompt":"a cat","not_a_field":1,"sd_model":"x","extra":{"deep":[1,2]}}`,
		"empty object":        `{}`,
		"every field at null": everyFieldNull(t, fields),
		"coerced values":      `{"steps":"2","seed":2.7,"cfg_scale":"7.5","prompt":123,"tiling":"yes","restore_faces":0,"styles":[1,true]}`,
		"empty list body":     `[]`,
		"list of pairs body":  `[["steps","3"],"hr"]`,
	}
	for _, f := range fields {
		bodies["null "+f] = `{` + quote(f) + `:null}`
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			res := ts.do(t, http.MethodPost, "/sdapi/v1/txt2img", []byte(body))
			if res.Status != http.StatusNotImplemented {
				t.Errorf("got %d, want 501 (accepted by validation)\nbody: %s", res.Status, res.Body)
			}
		})
	}
}

func everyFieldNull(t *testing.T, fields []string) string {
	t.Helper()
	m := map[string]any{}
	for _, f := range fields {
		m[f] = nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPanicBecomesA1111Error replaces a spec route's handler with one that
// panics, so the answer is still checked against the spec.
func TestPanicBecomesA1111Error(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		value any
	}{
		{"string", "boom: secret internal state at /home/user/x.go:12"},
		{"error", errors.New("nil map dereference in runner")},
		{"runtime error", nil}, // a real nil map write
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, newTestDirs(t), func(e *echo.Echo) {
				e.GET("/sdapi/v1/memory", func(echo.Context) error {
					if tc.value == nil {
						var m map[string]int
						m["x"] = 1
					}
					panic(tc.value)
				})
			})
			res := ts.do(t, http.MethodGet, "/sdapi/v1/memory", nil)
			assertStatus(t, res, http.StatusInternalServerError)
			e := assertA1111Error(t, res.Body)
			for _, s := range []string{"boom", "secret", "nil map", "runner", "assignment"} {
				if strings.Contains(string(res.Body), s) {
					t.Errorf("panic body leaks %q: %+v", s, e)
				}
			}
			// The server still answers afterwards.
			assertStatus(t, ts.do(t, http.MethodGet, "/sdapi/v1/samplers", nil), http.StatusOK)
		})
	}
}
