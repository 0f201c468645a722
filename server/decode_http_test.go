package server_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/processing/imagemeta"
)

// txt2imgFieldOrder is StableDiffusionTxt2ImgProcessingAPI's field order in
// A1111 1.10: the dataclass fields of StableDiffusionProcessing and
// StableDiffusionProcessingTxt2Img, then the new additional_fields.
var txt2imgFieldOrder = []string{
	"prompt", "negative_prompt", "styles", "seed", "subseed", "subseed_strength", "seed_resize_from_h",
	"seed_resize_from_w", "sampler_name", "scheduler", "batch_size", "n_iter", "steps", "cfg_scale", "width",
	"height", "restore_faces", "tiling", "do_not_save_samples", "do_not_save_grid", "eta", "denoising_strength",
	"s_min_uncond", "s_churn", "s_tmax", "s_tmin", "s_noise", "override_settings",
	"override_settings_restore_afterwards", "refiner_checkpoint", "refiner_switch_at", "disable_extra_networks",
	"firstpass_image", "comments", "enable_hr", "firstphase_width", "firstphase_height", "hr_scale",
	"hr_upscaler", "hr_second_pass_steps", "hr_resize_x", "hr_resize_y", "hr_checkpoint_name",
	"hr_sampler_name", "hr_scheduler", "hr_prompt", "hr_negative_prompt", "force_task_id", "sampler_index",
	"script_name", "script_args", "send_images", "save_images", "alwayson_scripts", "infotext",
}

// objectKeys returns the keys of the JSON object at key in body, in order
// (the top level when key is "").
func objectKeys(t *testing.T, body []byte, key string) []string {
	t.Helper()
	if key != "" {
		var top map[string]json.RawMessage
		if err := json.Unmarshal(body, &top); err != nil {
			t.Fatal(err)
		}
		body = top[key]
	}
	return keysOf(t, body)
}

// TestGenerationDecodesAsA1111 sends a python-requests style body (no
// Content-Type, values of the wrong JSON type that pydantic coerces) to
// the real server and checks what reached the runner and what came back.
func TestGenerationDecodesAsA1111(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	body := `{"prompt":123,"steps":"2","cfg_scale":"7.5","width":"64","height":64.9,"seed":"7","tiling":"no",` +
		`"send_images":"true","styles":[],"override_settings":[["CLIP_stop_at_last_layers",2]]}`
	req := env.newRequest(t, http.MethodPost, "/sdapi/v1/txt2img", []byte(body))
	req.Header.Del("Content-Type")
	res := env.doReq(t, req)
	assertStatus(t, res, http.StatusOK)
	calls := env.Runner.Calls()
	last := calls[len(calls)-1]
	if last.Steps != 2 || last.CFGScale != 7.5 || last.Width != 64 || last.Height != 64 || last.Seeds[0] != 7 ||
		last.Prompts[0] != "123" || last.Tiling || last.ClipSkip != 2 {
		t.Errorf("runner got steps %d cfg %v size %dx%d seeds %v prompt %q tiling %v clip skip %d",
			last.Steps, last.CFGScale, last.Width, last.Height, last.Seeds, last.Prompts[0], last.Tiling, last.ClipSkip)
	}
	if got := objectKeys(t, res.Body, ""); !reflect.DeepEqual(got, []string{"images", "parameters", "info"}) {
		t.Errorf("response keys %v", got)
	}
	if got := objectKeys(t, res.Body, "parameters"); !reflect.DeepEqual(got, txt2imgFieldOrder) {
		t.Errorf("parameters keys:\n got %v\nwant %v", got, txt2imgFieldOrder)
	}
	for _, want := range []string{`"prompt":"123",`, `"seed":7,`, `"subseed_strength":0,`, `"steps":2,"cfg_scale":7.5,"width":64,"height":64,`,
		`"tiling":false,`, `"override_settings":{"CLIP_stop_at_last_layers":2},`, `"hr_scale":2.0,`, `"send_images":true,`} {
		if !strings.Contains(string(res.Body), want) {
			t.Errorf("parameters lack %s: %.1500s", want, res.Body)
		}
	}
	if len(decode[genResponse](t, res.Body).Images) != 1 {
		t.Errorf("no image")
	}
}

