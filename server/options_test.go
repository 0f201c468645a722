package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// getOptions answers GET /sdapi/v1/options as a map.
func (s *testServer) getOptions(t *testing.T) map[string]any {
	t.Helper()
	res := s.do(t, http.MethodGet, "/sdapi/v1/options", nil)
	assertStatus(t, res, http.StatusOK)
	return decode[map[string]any](t, res.Body)
}

// postOptions sends body to POST /sdapi/v1/options.
func (s *testServer) postOptions(t *testing.T, body string) []byte {
	t.Helper()
	res := s.do(t, http.MethodPost, "/sdapi/v1/options", []byte(body))
	assertStatus(t, res, http.StatusOK)
	if got := strings.TrimSpace(string(res.Body)); got != "null" {
		t.Errorf("POST /options %s: body %q, want null", body, got)
	}
	return res.Body
}

func TestOptionsDefaults(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	got := ts.getOptions(t)
	want := ts.V.Doc().Components.Schemas["Options"].Value.Properties
	if len(got) != len(want) {
		t.Errorf("GET /options has %d keys, the Options schema %d", len(got), len(want))
	}
	for key, val := range map[string]any{
		"samples_format":           "png",
		"send_seed":                true,
		"sd_model_checkpoint":      nil,
		"api_enable_requests":      true,
		"enable_pnginfo":           true,
		"CLIP_stop_at_last_layers": 1.0,
	} {
		v, ok := got[key]
		if !ok {
			t.Errorf("GET /options has no %q", key)
			continue
		}
		if !reflect.DeepEqual(v, val) {
			t.Errorf("%s: got %#v, want %#v", key, v, val)
		}
	}
}

func TestOptionsSetSurvivesRestart(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.postOptions(t, `{"send_seed": false, "samples_format": "jpg"}`)
	for _, key := range []string{"send_seed", "samples_format"} {
		got := ts.getOptions(t)[key]
		want := map[string]any{"send_seed": false, "samples_format": "jpg"}[key]
		if got != want {
			t.Errorf("after POST: %s = %#v, want %#v", key, got, want)
		}
	}

	b, err := os.ReadFile(filepath.Join(ts.Dirs.Data, "config.json"))
	if err != nil {
		t.Fatalf("config.json not written: %v", err)
	}
	if saved := decode[map[string]any](t, b); saved["send_seed"] != false {
		t.Errorf("config.json send_seed: got %#v, want false", saved["send_seed"])
	}

	restarted := startServer(t, ts.Dirs, nil)
	opts := restarted.getOptions(t)
	if opts["send_seed"] != false || opts["samples_format"] != "jpg" {
		t.Errorf("after restart: send_seed=%#v samples_format=%#v, want false, jpg", opts["send_seed"], opts["samples_format"])
	}
}

func TestOptionsRefusals(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.Dirs.addCheckpoint(t, "dreamshaper-8-onnx")
	ts.do(t, http.MethodPost, "/sdapi/v1/refresh-checkpoints", nil)

	for _, tc := range []struct {
		name, body string
		status     int
		want       string // exact body for 500s
		wantLoc    []any  // detail[0].loc for 422s
	}{
		{name: "unknown key", body: `{"samples_format":"jpg","nope":1}`, status: http.StatusInternalServerError,
			want: `{"error":"KeyError","detail":"","body":"","errors":"'nope'"}`},
		{name: "unknown checkpoint", body: `{"sd_model_checkpoint":"x","samples_format":"jpg"}`, status: http.StatusInternalServerError,
			want: `{"error":"RuntimeError","detail":"","body":"","errors":"model 'x' not found"}`},
		{name: "wrong type", body: `{"send_seed":"x"}`, status: http.StatusUnprocessableEntity,
			wantLoc: []any{"body", "send_seed"}},
		{name: "wrong type next to a good key", body: `{"samples_format":"jpg","send_seed":[]}`, status: http.StatusUnprocessableEntity,
			wantLoc: []any{"body", "send_seed"}},
		{name: "not an object", body: `["send_seed"]`, status: http.StatusUnprocessableEntity,
			wantLoc: []any{"body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.getOptions(t)
			res := ts.do(t, http.MethodPost, "/sdapi/v1/options", []byte(tc.body))
			assertStatus(t, res, tc.status)
			if tc.want != "" {
				assertJSON(t, res.Body, tc.want)
			}
			if tc.wantLoc != nil {
				if loc := validationDetail(t, res.Body)[0].Loc; !reflect.DeepEqual(loc, tc.wantLoc) {
					t.Errorf("detail[0].loc: got %v, want %v", loc, tc.wantLoc)
				}
			}
			if after := ts.getOptions(t); !reflect.DeepEqual(after, before) {
				t.Errorf("a refused POST changed the options")
			}
		})
	}
}

func TestOptionsAccepted(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.Dirs.addCheckpoint(t, "dreamshaper-8-onnx")
	ts.do(t, http.MethodPost, "/sdapi/v1/refresh-checkpoints", nil)

	for _, tc := range []struct {
		name, body string
		want       map[string]any // values GET must show afterwards
	}{
		{"installed checkpoint", `{"sd_model_checkpoint":"dreamshaper-8-onnx"}`,
			map[string]any{"sd_model_checkpoint": "dreamshaper-8-onnx"}},
		{"checkpoint back to null", `{"sd_model_checkpoint":null}`,
			map[string]any{"sd_model_checkpoint": nil}},
		// restrict_api options are silently ignored through the API.
		{"restrict-api key", `{"api_enable_requests":false}`,
			map[string]any{"api_enable_requests": true}},
		{"restrict-api key next to a normal one", `{"api_enable_requests":false,"send_size":false}`,
			map[string]any{"api_enable_requests": true, "send_size": false}},
		{"empty object", `{}`, map[string]any{"send_size": false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts.postOptions(t, tc.body)
			got := ts.getOptions(t)
			for k, want := range tc.want {
				if got[k] != want {
					t.Errorf("%s: got %#v, want %#v", k, got[k], want)
				}
			}
		})
	}
}
