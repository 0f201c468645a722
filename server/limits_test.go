package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/server"
)

// testLimits are small enough that a 64×64 test image sits at the pixel
// limit and a 128×128 one is over it.
var testLimits = server.Limits{
	MaxBodyBytes:   1 << 20,
	MaxPixels:      64 * 64 * 2,
	MaxSteps:       10,
	MaxPromptChars: 20,
	MaxBatchImages: 2,
	MaxImages:      4,
}

// limitDetail is a 422 item of a limit, with pydantic's ctx.
type limitDetail struct {
	Loc  []any          `json:"loc"`
	Msg  string         `json:"msg"`
	Type string         `json:"type"`
	Ctx  map[string]any `json:"ctx"`
}

// Ensure every limit answers 422 in FastAPI's shape, naming the field and
// the limit, before the runner sees the job.
func TestLimitsUnprocessable(t *testing.T) {
	env := newGenServer(t, withConfig(func(c *server.Config) { c.Limits = testLimits }))
	small := pngDataURI(t, 64, 64, color.White)
	big := pngDataURI(t, 128, 128, color.White)
	type body = map[string]any
	tests := []struct {
		name  string
		path  string
		body  body
		loc   []any
		typ   string
		limit float64
	}{
		{"steps", "/sdapi/v1/txt2img", body{"steps": 11}, []any{"body", "steps"}, "value_error.number.not_le", 10},
		{"hires steps", "/sdapi/v1/txt2img", body{"steps": 2, "width": 32, "height": 32, "enable_hr": true, "denoising_strength": 0.5, "hr_second_pass_steps": 11},
			[]any{"body", "hr_second_pass_steps"}, "value_error.number.not_le", 10},
		{"steps from infotext", "/sdapi/v1/txt2img", body{"infotext": "a cat\nSteps: 50, Sampler: Euler, Size: 64x64"}, []any{"body", "steps"}, "value_error.number.not_le", 10},
		{"image size", "/sdapi/v1/txt2img", body{"steps": 2, "width": 128, "height": 128}, []any{"body"}, "value_error.number.not_le", 8192},
		{"hires target", "/sdapi/v1/txt2img", body{"steps": 2, "width": 64, "height": 64, "enable_hr": true, "denoising_strength": 0.5, "hr_scale": 2},
			[]any{"body", "hr_scale"}, "value_error.number.not_le", 8192},
		{"hires resize", "/sdapi/v1/txt2img", body{"steps": 2, "width": 64, "height": 64, "enable_hr": true, "denoising_strength": 0.5, "hr_resize_x": 256},
			[]any{"body", "hr_resize_x"}, "value_error.number.not_le", 8192},
		{"hires tiny strength", "/sdapi/v1/txt2img", body{"steps": 2, "width": 32, "height": 32, "enable_hr": true, "denoising_strength": 1e-9, "hr_scale": 1},
			[]any{"body", "denoising_strength"}, "value_error.number.not_ge", 0.002},
		{"img2img_fix_steps tiny strength", "/sdapi/v1/img2img", body{"init_images": []string{small}, "steps": 2, "width": 32, "height": 32, "denoising_strength": 1e-9,
			"override_settings": body{"img2img_fix_steps": true}}, []any{"body", "denoising_strength"}, "value_error.number.not_ge", 0.002},
		{"images per request", "/sdapi/v1/txt2img", body{"steps": 2, "width": 32, "height": 32, "n_iter": 5}, []any{"body"}, "value_error.number.not_le", 4},
		{"prompt", "/sdapi/v1/txt2img", body{"prompt": strings.Repeat("a", 21)}, []any{"body", "prompt"}, "value_error.any_str.max_length", 20},
		{"negative prompt", "/sdapi/v1/txt2img", body{"negative_prompt": strings.Repeat("é", 21)}, []any{"body", "negative_prompt"}, "value_error.any_str.max_length", 20},
		{"img2img steps", "/sdapi/v1/img2img", body{"init_images": []string{small}, "steps": 11}, []any{"body", "steps"}, "value_error.number.not_le", 10},
		{"init images count", "/sdapi/v1/img2img", body{"init_images": []string{small, small, small}, "batch_size": 1, "steps": 2, "width": 32, "height": 32},
			[]any{"body", "init_images"}, "value_error.list.max_items", 2},
		{"init image pixels", "/sdapi/v1/img2img", body{"init_images": []string{small, big}, "batch_size": 2, "steps": 2, "width": 32, "height": 32},
			[]any{"body", "init_images", float64(1)}, "value_error.number.not_le", 8192},
		{"mask pixels", "/sdapi/v1/img2img", body{"init_images": []string{small}, "mask": big}, []any{"body", "mask"}, "value_error.number.not_le", 8192},
		{"extras image pixels", "/sdapi/v1/extra-single-image", body{"image": big}, []any{"body", "image"}, "value_error.number.not_le", 8192},
		{"extras upscale", "/sdapi/v1/extra-single-image", body{"image": small, "upscaler_1": "Lanczos", "upscaling_resize": 8},
			[]any{"body", "upscaling_resize"}, "value_error.number.not_le", 8192 * 16},
		{"extras upscale to", "/sdapi/v1/extra-single-image", body{"image": small, "upscaler_1": "Lanczos", "resize_mode": 1, "upscaling_resize_w": 4096, "upscaling_resize_h": 64},
			[]any{"body", "upscaling_resize_w"}, "value_error.number.not_le", 8192 * 16},
		{"extras batch count", "/sdapi/v1/extra-batch-images", body{"imageList": []body{{"data": small, "name": "a"}, {"data": small, "name": "b"}, {"data": small, "name": "c"}}},
			[]any{"body", "imageList"}, "value_error.list.max_items", 2},
		{"extras batch pixels", "/sdapi/v1/extra-batch-images", body{"imageList": []body{{"data": small, "name": "a"}, {"data": big, "name": "b"}}},
			[]any{"body", "imageList", float64(1), "data"}, "value_error.number.not_le", 8192},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := env.do(t, http.MethodPost, tc.path, mustJSON(t, tc.body))
			assertStatus(t, res, http.StatusUnprocessableEntity)
			validationDetail(t, res.Body) // loc, msg and type in every item
			d := decode[struct{ Detail []limitDetail }](t, res.Body).Detail
			if len(d) != 1 {
				t.Fatalf("want one detail item: %s", res.Body)
			}
			got := d[0]
			if !reflect.DeepEqual(got.Loc, tc.loc) || got.Type != tc.typ || got.Ctx["limit_value"] != tc.limit {
				t.Errorf("got %+v\nwant loc %v type %s limit_value %v", got, tc.loc, tc.typ, tc.limit)
			}
			// The message names the limit and, for a single field, the field.
			if !strings.Contains(got.Msg, fmt.Sprint(tc.limit)) {
				t.Errorf("msg %q does not name the limit %v", got.Msg, tc.limit)
			}
			// A pixel limit's message names the flag that raises it.
			if strings.Contains(got.Msg, "pixels") && !strings.Contains(got.Msg, "raise it with "+server.MaxPixelsFlag) {
				t.Errorf("msg %q does not say which flag raises the pixel limit", got.Msg)
			}
			if len(tc.loc) > 1 && !strings.Contains(got.Msg, fmt.Sprint(tc.loc[1])) {
				t.Errorf("msg %q does not name the field %v", got.Msg, tc.loc[1])
			}
			assertNoGoInternals(t, res.Body)
		})
	}
	if n := len(env.Runner.Calls()); n != 0 {
		t.Errorf("the runner ran %d jobs over the limits", n)
	}

	// At every limit at once, a request still runs.
	t.Run("at the limits", func(t *testing.T) {
		// batch_size does not count towards the pixel limit: batches run
		// in sub-batches sized to memory.
		res := env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, body{
			"prompt": strings.Repeat("é", 20), "steps": 10, "width": 128, "height": 64, "batch_size": 4}))
		assertStatus(t, res, http.StatusOK)
		res = env.do(t, http.MethodPost, "/sdapi/v1/img2img", mustJSON(t, body{
			"init_images": []string{small, small}, "batch_size": 2, "steps": 10, "width": 64, "height": 64, "mask": small}))
		assertStatus(t, res, http.StatusOK)
		res = env.do(t, http.MethodPost, "/sdapi/v1/extra-batch-images", mustJSON(t, body{
			"imageList": []body{{"data": small, "name": "a"}, {"data": small, "name": "b"}}, "upscaler_1": "Lanczos", "upscaling_resize": 4}))
		assertStatus(t, res, http.StatusOK)
		// upscaler_1 None returns the image as it is, whatever the scale.
		res = env.do(t, http.MethodPost, "/sdapi/v1/extra-single-image", mustJSON(t, body{"image": small, "upscaler_1": "None", "upscaling_resize": 8}))
		assertStatus(t, res, http.StatusOK)
	})
}

