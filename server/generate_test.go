package server_test

import (
	"fmt"
	"image"
	"image/color"
	"maps"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/runner/sampling"
)

// simpleTxt2Img is simple_txt2img_request of A1111's test/test_txt2img.py.
func simpleTxt2Img() map[string]any {
	return map[string]any{
		"batch_size": 1, "cfg_scale": 7, "denoising_strength": 0, "enable_hr": false, "eta": 0,
		"firstphase_height": 0, "firstphase_width": 0, "height": 64, "n_iter": 1,
		"negative_prompt": "", "prompt": "example prompt", "restore_faces": false,
		"s_churn": 0, "s_noise": 1, "s_tmax": 0, "s_tmin": 0, "sampler_index": "Euler a",
		"seed": -1, "seed_resize_from_h": -1, "seed_resize_from_w": -1, "steps": 3,
		"styles": []string{}, "subseed": -1, "subseed_strength": 0, "tiling": false, "width": 64,
	}
}

// simpleImg2Img is simple_img2img_request of A1111's test/test_img2img.py.
func simpleImg2Img(t *testing.T) map[string]any {
	return map[string]any{
		"batch_size": 1, "cfg_scale": 7, "denoising_strength": 0.75, "eta": 0, "height": 64,
		"include_init_images": false, "init_images": []string{pngDataURI(t, 64, 64, color.NRGBA{200, 100, 50, 255})},
		"inpaint_full_res": false, "inpaint_full_res_padding": 0, "inpainting_fill": 0,
		"inpainting_mask_invert": false, "mask": nil, "mask_blur": 4, "n_iter": 1,
		"negative_prompt": "", "override_settings": map[string]any{}, "prompt": "example prompt",
		"resize_mode": 0, "restore_faces": false, "s_churn": 0, "s_noise": 1, "s_tmax": 0, "s_tmin": 0,
		"sampler_index": "Euler a", "seed": -1, "seed_resize_from_h": -1, "seed_resize_from_w": -1,
		"steps": 3, "styles": []string{}, "subseed": -1, "subseed_strength": 0, "tiling": false, "width": 64,
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := maps.Clone(m)
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func maskURI(t *testing.T) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			c := color.NRGBA{0, 0, 0, 255}
			if x >= 16 && x < 48 && y >= 16 && y < 48 {
				c = color.NRGBA{255, 255, 255, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return "data:image/png;base64," + b64(encodePNG(t, img))
}

// TestA1111HTTPTests sends the request bodies of A1111's own HTTP tests
// (notes §10). Every answer is checked against the spec by do; all are 200
// except the documented refusals.
func TestA1111HTTPTests(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	mask := maskURI(t)
	type tc struct {
		name, path string
		body       map[string]any
		status     int
		images     int
	}
	cases := []tc{
		{"txt2img simple", "/sdapi/v1/txt2img", simpleTxt2Img(), 200, 1},
		{"txt2img negative prompt", "/sdapi/v1/txt2img", with(simpleTxt2Img(), "negative_prompt", "example negative prompt"), 200, 1},
		{"txt2img complex prompt", "/sdapi/v1/txt2img", with(simpleTxt2Img(), "prompt", "((emphasis)), (emphasis1:1.1), [to:1], [from::2], [from:to:0.3], [alt|alt1]"), 200, 1},
		{"txt2img height 128", "/sdapi/v1/txt2img", with(simpleTxt2Img(), "height", 128), 200, 1},
		{"txt2img enable_hr", "/sdapi/v1/txt2img", with(simpleTxt2Img(), "enable_hr", true), 200, 1},
		{"txt2img tiling", "/sdapi/v1/txt2img", with(simpleTxt2Img(), "tiling", true), 200, 1},
		{"txt2img restore_faces", "/sdapi/v1/txt2img", with(simpleTxt2Img(), "restore_faces", true), 501, 0},
		{"txt2img n_iter 2", "/sdapi/v1/txt2img", with(simpleTxt2Img(), "n_iter", 2), 200, 2},
		{"txt2img batch_size 2", "/sdapi/v1/txt2img", with(simpleTxt2Img(), "batch_size", 2), 200, 2},
		{"img2img simple", "/sdapi/v1/img2img", simpleImg2Img(t), 200, 1},
		{"img2img with mask", "/sdapi/v1/img2img", with(simpleImg2Img(t), "mask", mask), 200, 1},
		{"img2img with inverted mask", "/sdapi/v1/img2img", with(simpleImg2Img(t), "mask", mask, "inpainting_mask_invert", true), 200, 1},
		{"img2img sd upscale", "/sdapi/v1/img2img", with(simpleImg2Img(t), "script_name", "sd upscale", "script_args", []any{"", 8, "Lanczos", 2.0}), 200, 1},
	}
	for _, s := range []string{"PLMS", "DDIM", "UniPC"} {
		cases = append(cases, tc{"txt2img sampler " + s, "/sdapi/v1/txt2img", with(simpleTxt2Img(), "sampler_index", s), 200, 1})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := env.do(t, http.MethodPost, c.path, mustJSON(t, c.body))
			assertStatus(t, res, c.status)
			switch c.status {
			case 200:
				r := decode[genResponse](t, res.Body)
				if len(r.Images) != c.images {
					t.Errorf("images: got %d, want %d", len(r.Images), c.images)
				}
				for _, im := range r.Images {
					decodeB64Image(t, im)
				}
				if r.info(t).Seed < 0 {
					t.Errorf("info.seed is %d: never -1", r.info(t).Seed)
				}
				if c.body["tiling"] == true && !strings.Contains(strings.Join(r.info(t).Infotexts, "\n"), "Tiling: True") {
					t.Errorf("tiling not recorded in the infotexts: %q", r.info(t).Infotexts)
				}
			default:
				e := assertA1111Error(t, res.Body)
				if !strings.Contains(e.Detail, "face") {
					t.Errorf("error does not say what is refused: %+v", e)
				}
			}
		})
	}
	// The samplers reached the runner by name.
	var seen []string
	for _, call := range env.Runner.Calls() {
		seen = append(seen, call.Sampler)
	}
	for _, s := range []string{"PLMS", "DDIM", "UniPC", "Euler a"} {
		if !strings.Contains(strings.Join(seen, "|"), s) {
			t.Errorf("sampler %s never reached the runner: %v", s, seen)
		}
	}
}

func TestTxt2ImgFixedSeed(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	body := mustJSON(t, with(simpleTxt2Img(), "seed", 1234, "batch_size", 2, "n_iter", 2))
	first := decode[genResponse](t, env.do(t, http.MethodPost, "/sdapi/v1/txt2img", body).Body)
	second := decode[genResponse](t, env.do(t, http.MethodPost, "/sdapi/v1/txt2img", body).Body)
	if len(first.Images) != 4 || !reflect.DeepEqual(first.Images, second.Images) {
		t.Errorf("fixed seed: images differ between two runs (%d, %d images)", len(first.Images), len(second.Images))
	}
	info := first.info(t)
	if want := []int64{1234, 1235, 1236, 1237}; !reflect.DeepEqual(info.AllSeeds, want) || info.Seed != 1234 {
		t.Errorf("info seed %d all_seeds %v, want 1234 %v", info.Seed, info.AllSeeds, want)
	}
	// Different images for different seeds.
	if first.Images[0] == first.Images[1] {
		t.Errorf("seed+1 gave the same image")
	}
}

func TestTxt2ImgResponseShape(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	res := env.do(t, http.MethodPost, "/sdapi/v1/txt2img", []byte(`{"prompt":"a cat","steps":2,"width":64,"height":64,"unknown_key":1}`))
	assertStatus(t, res, http.StatusOK)
	r := decode[genResponse](t, res.Body)
	p := r.Parameters
	// vars(request): requested values, defaults for the rest.
	for k, want := range map[string]any{"prompt": "a cat", "steps": 2.0, "sampler_index": "Euler", "sampler_name": nil,
		"cfg_scale": 7.0, "seed": -1.0, "denoising_strength": nil, "styles": nil, "send_images": true, "hr_scale": 2.0,
		"script_args": []any{}, "alwayson_scripts": map[string]any{}} {
		if got, ok := p[k]; !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("parameters[%s]: got %#v (present %v), want %#v", k, got, ok, want)
		}
	}
	if _, ok := p["unknown_key"]; ok {
		t.Errorf("parameters echo an unknown key")
	}
	if strings.HasPrefix(r.Images[0], "data:") {
		t.Errorf("image has a data: prefix")
	}
	// png-info on a returned image gives back its infotext.
	info := r.info(t)
	pi := env.do(t, http.MethodPost, "/sdapi/v1/png-info", mustJSON(t, map[string]any{"image": r.Images[0]}))
	assertStatus(t, pi, http.StatusOK)
	if got := decode[struct{ Info string }](t, pi.Body).Info; got != info.Infotexts[0] || got == "" {
		t.Errorf("png-info: got %q, want the image's infotext %q", got, info.Infotexts[0])
	}

	// send_images false: no images, still info.
	res = env.do(t, http.MethodPost, "/sdapi/v1/txt2img", []byte(`{"steps":1,"width":64,"height":64,"send_images":false}`))
	assertStatus(t, res, http.StatusOK)
	assertJSONPath(t, res.Body, "images", []any{})
}

