package main_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// Sizes that are not multiples of 8, or below 64, run as A1111 1.10 runs
// them: the latent is height//8 × width//8, the image 8× that, and info
// and the infotext give the requested width and height. Under 8 the latent
// is empty (A1111 fails inside torch with a 500): a 422 that says so.
func TestSizesAsA1111(t *testing.T) {
	t.Parallel()
	p := startServer(t, "")
	v := validator(t, p)
	tests := []struct {
		w, h         int
		hires        map[string]any
		wantW, wantH int
		size         string
	}{
		{100, 72, nil, 96, 72, "Size: 100x72"},
		{40, 8, nil, 40, 8, "Size: 40x8"},
		{63, 65, nil, 56, 64, "Size: 63x65"},
		// The hires target is int(100·1.5)×int(72·1.5) = 150×108: its
		// latent 18×13 decodes to 144×104.
		{100, 72, map[string]any{"enable_hr": true, "hr_scale": 1.5, "denoising_strength": 0.5, "hr_upscaler": "Latent"}, 144, 104, "Size: 100x72"},
		{100, 72, map[string]any{"enable_hr": true, "hr_scale": 1.5, "denoising_strength": 0.5, "hr_upscaler": "Lanczos"}, 144, 104, "Size: 100x72"},
	}
	for _, tc := range tests {
		body := map[string]any{"prompt": "a cat", "steps": 2, "width": tc.w, "height": tc.h}
		for k, val := range tc.hires {
			body[k] = val
		}
		r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/txt2img", body)
		if r.Status != http.StatusOK {
			t.Errorf("%dx%d: status %d %s", tc.w, tc.h, r.Status, r.Body)
			continue
		}
		g := decode[genAnswer](t, r)
		var info struct {
			Width, Height int
			Infotexts     []string
		}
		if err := json.Unmarshal([]byte(g.Info), &info); err != nil {
			t.Fatal(err)
		}
		if info.Width != tc.w || info.Height != tc.h || len(info.Infotexts) != 1 || !strings.Contains(info.Infotexts[0], tc.size) {
			t.Errorf("%dx%d: info width %d height %d infotexts %q", tc.w, tc.h, info.Width, info.Height, info.Infotexts)
		}
		raw, err := base64.StdEncoding.DecodeString(g.Images[0])
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(raw))
		if err != nil || cfg.Width != tc.wantW || cfg.Height != tc.wantH {
			t.Errorf("%dx%d: image %dx%d (%v), want %dx%d", tc.w, tc.h, cfg.Width, cfg.Height, err, tc.wantW, tc.wantH)
		}
	}
	r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/txt2img", map[string]any{"steps": 2, "width": 4, "height": 64})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "at least 8") {
		t.Errorf("4x64: status %d %s, want 422 saying at least 8", r.Status, r.Body)
	}
}

// save_images on a fresh data directory makes the outputs folders, as
// A1111's save_image makes its folders, and writes the image there.
func TestSaveImagesFreshDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startServer(t, dir)
	r := call(t, http.MethodPost, p.url, "/sdapi/v1/txt2img", map[string]any{"prompt": "a cat", "steps": 1, "width": 64, "height": 64, "save_images": true})
	if r.Status != http.StatusOK {
		t.Fatalf("status %d %s, want 200", r.Status, r.Body)
	}
	var pngs []string
	err := filepath.WalkDir(filepath.Join(dir, "outputs"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".png") {
			pngs = append(pngs, path)
		}
		return err
	})
	if err != nil || len(pngs) != 1 {
		t.Errorf("saved %q (%v), want one PNG under DATA-DIR/outputs", pngs, err)
	}
}