// Ensure a body over the limit answers 413 in A1111's error shape, whether
// Content-Length announces it or the body is streamed without one.
func TestLimitsBodyTooLarge(t *testing.T) {
	const limit = 4096
	env := newGenServer(t, withConfig(func(c *server.Config) { c.Limits = server.Limits{MaxBodyBytes: limit} }))
	over := []byte(`{"prompt": "` + strings.Repeat("a", 2*limit) + `"}`)
	tests := []struct {
		name    string
		path    string
		body    []byte
		chunked bool
		want    int
	}{
		{"txt2img", "/sdapi/v1/txt2img", over, false, http.StatusRequestEntityTooLarge},
		{"txt2img streamed", "/sdapi/v1/txt2img", over, true, http.StatusRequestEntityTooLarge},
		{"options", "/sdapi/v1/options", over, false, http.StatusRequestEntityTooLarge},
		{"png-info streamed", "/sdapi/v1/png-info", []byte(`{"image": "` + strings.Repeat("A", 2*limit) + `"}`), true, http.StatusRequestEntityTooLarge},
		{"under the limit", "/sdapi/v1/txt2img", []byte(`{"prompt": "a cat", "steps": 2, "width": 32, "height": 32}`), true, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := env.newRequest(t, http.MethodPost, tc.path, tc.body)
			if tc.chunked {
				// A reader of unknown length: the client sends chunked.
				req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(tc.body)))
				req.ContentLength = -1
				req.GetBody = nil
			}
			res := env.doReq(t, req)
			assertStatus(t, res, tc.want)
			if tc.want != http.StatusRequestEntityTooLarge {
				return
			}
			e := assertA1111Error(t, res.Body)
			want := fmt.Sprintf("Request body is larger than this server's limit of %d bytes", limit)
			if e.Error != "HTTPException" || e.Detail != want || e.Errors != "" {
				t.Errorf("body %+v, want HTTPException %q", e, want)
			}
		})
	}
}

// Ensure the defaults apply when Config leaves Limits zero.
func TestLimitsDefaults(t *testing.T) {
	env := newGenServer(t)
	d := server.DefaultLimits()
	res := env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, map[string]any{"steps": d.MaxSteps + 1}))
	assertStatus(t, res, http.StatusUnprocessableEntity)
	got := decode[struct{ Detail []limitDetail }](t, res.Body).Detail
	if len(got) != 1 || got[0].Ctx["limit_value"] != float64(d.MaxSteps) {
		t.Errorf("body %s, want the default steps limit %d", res.Body, d.MaxSteps)
	}
	raw, err := json.Marshal(d)
	if err != nil || bytes.Contains(raw, []byte(":0")) {
		t.Errorf("DefaultLimits has a zero field: %s", raw)
	}
}