func assertJSONPath(t *testing.T, body []byte, key string, want any) {
	t.Helper()
	if got := decode[map[string]any](t, body)[key]; !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %#v, want %#v", key, got, want)
	}
}

func TestImg2ImgParametersAndErrors(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	base := simpleImg2Img(t)

	res := env.do(t, http.MethodPost, "/sdapi/v1/img2img", mustJSON(t, base))
	assertStatus(t, res, http.StatusOK)
	p := decode[genResponse](t, res.Body).Parameters
	if p["init_images"] != nil || p["mask"] != nil {
		t.Errorf("init_images/mask echoed without include_init_images: %v %v", p["init_images"], p["mask"])
	}
	if p["inpainting_mask_invert"] != 0.0 {
		t.Errorf("inpainting_mask_invert echoed as %#v, want 0 (pydantic's int)", p["inpainting_mask_invert"])
	}
	res = env.do(t, http.MethodPost, "/sdapi/v1/img2img", mustJSON(t, with(base, "include_init_images", true)))
	if p := decode[genResponse](t, res.Body).Parameters; p["init_images"] == nil {
		t.Errorf("include_init_images: init_images not echoed")
	}
	calls := env.Runner.Calls()
	if in := calls[len(calls)-1].Init; in == nil || len(in.Images) != 1 || in.Images[0].Bounds().Dx() != 64 {
		t.Errorf("init image did not reach the runner: %+v", in)
	}

	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		want   string
	}{
		{"init_images missing", with(base, "init_images", nil), 404, httpExc(404, "Init image not found")},
		{"init image garbage", with(base, "init_images", []string{"data:image/png;base64,AAAA"}), 500, httpExc(500, "Invalid encoded image")},
		{"init image URL", with(base, "init_images", []string{"https://example.com/a.png"}), 500, httpExc(500, "Requests not allowed")},
		{"mask garbage", with(base, "mask", "bm90IGFuIGltYWdl"), 500, httpExc(500, "Invalid encoded image")},
		{"unknown script", with(base, "script_name", "no such script"), 422, httpExc(422, "Script 'no such script' not found")},
		{"unknown script before bad image", with(base, "script_name", "nope", "init_images", []string{"AAAA"}), 422, httpExc(422, "Script 'nope' not found")},
		{"unknown alwayson script", with(base, "alwayson_scripts", map[string]any{"controlnet": map[string]any{"args": []any{}}}), 422, httpExc(422, "Script 'controlnet' not found")},
		{"selectable as alwayson", with(base, "alwayson_scripts", map[string]any{"sd upscale": map[string]any{}}), 422, httpExc(422, "Cannot have a selectable script in the always on scripts params")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := env.do(t, http.MethodPost, "/sdapi/v1/img2img", mustJSON(t, tc.body))
			assertStatus(t, res, tc.status)
			assertJSON(t, res.Body, tc.want)
		})
	}
	res = env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, with(simpleTxt2Img(), "script_name", "img2img alternative test")))
	assertStatus(t, res, 422)
	assertJSON(t, res.Body, httpExc(422, "Script 'img2img alternative test' not found"))
}

