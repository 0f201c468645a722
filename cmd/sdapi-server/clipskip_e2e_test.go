package main_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestClipSkip runs clip skip through the real server on the emitted
// model: CLIP_stop_at_last_layers 2 in override_settings changes the image
// (the text encoder's hidden state before the last layer is used), the
// infotext says so, /png-info reads it back, and a value past the text
// encoder's layers is refused with a reason.
func TestClipSkip(t *testing.T) {
	t.Parallel()
	if os.Getenv("ONNXRUNTIME_SHARED_LIBRARY_PATH") == "" {
		t.Skip("ONNXRUNTIME_SHARED_LIBRARY_PATH is not set (make onnxruntime, or run through make)")
	}
	p := startServer(t, "")
	v := validator(t, p)
	type genResponse struct {
		Images []string `json:"images"`
		Info   string   `json:"info"`
	}
	gen := func(skip int) (pixels []byte, b64, infotext string) {
		t.Helper()
		r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/txt2img", map[string]any{
			"prompt": "a photo of a cat", "seed": 7, "width": 64, "height": 64, "steps": 2,
			"override_settings": map[string]any{"CLIP_stop_at_last_layers": skip},
		})
		if r.Status != http.StatusOK {
			t.Fatalf("clip skip %d: status %d: %.300s", skip, r.Status, r.Body)
		}
		res := decode[genResponse](t, r)
		var info struct {
			Infotexts []string `json:"infotexts"`
		}
		if err := json.Unmarshal([]byte(res.Info), &info); err != nil || len(res.Images) != 1 || len(info.Infotexts) != 1 {
			t.Fatalf("clip skip %d: %d images, info %.200s (%v)", skip, len(res.Images), res.Info, err)
		}
		raw, err := base64.StdEncoding.DecodeString(res.Images[0])
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		var px []byte
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				px = append(px, byte(r>>8), byte(g>>8), byte(bl>>8))
			}
		}
		return px, res.Images[0], info.Infotexts[0]
	}
	one, _, info1 := gen(1)
	two, png2, info2 := gen(2)
	if bytes.Equal(one, two) {
		t.Error("clip skip 2 gave the same image as clip skip 1")
	}
	if strings.Contains(info1, "Clip skip") {
		t.Errorf("clip skip 1 infotext names it: %q", info1)
	}
	if !strings.Contains(info2, "Clip skip: 2") {
		t.Errorf("clip skip 2 infotext: %q", info2)
	}

	r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/png-info", map[string]any{"image": png2})
	if r.Status != http.StatusOK {
		t.Fatalf("png-info: status %d: %.300s", r.Status, r.Body)
	}
	params := decode[struct {
		Parameters map[string]any `json:"parameters"`
	}](t, r).Parameters
	for k, want := range map[string]any{
		"Clip skip": "2", "Hires schedule type": "Use same scheduler", "Refiner switch by sampling steps": false,
	} {
		if params[k] != want {
			t.Errorf("png-info %q = %#v, want %#v", k, params[k], want)
		}
	}

	// The emitted text encoder has 2 layers: hidden_states has 3 entries.
	r = do(t, v, http.MethodPost, p.url, "/sdapi/v1/txt2img", map[string]any{
		"prompt": "a cat", "width": 64, "height": 64, "steps": 1,
		"override_settings": map[string]any{"CLIP_stop_at_last_layers": 4},
	})
	if r.Status == http.StatusOK || !bytes.Contains(r.Body, []byte("hidden states")) {
		t.Errorf("clip skip 4: status %d, body %.300s; want a refusal naming the hidden states", r.Status, r.Body)
	}
	if p.exited() {
		t.Fatal("server exited")
	}
}
