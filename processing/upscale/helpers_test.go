package upscale

import (
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/sdapi/sdapi/internal/imgconv"
)

// golden is testdata/golden.json, written by testdata/gen_golden.py.
type golden struct {
	Pillow string `json:"pillow"`
	Resize []struct {
		Src    string `json:"src"`
		W, H   int
		Filter string `json:"filter"`
		Out    string `json:"out"`
	} `json:"resize"`
	ResizeImage []struct {
		Mode     int    `json:"mode"`
		Src      string `json:"src"`
		W, H     int
		Upscaler string `json:"upscaler"`
		Out      string `json:"out"`
	} `json:"resize_image"`
	Extras []struct {
		Src string `json:"src"`
		Req struct {
			ResizeMode          int     `json:"resize_mode"`
			UpscalingResize     float64 `json:"upscaling_resize"`
			UpscalingResizeW    int     `json:"upscaling_resize_w"`
			UpscalingResizeH    int     `json:"upscaling_resize_h"`
			UpscalingCrop       bool    `json:"upscaling_crop"`
			Upscaler1           string  `json:"upscaler_1"`
			Upscaler2           string  `json:"upscaler_2"`
			Upscaler2Visibility float64 `json:"extras_upscaler_2_visibility"`
		} `json:"req"`
		Out      string `json:"out"`
		Infotext string `json:"infotext"`
		HTMLInfo string `json:"html_info"`
	} `json:"extras"`
}

func loadJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func loadGolden(t testing.TB) golden {
	var g golden
	loadJSON(t, "golden.json", &g)
	return g
}

func loadPNG(t testing.TB, name string) image.Image {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return img
}

// compareImages fails unless got and want have the same size and every
// channel is within tol; it reports the largest difference and how many
// channel values differ at all.
func compareImages(t *testing.T, got, want image.Image, tol int) {
	t.Helper()
	g, w := imgconv.ToNRGBA(got), imgconv.ToNRGBA(want)
	if g.Rect.Size() != w.Rect.Size() {
		t.Fatalf("size = %v, want %v", g.Rect.Size(), w.Rect.Size())
	}
	maxDiff, differ, worst := 0, 0, image.Point{}
	for y := 0; y < g.Rect.Dy(); y++ {
		for x := 0; x < g.Rect.Dx(); x++ {
			for c := 0; c < 4; c++ {
				d := int(g.Pix[g.PixOffset(x, y)+c]) - int(w.Pix[w.PixOffset(x, y)+c])
				d = max(d, -d)
				if d > 0 {
					differ++
				}
				if d > maxDiff {
					maxDiff, worst = d, image.Pt(x, y)
				}
			}
		}
	}
	if maxDiff > tol {
		t.Errorf("max channel difference %d at %v (tolerance %d); %d values differ", maxDiff, worst, tol, differ)
	} else if differ > 0 {
		t.Logf("%d channel values differ by at most %d", differ, maxDiff)
	}
}
