package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/gen"
	"github.com/sdapi/sdapi/server"
)

// Responses as A1111 1.10 sends them: pydantic's response models emit every
// field (null included) in model order, floats as Python floats, and
// Starlette's JSONResponse writes them compactly.

// keysOf returns the keys of the JSON object in b, in the order sent.
func keysOf(t testing.TB, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", b)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// specOrder lists a component schema's properties by x-order.
func specOrder(t testing.TB, schema string) []string {
	t.Helper()
	spec, err := gen.GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	s := spec.Components.Schemas[schema].Value
	keys := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		keys = append(keys, k)
	}
	order := func(k string) float64 {
		n, ok := s.Properties[k].Value.Extensions["x-order"].(float64)
		if !ok { // a $ref property carries it beside the $ref
			n, ok = s.Properties[k].Extensions["x-order"].(float64)
		}
		if !ok {
			t.Fatalf("%s.%s has no x-order", schema, k)
		}
		return n
	}
	sort.Slice(keys, func(i, j int) bool { return order(keys[i]) < order(keys[j]) })
	return keys
}

func TestResponseFieldsInModelOrderWithNulls(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.Dirs.addCheckpoint(t, "no-unet")
	assertStatus(t, ts.do(t, http.MethodPost, "/sdapi/v1/refresh-checkpoints", nil), http.StatusOK)

	for _, tc := range []struct {
		path, schema string
		raw          []string // substrings the body must hold, byte for byte
	}{
		// Idle: progress=0 and eta_relative=0 coerced to float, no image.
		{"/sdapi/v1/progress", "ProgressResponse", []string{`{"progress":0.0,"eta_relative":0.0,"state":{"skipped":false,"interrupted":false,`, `"current_image":null`}},
		{"/sdapi/v1/sd-models", "SDModelItem", []string{`"hash":null,"sha256":null,`, `"config":null}`}},
		{"/sdapi/v1/upscalers", "UpscalerItem", []string{`{"name":"None","model_name":null,"model_path":null,"model_url":null,"scale":4.0}`}},
		{"/sdapi/v1/schedulers", "SchedulerItem", []string{`"aliases":null`, `"default_rho":-1.0`}},
		{"/sdapi/v1/memory", "MemoryResponse", []string{`"cuda":{"error":"unavailable"}}`}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res := ts.do(t, http.MethodGet, tc.path, nil) // validated against the spec's required fields
			assertStatus(t, res, http.StatusOK)
			body := res.Body
			if body[0] == '[' {
				var items []json.RawMessage
				if err := json.Unmarshal(body, &items); err != nil || len(items) == 0 {
					t.Fatalf("want a non-empty list: %s", body)
				}
				body = items[0]
			}
			if got, want := keysOf(t, body), specOrder(t, tc.schema); !slices.Equal(got, want) {
				t.Errorf("keys %v, want %v", got, want)
			}
			for _, s := range tc.raw {
				if !bytes.Contains(res.Body, []byte(s)) {
					t.Errorf("body lacks %s:\n%s", s, res.Body)
				}
			}
		})
	}
}

func TestMemoryKeysAsA1111(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	res := ts.do(t, http.MethodGet, "/sdapi/v1/memory", nil)
	assertStatus(t, res, http.StatusOK)
	if got := keysOf(t, res.Body); !slices.Equal(got, []string{"ram", "cuda"}) {
		t.Errorf("keys %v, want [ram cuda]", got)
	}
	var m struct{ Ram json.RawMessage }
	if err := json.Unmarshal(res.Body, &m); err != nil {
		t.Fatal(err)
	}
	if got := keysOf(t, m.Ram); !slices.Equal(got, []string{"free", "used", "total"}) {
		t.Errorf("ram keys %v, want [free used total]", got)
	}
}

func TestSamplerOptionsAreStrings(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	res := ts.do(t, http.MethodGet, "/sdapi/v1/samplers", nil)
	assertStatus(t, res, http.StatusOK)
	var samplers []struct {
		Name    string
		Options map[string]any
	}
	if err := json.Unmarshal(res.Body, &samplers); err != nil {
		t.Fatal(err)
	}
	sawTrue := false
	for _, s := range samplers {
		for k, v := range s.Options {
			str, ok := v.(string)
			if !ok {
				t.Errorf("%s options[%s] = %#v, want a string (dict[str, str])", s.Name, k, v)
			}
			sawTrue = sawTrue || str == "True"
		}
	}
	if !sawTrue {
		t.Errorf(`no option is "True" (pydantic's str(True)): %s`, res.Body)
	}
}

