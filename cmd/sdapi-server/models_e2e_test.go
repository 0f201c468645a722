package main_test

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/internal/testenv"
	"github.com/sdapi/sdapi/runner/onnxgen"
)

// TestModelUpscalers: an ONNX upscaler in DATA-DIR/models/ESRGAN is listed
// by /sdapi/v1/upscalers and serves extra-single-image, and a corrupt model
// file next to it is logged with its path and skipped.
func TestModelUpscalers(t *testing.T) {
	t.Parallel()
	if ortErr != "" {
		testenv.Missing(t, ortErr)
	}
	dir := t.TempDir()
	esrgan := filepath.Join(dir, "models", "ESRGAN")
	model := filepath.Join(esrgan, "4x-TinyTest.onnx")
	if err := onnxgen.EmitUpscaler(model, onnxgen.UpscalerConfig{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(esrgan, "broken.onnx")
	if err := os.WriteFile(corrupt, []byte("not an onnx model"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startServer(t, dir)
	v := validator(t, p)

	type upscalerItem struct {
		Name      string  `json:"name"`
		ModelName *string `json:"model_name"`
		ModelPath *string `json:"model_path"`
		Scale     float64 `json:"scale"`
	}
	list := decode[[]upscalerItem](t, do(t, v, http.MethodGet, p.url, "/sdapi/v1/upscalers", nil))
	var names []string
	for _, u := range list {
		names = append(names, u.Name)
	}
	if want := []string{"None", "Lanczos", "Nearest", "4x-TinyTest"}; !slices.Equal(names, want) {
		t.Fatalf("upscalers %v, want %v", names, want)
	}
	if u := list[3]; u.ModelName == nil || *u.ModelName != "ESRGAN" || u.ModelPath == nil || *u.ModelPath != model || u.Scale != 4 {
		t.Errorf("model entry %+v", u)
	}
	if !strings.Contains(p.log.String(), corrupt) {
		t.Errorf("log does not name the corrupt model %s:\n%s", corrupt, p.log)
	}

	src := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, src); err != nil {
		t.Fatal(err)
	}
	img := base64.StdEncoding.EncodeToString(b.Bytes())
	tests := []struct {
		name string
		body map[string]any
		want image.Point
	}{
		{"scale by 4", map[string]any{"upscaling_resize": 4}, image.Pt(64, 64)},
		{"to a size", map[string]any{"resize_mode": 1, "upscaling_resize_w": 40, "upscaling_resize_h": 24}, image.Pt(40, 24)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"image": img, "upscaler_1": "4x-TinyTest"}
			for k, x := range tc.body {
				body[k] = x
			}
			r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/extra-single-image", body)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %.300s", r.Status, r.Body)
			}
			res := decode[struct {
				Image string `json:"image"`
			}](t, r)
			raw, err := base64.StdEncoding.DecodeString(res.Image)
			if err != nil {
				t.Fatal(err)
			}
			out, err := png.Decode(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Bounds().Size(); got != tc.want {
				t.Errorf("image %v, want %v", got, tc.want)
			}
		})
	}
}

// TestCheckpointTitleFromStart: A1111 loads its model at startup and the
// load writes sd_model_checkpoint (the title "name [shorthash]") and
// sd_checkpoint_hash (its sha256); a job's load writes them again.
func TestCheckpointTitleFromStart(t *testing.T) {
	t.Parallel()
	p := startServer(t, "")
	v := validator(t, p)
	models := decode[[]struct {
		Title  string  `json:"title"`
		Hash   *string `json:"hash"`
		SHA256 *string `json:"sha256"`
	}](t, do(t, v, http.MethodGet, p.url, "/sdapi/v1/sd-models", nil))
	if len(models) == 0 || models[0].Hash == nil || models[0].SHA256 == nil {
		t.Fatalf("sd-models: %+v, want a model with its hash", models)
	}
	m := models[0]
	if len(*m.Hash) != 10 || !strings.HasPrefix(*m.SHA256, *m.Hash) || len(*m.SHA256) != 64 || !strings.HasSuffix(m.Title, " ["+*m.Hash+"]") {
		t.Errorf("sd-models entry %q hash %q sha256 %q: want title \"name [hash]\", a 10-digit prefix of a 64-digit sha256", m.Title, *m.Hash, *m.SHA256)
	}
	check := func(when string) {
		t.Helper()
		opts := decode[map[string]any](t, do(t, v, http.MethodGet, p.url, "/sdapi/v1/options", nil))
		if opts["sd_model_checkpoint"] != m.Title || opts["sd_checkpoint_hash"] != *m.SHA256 {
			t.Errorf("%s: sd_model_checkpoint %v sd_checkpoint_hash %v, want %q %q", when, opts["sd_model_checkpoint"], opts["sd_checkpoint_hash"], m.Title, *m.SHA256)
		}
	}
	check("at startup")
	r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/txt2img", map[string]any{"width": 64, "height": 64, "steps": 1})
	if r.Status != http.StatusOK {
		t.Fatalf("txt2img: %d %s", r.Status, r.Body)
	}
	check("after a job loaded the model")
	// The infotext names the same hash.
	info := decode[struct{ Info string }](t, r).Info
	if !strings.Contains(info, `"sd_model_hash": "`+*m.Hash+`"`) || !strings.Contains(info, "Model hash: "+*m.Hash) {
		t.Errorf("info does not carry the model hash %s: %s", *m.Hash, info)
	}
}