func httpExc(_ int, detail string) string {
	// errors is str(e): "" on A1111's Starlette 0.26.1 (see httpException).
	return fmt.Sprintf(`{"error":"HTTPException","detail":%s,"body":"","errors":""}`, quote(detail))
}

func TestTxt2ImgInfotextFillsUnsetFields(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	body := `{"infotext":"a red fox\nSteps: 4, Sampler: DDIM, CFG scale: 5, Seed: 42, Size: 64x64","cfg_scale":9}`
	res := env.do(t, http.MethodPost, "/sdapi/v1/txt2img", []byte(body))
	assertStatus(t, res, http.StatusOK)
	calls := env.Runner.Calls()
	last := calls[len(calls)-1]
	if last.Steps != 4 || last.Sampler != "DDIM" || last.CFGScale != 9 || last.Seeds[0] != 42 || last.Prompts[0] != "a red fox" {
		t.Errorf("runner got steps %d sampler %s cfg %v seed %v prompt %q; want 4 DDIM 9 (the request's) 42 \"a red fox\"",
			last.Steps, last.Sampler, last.CFGScale, last.Seeds, last.Prompts)
	}
	p := decode[genResponse](t, res.Body).Parameters
	if p["steps"] != 4.0 || p["seed"] != 42.0 || p["cfg_scale"] != 9.0 || p["prompt"] != "a red fox" {
		t.Errorf("parameters do not show the pasted values: steps %v seed %v cfg %v prompt %v", p["steps"], p["seed"], p["cfg_scale"], p["prompt"])
	}
}

