package main_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/internal/spectest"
	"github.com/sdapi/sdapi/runner/onnxgen"
)

// sdxlTestModel is the SDXL test model a fresh data directory gets.
const sdxlTestModel = "sdapi-tiny-random-test-model-sdxl"

// sdxlTitle returns the title /sd-models lists for the SDXL test model,
// checking that the SD 1.x test model is listed first, beside it.
func sdxlTitle(t *testing.T, p *proc, v *spectest.Validator) (title, hash string) {
	t.Helper()
	models := decode[[]struct {
		Title     string  `json:"title"`
		ModelName string  `json:"model_name"`
		Hash      *string `json:"hash"`
	}](t, do(t, v, http.MethodGet, p.url, "/sdapi/v1/sd-models", nil))
	var names []string
	for _, m := range models {
		names = append(names, m.ModelName)
		if m.ModelName == sdxlTestModel && m.Hash != nil {
			title, hash = m.Title, *m.Hash
		}
	}
	if title == "" || len(models) != 2 || models[0].ModelName != "sdapi-tiny-random-test-model" {
		t.Fatalf("sd-models lists %q, want the SD 1.x test model then %q", names, sdxlTestModel)
	}
	return title, hash
}

// A fresh data directory gets the SDXL test model beside the SD 1.x one;
// selected through override_settings, txt2img, img2img and hires fix run on
// it with every listed sampler, infotext and info name it, and the same
// seed gives the same pixels.
func TestSDXLEverySampler(t *testing.T) {
	t.Parallel()
	p := startServer(t, "")
	v := validator(t, p)
	title, hash := sdxlTitle(t, p, v)
	samplers := decode[[]struct {
		Name string `json:"name"`
	}](t, do(t, v, http.MethodGet, p.url, "/sdapi/v1/samplers", nil))
	over := map[string]any{"sd_model_checkpoint": title}
	init := sdxlInitPNG(t, p, v, over)
	for _, s := range samplers {
		for _, mode := range []string{"txt2img", "img2img", "hires"} {
			body := map[string]any{"prompt": "a cat", "steps": 2, "width": 64, "height": 64, "seed": 1,
				"sampler_name": s.Name, "override_settings": over}
			path := "/sdapi/v1/txt2img"
			switch mode {
			case "img2img":
				path = "/sdapi/v1/img2img"
				body["init_images"] = []string{init}
				body["denoising_strength"] = 0.6
			case "hires":
				body["enable_hr"], body["hr_scale"], body["hr_upscaler"], body["denoising_strength"] = true, 1.5, "Latent", 0.5
			}
			r := do(t, v, http.MethodPost, p.url, path, body)
			if r.Status != http.StatusOK {
				t.Errorf("%s %q: status %d %.300s", mode, s.Name, r.Status, r.Body)
				continue
			}
			var info struct {
				SamplerName string   `json:"sampler_name"`
				ModelName   string   `json:"sd_model_name"`
				ModelHash   string   `json:"sd_model_hash"`
				Infotexts   []string `json:"infotexts"`
			}
			if err := json.Unmarshal([]byte(decode[genAnswer](t, r).Info), &info); err != nil {
				t.Fatal(err)
			}
			if info.SamplerName != s.Name || info.ModelName != sdxlTestModel || info.ModelHash != hash || len(info.Infotexts) != 1 ||
				!strings.Contains(info.Infotexts[0], "Model: "+sdxlTestModel+",") || !strings.Contains(info.Infotexts[0], "Model hash: "+hash+",") {
				t.Errorf("%s %q: info sampler %q model %q hash %q infotexts %q", mode, s.Name, info.SamplerName, info.ModelName, info.ModelHash, info.Infotexts)
			}
		}
	}
}

// sdxlInitPNG generates a 64×64 image for img2img with the given overrides.
func sdxlInitPNG(t *testing.T, p *proc, v *spectest.Validator, over map[string]any) string {
	t.Helper()
	r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/txt2img", map[string]any{
		"prompt": "init", "steps": 1, "width": 64, "height": 64, "seed": 3, "override_settings": over})
	if r.Status != http.StatusOK {
		t.Fatalf("init image: status %d %.300s", r.Status, r.Body)
	}
	return decode[genAnswer](t, r).Images[0]
}

