package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/internal/spectest"
	"github.com/sdapi/sdapi/processing/imagemeta"
)

// infotext is what A1111 1.10 writes into a PNG: a two-line prompt, a
// negative prompt, and a parameters line with quoted values holding commas
// and colons.
const infotext = `masterpiece, best quality, a cat
sitting on a windowsill at dusk
Negative prompt: blurry, lowres, (worst quality:1.4)
Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234567890, Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Lora hashes: "add_detail: 7c6bad76eb54, epi_noiseoffset: d3c8e3f4a7b1", Version: v1.10.1`

func testImage() image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
	for i := range 8 {
		img.Set(i, i, color.NRGBA{R: 200, G: 30, B: 90, A: 255})
	}
	return img
}

func pngWith(t *testing.T, text ...imagemeta.Text) []byte {
	t.Helper()
	b, err := imagemeta.EncodePNG(testImage(), text)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jpegWithComment(t *testing.T, comment string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	b, err := imagemeta.WithJPEGUserComment(buf.Bytes(), comment)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// wrapped breaks s into 76-character lines, as MIME encoders do.
func wrapped(s string) string {
	var out []string
	for len(s) > 76 {
		out = append(out, s[:76])
		s = s[76:]
	}
	return strings.Join(append(out, s), "\n")
}

type pngInfoResponse struct {
	Info       string         `json:"info"`
	Items      map[string]any `json:"items"`
	Parameters map[string]any `json:"parameters"`
}

func (s *testServer) pngInfo(t *testing.T, image string) spectest.Response {
	t.Helper()
	body, err := json.Marshal(map[string]string{"image": image})
	if err != nil {
		t.Fatal(err)
	}
	return s.do(t, http.MethodPost, "/sdapi/v1/png-info", body)
}

func TestPNGInfo(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	withParams := pngWith(t, imagemeta.Text{Key: "parameters", Value: infotext})
	unicodeText := "一只猫, 可爱\nSteps: 4, Sampler: Euler a, CFG scale: 1.5, Size: 64x64"
	for _, tc := range []struct {
		name, image, golden string
		wantInfo            string
		wantItems           map[string]any
	}{
		{name: "base64", image: b64(withParams), golden: "pnginfo_parameters.golden", wantInfo: infotext},
		{name: "data URI", image: "data:image/png;base64," + b64(withParams), golden: "pnginfo_parameters.golden", wantInfo: infotext},
		{name: "surrounding whitespace and line breaks", image: "\n  " + wrapped(b64(withParams)) + "\n", golden: "pnginfo_parameters.golden", wantInfo: infotext},
		{name: "other text chunks become items", wantInfo: infotext,
			image:     b64(pngWith(t, imagemeta.Text{Key: "Software", Value: "sdapi test"}, imagemeta.Text{Key: "parameters", Value: infotext})),
			wantItems: map[string]any{"Software": "sdapi test"}},
		{name: "non-latin-1 text (iTXt)", image: b64(pngWith(t, imagemeta.Text{Key: "parameters", Value: unicodeText})), wantInfo: unicodeText},
		{name: "no metadata", image: b64(pngWith(t)), golden: "pnginfo_empty.golden", wantInfo: ""},
		{name: "jpeg EXIF UserComment", image: b64(jpegWithComment(t, infotext)), golden: "pnginfo_parameters.golden", wantInfo: infotext},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := ts.pngInfo(t, tc.image)
			assertStatus(t, res, http.StatusOK)
			got := decode[pngInfoResponse](t, res.Body)
			if got.Info != tc.wantInfo {
				t.Errorf("info:\n got %q\nwant %q", got.Info, tc.wantInfo)
			}
			if tc.wantItems == nil {
				tc.wantItems = map[string]any{}
			}
			if !jsonEqual(got.Items, tc.wantItems) {
				t.Errorf("items: got %v, want %v", got.Items, tc.wantItems)
			}
			if _, ok := got.Items["parameters"]; ok {
				t.Errorf("items still holds parameters")
			}
			if got.Parameters == nil {
				t.Fatalf("no parameters in %s", res.Body)
			}
			if tc.golden != "" {
				assertGolden(t, tc.golden, res.Body)
			}
		})
	}
}

// TestPNGInfoParameters pins the fields clients read, independently of the
// golden file.
func TestPNGInfoParameters(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	res := ts.pngInfo(t, b64(pngWith(t, imagemeta.Text{Key: "parameters", Value: infotext})))
	assertStatus(t, res, http.StatusOK)
	params := decode[pngInfoResponse](t, res.Body).Parameters
	for key, want := range map[string]any{
		"Prompt":          "masterpiece, best quality, a cat\nsitting on a windowsill at dusk",
		"Negative prompt": "blurry, lowres, (worst quality:1.4)",
		"Steps":           "20",
		"Sampler":         "DPM++ 2M",
		"Schedule type":   "Karras",
		"CFG scale":       "7",
		"Seed":            "1234567890",
		"Size-1":          "512",
		"Size-2":          "768",
		"Model hash":      "6ce0161689",
		"Lora hashes":     "add_detail: 7c6bad76eb54, epi_noiseoffset: d3c8e3f4a7b1",
		"Version":         "v1.10.1",
		// Filled in because the text does not say.
		"Clip skip":           "1",
		"RNG":                 "GPU",
		"Hires sampler":       "Use same sampler",
		"Hires checkpoint":    "Use same checkpoint",
		"Hires resize-1":      0.0,
		"Masked area padding": 32.0,
		"VAE Encoder":         "Full",
		"FP8 weight":          "Disable",
	} {
		if got, ok := params[key]; !ok || got != want {
			t.Errorf("parameters[%q]: got %#v (present %v), want %#v", key, got, ok, want)
		}
	}
	if _, ok := params["Size"]; ok {
		t.Errorf("parameters keeps Size next to Size-1/Size-2")
	}

	// Without metadata every key is a default.
	res = ts.pngInfo(t, b64(pngWith(t)))
	params = decode[pngInfoResponse](t, res.Body).Parameters
	for key, want := range map[string]any{"Prompt": "", "Negative prompt": "", "Clip skip": "1", "Schedule type": "Automatic", "RNG": "GPU"} {
		if got := params[key]; got != want {
			t.Errorf("no metadata: parameters[%q]: got %#v, want %#v", key, got, want)
		}
	}
}

func TestPNGInfoInvalidImage(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	const want = `{"error":"HTTPException","detail":"Invalid encoded image","body":"","errors":""}`
	for _, tc := range []struct{ name, image string }{
		{"garbage", "this is not base64!!"},
		{"empty string", ""},
		{"whitespace only", "  \n"},
		{"base64 of text", b64([]byte("hello, world"))},
		{"truncated png", b64(pngWith(t))[:40]},
		{"data URI of garbage", "data:image/png;base64,AAAA"},
		{"non-ASCII", "ÿØÿà"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := ts.pngInfo(t, tc.image)
			assertStatus(t, res, http.StatusInternalServerError)
			assertJSON(t, res.Body, want)
		})
	}
}

// jsonEqual compares two values as their JSON encodings.
func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