func TestOverrideSettingsGoneAfterRequest(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	before, _ := env.Options.Get("CLIP_stop_at_last_layers")
	res := env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, with(simpleTxt2Img(), "override_settings", map[string]any{"CLIP_stop_at_last_layers": 2})))
	assertStatus(t, res, http.StatusOK)
	calls := env.Runner.Calls()
	if got := calls[len(calls)-1].ClipSkip; got != 2 {
		t.Errorf("override did not reach the runner: clip skip %d", got)
	}
	opts := decode[map[string]any](t, env.do(t, http.MethodGet, "/sdapi/v1/options", nil).Body)
	if got := opts["CLIP_stop_at_last_layers"]; !reflect.DeepEqual(got, toFloat(before)) {
		t.Errorf("after the request: CLIP_stop_at_last_layers %v, want %v", got, before)
	}
}

func toFloat(v any) any {
	switch n := v.(type) {
	case int:
		return float64(n)
	case int64:
		return float64(n)
	}
	return v
}

func TestGenerationListings(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	samplers := decode[[]struct {
		Name    string
		Aliases []string
		Options map[string]any
	}](t, env.do(t, http.MethodGet, "/sdapi/v1/samplers", nil).Body)
	if len(samplers) != len(sampling.Samplers()) || samplers[0].Name != sampling.Samplers()[0].Name {
		t.Errorf("samplers: got %d, want %d", len(samplers), len(sampling.Samplers()))
	}
	res := env.do(t, http.MethodGet, "/sdapi/v1/schedulers", nil)
	if n := len(decode[[]any](t, res.Body)); n != len(sampling.Schedulers()) {
		t.Errorf("schedulers: got %d, want %d", n, len(sampling.Schedulers()))
	}
	assertJSON(t, env.do(t, http.MethodGet, "/sdapi/v1/upscalers", nil).Body,
		`[{"name":"None","model_name":null,"model_path":null,"model_url":null,"scale":4.0},`+
			`{"name":"Lanczos","model_name":null,"model_path":null,"model_url":null,"scale":4.0},`+
			`{"name":"Nearest","model_name":null,"model_path":null,"model_url":null,"scale":4.0}]`)
	if n := len(decode[[]any](t, env.do(t, http.MethodGet, "/sdapi/v1/latent-upscale-modes", nil).Body)); n != 6 {
		t.Errorf("latent-upscale-modes: got %d, want 6", n)
	}
	sc := decode[map[string][]string](t, env.do(t, http.MethodGet, "/sdapi/v1/scripts", nil).Body)
	if !strings.Contains(strings.Join(sc["img2img"], "|"), "sd upscale") || strings.Contains(strings.Join(sc["txt2img"], "|"), "sd upscale") {
		t.Errorf("scripts: %v", sc)
	}
	if n := len(decode[[]any](t, env.do(t, http.MethodGet, "/sdapi/v1/script-info", nil).Body)); n == 0 {
		t.Errorf("script-info is empty")
	}
}

func TestCheckpointUnloadReload(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	assertStatus(t, env.do(t, http.MethodPost, "/sdapi/v1/reload-checkpoint", nil), http.StatusOK)
	if _, ok := env.Models.Loaded(); !ok {
		t.Errorf("reload-checkpoint loaded nothing")
	}
	assertStatus(t, env.do(t, http.MethodPost, "/sdapi/v1/unload-checkpoint", nil), http.StatusOK)
	if _, ok := env.Models.Loaded(); ok {
		t.Errorf("unload-checkpoint left the model loaded")
	}
}