// Selected through /options, the SDXL test model gives identical pixels
// for the same seed, different ones for sdxl_crop_top (its time_ids), its
// infotext round-trips through /png-info.
func TestSDXLSelectedByOptions(t *testing.T) {
	t.Parallel()
	p := startServer(t, "")
	v := validator(t, p)
	title, hash := sdxlTitle(t, p, v)
	if r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/options", map[string]any{"sd_model_checkpoint": title}); r.Status != http.StatusOK {
		t.Fatalf("select %s: %d %s", title, r.Status, r.Body)
	}
	gen := func(body map[string]any) (pixels []byte, b64, infotext string) {
		t.Helper()
		r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/txt2img", body)
		if r.Status != http.StatusOK {
			t.Fatalf("txt2img %v: status %d %.300s", body, r.Status, r.Body)
		}
		g := decode[genAnswer](t, r)
		raw, err := base64.StdEncoding.DecodeString(g.Images[0])
		if err != nil {
			t.Fatal(err)
		}
		im, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		var info struct {
			Infotexts []string `json:"infotexts"`
		}
		if err := json.Unmarshal([]byte(g.Info), &info); err != nil || len(info.Infotexts) != 1 {
			t.Fatalf("info %q: %v", g.Info, err)
		}
		var buf bytes.Buffer
		for y := im.Bounds().Min.Y; y < im.Bounds().Max.Y; y++ {
			for x := im.Bounds().Min.X; x < im.Bounds().Max.X; x++ {
				r, g, b, _ := im.At(x, y).RGBA()
				buf.Write([]byte{byte(r >> 8), byte(g >> 8), byte(b >> 8)})
			}
		}
		return buf.Bytes(), g.Images[0], info.Infotexts[0]
	}
	body := map[string]any{"prompt": "a (cat:1.2)", "negative_prompt": "", "steps": 2, "width": 64, "height": 64, "seed": 7, "sampler_name": "Euler a"}
	a, png1, info1 := gen(body)
	b, _, _ := gen(body)
	if !bytes.Equal(a, b) {
		t.Error("same seed twice: different pixels")
	}
	crop := map[string]any{"override_settings": map[string]any{"sdxl_crop_top": 256}}
	for k, val := range body {
		crop[k] = val
	}
	if c, _, _ := gen(crop); bytes.Equal(a, c) {
		t.Error("sdxl_crop_top 256 gave the same pixels as 0")
	}

	r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/png-info", map[string]any{"image": png1})
	if r.Status != http.StatusOK {
		t.Fatalf("png-info: status %d: %.300s", r.Status, r.Body)
	}
	got := decode[struct {
		Info       string         `json:"info"`
		Parameters map[string]any `json:"parameters"`
	}](t, r)
	if got.Info != info1 {
		t.Errorf("png-info info %q, want the infotext %q", got.Info, info1)
	}
	for k, want := range map[string]any{"Model": sdxlTestModel, "Model hash": hash, "Prompt": "a (cat:1.2)", "Seed": "7"} {
		if got.Parameters[k] != want {
			t.Errorf("png-info %q = %#v, want %#v", k, got.Parameters[k], want)
		}
	}

}