// TestGenerationRefusesAsA1111: pydantic's 422, every error of the body
// in the model's field order, and null only where the model allows it.
func TestGenerationRefusesAsA1111(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	for _, tc := range []struct {
		name, path, body, want string
	}{
		{"several errors", "/sdapi/v1/txt2img", `{"send_images":"maybe","steps":"2.7","prompt":[],"sampler_index":null}`,
			`{"detail":[{"loc":["body","prompt"],"msg":"str type expected","type":"type_error.str"},` +
				`{"loc":["body","steps"],"msg":"value is not a valid integer","type":"type_error.integer"},` +
				`{"loc":["body","sampler_index"],"msg":"none is not an allowed value","type":"type_error.none.not_allowed"},` +
				`{"loc":["body","send_images"],"msg":"value could not be parsed to a boolean","type":"type_error.bool"}]}`},
		{"img2img denoising_strength null", "/sdapi/v1/img2img", `{"init_images":[],"denoising_strength":null}`,
			`{"detail":[{"loc":["body","denoising_strength"],"msg":"none is not an allowed value","type":"type_error.none.not_allowed"}]}`},
		{"validation before init_images", "/sdapi/v1/img2img", `{"include_init_images":"x"}`,
			`{"detail":[{"loc":["body","include_init_images"],"msg":"value could not be parsed to a boolean","type":"type_error.bool"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := env.newRequest(t, http.MethodPost, tc.path, []byte(tc.body))
			req.Header.Del("Content-Type")
			res := env.doReq(t, req)
			assertStatus(t, res, http.StatusUnprocessableEntity)
			if got := strings.TrimSpace(string(res.Body)); got != tc.want {
				t.Errorf("body:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
	// null init_images passes validation and is A1111's 404.
	res := env.do(t, http.MethodPost, "/sdapi/v1/img2img", []byte(`{"init_images":null,"mask":null}`))
	assertStatus(t, res, http.StatusNotFound)
	assertJSON(t, res.Body, httpExc(404, "Init image not found"))
}

// TestGenerationEncodesImagesAsA1111: encode_pil_to_base64 runs after the
// job, with the options as they are then (override_settings restored):
// the samples format, and the infotext in each image when enable_pnginfo.
func TestGenerationEncodesImagesAsA1111(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, settings string
		extra          map[string]any
		status         int
		format         string // of the returned image
		withInfo       bool
	}{
		{"png by default", "", nil, 200, "png", true},
		{"jpg from the options", `{"samples_format":"jpg"}`, nil, 200, "jpeg", true},
		{"override restored before encoding", "", map[string]any{"override_settings": map[string]any{"samples_format": "jpg"}}, 200, "png", true},
		{"override kept", "", map[string]any{"override_settings": map[string]any{"samples_format": "jpg"},
			"override_settings_restore_afterwards": false}, 200, "jpeg", true},
		{"no pnginfo", `{"enable_pnginfo":false}`, nil, 200, "png", false},
		{"unknown format", `{"samples_format":"bmp"}`, nil, 500, "", false},
		{"webp", `{"samples_format":"webp"}`, nil, 501, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []func(*genOptions)
			if tc.settings != "" {
				opts = append(opts, withSettings(tc.settings))
			}
			env := newGenServer(t, opts...)
			body := simpleTxt2Img()
			for k, v := range tc.extra {
				body[k] = v
			}
			res := env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, body))
			assertStatus(t, res, tc.status)
			if tc.status != 200 {
				e := assertA1111Error(t, res.Body)
				if tc.status == 500 && e.Detail != "Invalid image format" {
					t.Errorf("error %+v", e)
				}
				return
			}
			r := decode[genResponse](t, res.Body)
			_, raw := decodeB64Image(t, r.Images[0])
			info, err := imagemeta.Read(raw)
			if err != nil || info.Format != tc.format {
				t.Fatalf("image format %q (%v), want %s", info.Format, err, tc.format)
			}
			if want := r.info(t).Infotexts[0]; tc.withInfo && info.Parameters != want || !tc.withInfo && info.Parameters != "" {
				t.Errorf("image parameters %q (infotext %q, enable_pnginfo %v)", info.Parameters, want, tc.withInfo)
			}
		})
	}
}