func TestInterrogateAndTraining(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	img := pngDataURI(t, 8, 8, color.White)
	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"no image", `{"image":null}`, 404, httpExc(404, "Image not found")},
		{"unknown model", `{"image":` + quote(img) + `,"model":"blip"}`, 404, httpExc(404, "Model not found")},
		{"bad image", `{"image":"AAAA","model":"clip"}`, 500, httpExc(500, "Invalid encoded image")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := env.do(t, http.MethodPost, "/sdapi/v1/interrogate", []byte(tc.body))
			assertStatus(t, res, tc.status)
			assertJSON(t, res.Body, tc.want)
		})
	}
	for _, model := range []string{"clip", "deepdanbooru"} {
		res := env.do(t, http.MethodPost, "/sdapi/v1/interrogate", mustJSON(t, map[string]any{"image": img, "model": model}))
		assertStatus(t, res, http.StatusNotImplemented)
		if e := assertA1111Error(t, res.Body); !strings.Contains(e.Detail, "no interrogation model") {
			t.Errorf("%s: %+v", model, e)
		}
	}
	for path, prefix := range map[string]string{
		"/sdapi/v1/create/embedding": "create embedding error: ", "/sdapi/v1/create/hypernetwork": "create hypernetwork error: ",
		"/sdapi/v1/train/embedding": "train embedding error: ", "/sdapi/v1/train/hypernetwork": "train embedding error: ",
	} {
		res := env.do(t, http.MethodPost, path, []byte(`{"name":"x"}`))
		assertStatus(t, res, http.StatusOK)
		if info := decode[struct{ Info string }](t, res.Body).Info; !strings.HasPrefix(info, prefix) {
			t.Errorf("%s: info %q", path, info)
		}
	}
}

func TestExtrasLanczos(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	img := pngDataURI(t, 128, 128, color.NRGBA{10, 20, 30, 255})
	res := env.do(t, http.MethodPost, "/sdapi/v1/extra-single-image", mustJSON(t, map[string]any{
		"image": img, "upscaler_1": "Lanczos", "upscaling_resize": 2, "resize_mode": 0, "show_extras_results": true}))
	assertStatus(t, res, http.StatusOK)
	out := decode[struct {
		HTMLInfo string `json:"html_info"`
		Image    string
	}](t, res.Body)
	if im, _ := decodeB64Image(t, out.Image); im.Bounds().Dx() != 256 {
		t.Errorf("extras: got width %d, want 256", im.Bounds().Dx())
	}
	res = env.do(t, http.MethodPost, "/sdapi/v1/extra-batch-images", mustJSON(t, map[string]any{
		"imageList": []map[string]any{{"data": img, "name": "a"}, {"data": img, "name": "b"}}, "upscaler_1": "Nearest"}))
	assertStatus(t, res, http.StatusOK)
	if n := len(decode[struct{ Images []string }](t, res.Body).Images); n != 2 {
		t.Errorf("batch extras: %d images", n)
	}
	res = env.do(t, http.MethodPost, "/sdapi/v1/extra-single-image", mustJSON(t, map[string]any{"image": img, "gfpgan_visibility": 0.5}))
	assertStatus(t, res, http.StatusNotImplemented)
	assertA1111Error(t, res.Body)
	res = env.do(t, http.MethodPost, "/sdapi/v1/extra-single-image", mustJSON(t, map[string]any{"image": img, "upscaler_1": "ESRGAN_4x"}))
	assertStatus(t, res, http.StatusInternalServerError)
	if e := assertA1111Error(t, res.Body); e.Detail != "could not find upscaler named ESRGAN_4x" {
		t.Errorf("unknown upscaler: %+v", e)
	}
}

// TestTxt2ImgEveryFieldNull: null for every nullable field is accepted
// (pydantic's Optional) and means the default.
func TestTxt2ImgEveryFieldNull(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	schema := env.V.Doc().Components.Schemas["StableDiffusionProcessingTxt2Img"]
	m := map[string]any{}
	for k, p := range schema.Value.Properties {
		if p.Value.Nullable {
			m[k] = nil
		}
	}
	m["width"], m["height"], m["steps"] = 64, 64, 2
	res := env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, m))
	assertStatus(t, res, http.StatusOK)
	calls := env.Runner.Calls()
	if last := calls[len(calls)-1]; last.Seeds[0] < 0 || len(last.Prompts) != 1 {
		t.Errorf("null seed/batch_size not defaulted: seeds %v, %d prompts", last.Seeds, len(last.Prompts))
	}
	if p := decode[genResponse](t, res.Body).Parameters; p["seed"] != nil || p["prompt"] != nil || p["sampler_index"] != "Euler" {
		t.Errorf("parameters must echo the nulls sent and defaults: seed %v prompt %v sampler_index %v", p["seed"], p["prompt"], p["sampler_index"])
	}
}