// refiner_checkpoint and refiner_switch_at switch an SDXL run to an SDXL
// refiner at A1111's step: the infotext and info carry Refiner (the short
// title) and Refiner switch at, /png-info reads them back, the image
// differs from the base alone, a hires fix refines its second pass (or
// the first with hires_fix_refiner_pass, writing Hires refiner), and an
// unknown refiner is refused with A1111's message.
func TestSDXLRefiner(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ckpts := filepath.Join(data, "models", "Stable-diffusion")
	for name, cfg := range map[string]onnxgen.Config{
		"sdxl-base":    {Family: onnxgen.FamilySDXL},
		"sdxl-refiner": {Family: onnxgen.FamilySDXLRefiner},
	} {
		if err := onnxgen.Emit(filepath.Join(ckpts, name), cfg); err != nil {
			t.Fatal(err)
		}
	}
	p := startServer(t, data)
	v := validator(t, p)
	models := decode[[]struct {
		Title     string `json:"title"`
		ModelName string `json:"model_name"`
	}](t, do(t, v, http.MethodGet, p.url, "/sdapi/v1/sd-models", nil))
	refTitle := ""
	for _, m := range models {
		if m.ModelName == "sdxl-refiner" {
			refTitle = m.Title
		}
	}
	if refTitle == "" {
		t.Fatalf("sd-models %+v: no sdxl-refiner", models)
	}
	gen := func(extra map[string]any) (genAnswer, string) {
		t.Helper()
		body := map[string]any{"prompt": "a cat", "steps": 4, "width": 64, "height": 64, "seed": 2, "sampler_name": "Euler",
			"override_settings": map[string]any{"sd_model_checkpoint": "sdxl-base"}}
		for k, val := range extra {
			body[k] = val
		}
		r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/txt2img", body)
		if r.Status != http.StatusOK {
			t.Fatalf("txt2img %v: status %d %.300s", extra, r.Status, r.Body)
		}
		g := decode[genAnswer](t, r)
		var info struct {
			Infotexts []string `json:"infotexts"`
		}
		if err := json.Unmarshal([]byte(g.Info), &info); err != nil || len(info.Infotexts) != 1 {
			t.Fatalf("info %q: %v", g.Info, err)
		}
		return g, info.Infotexts[0]
	}
	plain, plainInfo := gen(nil)
	refined, info := gen(map[string]any{"refiner_checkpoint": "sdxl-refiner", "refiner_switch_at": 0.5})
	if strings.Contains(plainInfo, "Refiner") {
		t.Errorf("no refiner: infotext %q names one", plainInfo)
	}
	if !strings.Contains(info, "Refiner: "+refTitle+", Refiner switch at: 0.5") || !strings.Contains(info, "Model: sdxl-base,") {
		t.Errorf("refined infotext %q, want Refiner: %s, Refiner switch at: 0.5", info, refTitle)
	}
	if !strings.Contains(refined.Info, `"Refiner": "`+refTitle+`"`) {
		t.Errorf("info %q: no Refiner in extra_generation_params", refined.Info)
	}
	if plain.Images[0] == refined.Images[0] {
		t.Error("the refined image is the base's")
	}
	r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/png-info", map[string]any{"image": refined.Images[0]})
	params := decode[struct {
		Parameters map[string]any `json:"parameters"`
	}](t, r).Parameters
	if params["Refiner"] != refTitle || params["Refiner switch at"] != "0.5" {
		t.Errorf("png-info Refiner %#v, switch at %#v", params["Refiner"], params["Refiner switch at"])
	}

	hires := map[string]any{"refiner_checkpoint": "sdxl-refiner", "refiner_switch_at": 0.5,
		"enable_hr": true, "hr_scale": 1.5, "hr_upscaler": "Latent", "denoising_strength": 0.6}
	if _, info := gen(hires); !strings.Contains(info, "Refiner: "+refTitle) || strings.Contains(info, "Hires refiner") {
		t.Errorf("hires, second pass: infotext %q", info)
	}
	hires["override_settings"] = map[string]any{"sd_model_checkpoint": "sdxl-base", "hires_fix_refiner_pass": "first pass"}
	if _, info := gen(hires); !strings.Contains(info, "Hires refiner: first pass, Refiner: "+refTitle) {
		t.Errorf("hires, first pass: infotext %q", info)
	}

	r = do(t, v, http.MethodPost, p.url, "/sdapi/v1/txt2img", map[string]any{"prompt": "x", "steps": 1, "width": 64, "height": 64, "refiner_checkpoint": "nosuch"})
	if r.Status == http.StatusOK || !bytes.Contains(r.Body, []byte("Could not find checkpoint with name nosuch")) {
		t.Errorf("unknown refiner: status %d %.300s", r.Status, r.Body)
	}
}