func TestOptionsInRegistrationOrderWithPythonNumbers(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	res := ts.do(t, http.MethodGet, "/sdapi/v1/options", nil)
	assertStatus(t, res, http.StatusOK)
	got, want := keysOf(t, res.Body), specOrder(t, "Options")
	if !slices.Equal(got, want) {
		t.Fatalf("GET /options keys are not in A1111's registration order:\n got %v\nwant %v", got[:min(10, len(got))], want[:10])
	}
	if got[0] != "samples_save" || got[len(got)-1] != "extra_options_accordion" {
		t.Errorf("first %q last %q, want samples_save … extra_options_accordion", got[0], got[len(got)-1])
	}
	for _, s := range []string{
		`"jpeg_quality":80.0,`,            // int default: typed float by OptionsModel
		`"CLIP_stop_at_last_layers":1.0,`, // the example
		`"img_downscale_threshold":4.0,`,  // float default
		`"s_churn":0.0,`,                  // float 0.0 default (Any): stays 0.0
		`"eta_noise_seed_delta":0,`,       // int 0 default (Any): stays an int
		`"sd_checkpoint_hash":"",`,        // nothing loaded
		`"samples_format":"png",`,         // strings as they are
	} {
		if !bytes.Contains(res.Body, []byte(s)) {
			t.Errorf("GET /options lacks %s", s)
		}
	}
	// A value set through the API prints as A1111 would hold it.
	assertStatus(t, ts.do(t, http.MethodPost, "/sdapi/v1/options", []byte(`{"jpeg_quality":95,"eta_noise_seed_delta":31337}`)), http.StatusOK)
	res = ts.do(t, http.MethodGet, "/sdapi/v1/options", nil)
	for _, s := range []string{`"jpeg_quality":95.0,`, `"eta_noise_seed_delta":31337,`} {
		if !bytes.Contains(res.Body, []byte(s)) {
			t.Errorf("after POST, GET /options lacks %s", s)
		}
	}
}

func TestCmdFlags(t *testing.T) {
	t.Parallel()
	a1111 := specOrder(t, "Flags")
	if len(a1111) != 126 {
		t.Fatalf("spec Flags has %d keys, want A1111 1.10's 126", len(a1111))
	}
	for _, tc := range []struct {
		name  string
		flags map[string]any
		extra []string // the server's own flags, after A1111's
		raw   []string
	}{
		{"as configured", map[string]any{"api": true, "port": 7861, "api_auth": "<redacted>", "threads": 4}, []string{"threads"},
			// port's argparse default is None: FlagsModel types it str.
			[]string{`"port":"7861",`, `"api":true,`, `"api_auth":"<redacted>",`, `"max_batch_count":16,`, `"gfpgan_dir":"./GFPGAN",`, `"threads":4}`}},
		{"none configured", nil, nil, []string{`{"f":false,`, `"port":null,`, `"api":false,`, `"api_auth":null,`, `"swinir_models_path":null}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, func(c *server.Config) { c.Flags = tc.flags })
			res := ts.do(t, http.MethodGet, "/sdapi/v1/cmd-flags", nil)
			assertStatus(t, res, http.StatusOK)
			if got, want := keysOf(t, res.Body), append(slices.Clone(a1111), tc.extra...); !slices.Equal(got, want) {
				t.Errorf("keys:\n got %v\nwant %v", got, want)
			}
			for _, s := range tc.raw {
				if !bytes.Contains(res.Body, []byte(s)) {
					t.Errorf("cmd-flags lacks %s:\n%s", s, res.Body)
				}
			}
		})
	}
}

func TestCheckpointHashTitleAndOptions(t *testing.T) {
	t.Parallel()
	dirs := newTestDirs(t)
	dir := dirs.addCheckpoint(t, "tiny")
	// The hash: sha256 over unet/'s files in name order, concatenated.
	writeFile(t, filepath.Join(dir, "unet", "weights.pb"), "WEIGHTS")
	writeFile(t, filepath.Join(dir, "unet", "model.onnx"), "GRAPH")
	writeFile(t, filepath.Join(dir, "text_encoder", "model.onnx"), "not hashed")
	sum := sha256.Sum256([]byte("GRAPH" + "WEIGHTS"))
	full := hex.EncodeToString(sum[:])
	short := full[:10]
	title := "tiny [" + short + "]"
	ts := startServer(t, dirs, nil)

	res := ts.do(t, http.MethodGet, "/sdapi/v1/sd-models", nil)
	assertJSON(t, res.Body, `[{"title":`+quote(title)+`,"model_name":"tiny","hash":`+quote(short)+`,"sha256":`+quote(full)+`,"filename":`+quote(dir)+`,"config":null}]`)

	for _, name := range []string{"tiny", title, short, full} {
		t.Run(name, func(t *testing.T) {
			assertStatus(t, ts.do(t, http.MethodPost, "/sdapi/v1/options", []byte(`{"sd_model_checkpoint":`+quote(name)+`}`)), http.StatusOK)
			var opts struct {
				Checkpoint string `json:"sd_model_checkpoint"`
				Hash       string `json:"sd_checkpoint_hash"`
			}
			if err := json.Unmarshal(ts.do(t, http.MethodGet, "/sdapi/v1/options", nil).Body, &opts); err != nil {
				t.Fatal(err)
			}
			if opts.Checkpoint != title || opts.Hash != full {
				t.Errorf("after POST %q: sd_model_checkpoint %q sd_checkpoint_hash %q, want %q %q", name, opts.Checkpoint, opts.Hash, title, full)
			}
		})
	}
	res = ts.do(t, http.MethodPost, "/sdapi/v1/options", []byte(`{"sd_model_checkpoint":"tiny [0000000000]"}`))
	assertStatus(t, res, http.StatusInternalServerError)
	assertJSON(t, res.Body, `{"error":"RuntimeError","detail":"","body":"","errors":"model 'tiny [0000000000]' not found"}`)
}

func TestErrorBodiesAsA1111(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	// An HTTPException: str(e) is "" on Starlette 0.26.1; keys in
	// handle_exception's order.
	res := ts.do(t, http.MethodPost, "/sdapi/v1/interrogate", []byte(`{"image":"x","model":"nope"}`))
	if !strings.HasPrefix(string(res.Body), `{"error":"HTTPException","detail":`) || !strings.HasSuffix(string(res.Body), `,"body":"","errors":""}`) {
		t.Errorf("HTTPException body: %d %s", res.Status, res.Body)
	}
}

func TestMethodNotAllowedListsTheRouteMethods(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodGet, "/sdapi/v1/txt2img", "POST"},
		{http.MethodPost, "/sdapi/v1/samplers", "GET"},
		// Two routes share the path: Starlette stops at the first (GET).
		{http.MethodDelete, "/sdapi/v1/options", "GET"},
		{http.MethodPut, "/sdapi/v1/progress", "GET"},
	} {
		// Not through the validator: the spec has no such operation.
		res, err := ts.Client.Do(ts.newRequest(t, tc.method, tc.path, nil))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status %d, want 405", tc.method, tc.path, res.StatusCode)
		}
		if got := res.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
}

// TestHTTPBasicHeaders follows FastAPI 0.94's HTTPBasic: the scheme is what
// precedes the first space; a Basic header without "user:password" is
// "Invalid authentication credentials", another scheme "Not authenticated".
func TestHTTPBasicHeaders(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, withAuth(authPairs...))
	for _, tc := range []struct{ header, detail string }{
		{"Basic", "Invalid authentication credentials"},              // "Basic " once trimmed
		{"Basic ", "Invalid authentication credentials"},             // empty credentials
		{"basic bm9jb2xvbg==", "Invalid authentication credentials"}, // "nocolon"
		{"Basic !!!", "Invalid authentication credentials"},          // not base64
		{"Basic Og==", "Incorrect username or password"},             // ":" is user "" password ""
		{"Bearer abc", "Not authenticated"},
		{"Basicx abc", "Not authenticated"},
	} {
		req := ts.newRequest(t, http.MethodGet, "/sdapi/v1/options", nil)
		req.Header.Set("Authorization", tc.header)
		res := ts.doReq(t, req)
		assertStatus(t, res, http.StatusUnauthorized)
		assertJSON(t, res.Body, `{"error":"HTTPException","detail":`+quote(tc.detail)+`,"body":"","errors":""}`)
	}
}
