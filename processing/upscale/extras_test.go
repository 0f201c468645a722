package upscale

import (
	"context"
	"errors"
	"image"
	"image/color"
	"testing"
)

// Ensure Extras reproduces A1111's run_extras output, infotext and html_info
// with the built-in upscalers.
func TestExtrasMatchesA1111(t *testing.T) {
	r := NewRegistry()
	for _, tc := range loadGolden(t).Extras {
		t.Run(tc.Out, func(t *testing.T) {
			req := DefaultExtrasRequest()
			req.ResizeMode = tc.Req.ResizeMode
			req.UpscalingResize = tc.Req.UpscalingResize
			req.UpscalingResizeW, req.UpscalingResizeH = tc.Req.UpscalingResizeW, tc.Req.UpscalingResizeH
			req.UpscalingCrop = tc.Req.UpscalingCrop
			req.Upscaler1, req.Upscaler2 = tc.Req.Upscaler1, tc.Req.Upscaler2
			req.Upscaler2Visibility = tc.Req.Upscaler2Visibility
			res, err := r.Extras(t.Context(), req, []image.Image{loadPNG(t, tc.Src)})
			if err != nil {
				t.Fatal(err)
			}
			compareImages(t, res.Images[0], loadPNG(t, tc.Out), 1)
			if res.Infotexts[0] != tc.Infotext {
				t.Errorf("infotext = %q, want %q", res.Infotexts[0], tc.Infotext)
			}
			if res.HTMLInfo != tc.HTMLInfo {
				t.Errorf("html_info = %q, want %q", res.HTMLInfo, tc.HTMLInfo)
			}
		})
	}
}

func solid(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func TestRunExtras(t *testing.T) {
	r := NewRegistry(NewModelUpscaler("4x-Fake", "ESRGAN", "/models/ESRGAN/4x-Fake.onnx", &fakeModel{scale: 4}))
	src := solid(16, 8, color.NRGBA{10, 20, 30, 128})
	with := func(f func(*ExtrasRequest)) ExtrasRequest {
		req := DefaultExtrasRequest()
		f(&req)
		return req
	}
	tests := []struct {
		name     string
		req      ExtrasRequest
		imgs     int
		wantSize image.Point
		wantHTML string
		wantErr  error
	}{
		{"defaults leave the image alone", DefaultExtrasRequest(), 1, image.Pt(16, 8), "<p></p>", nil},
		{"empty name is None", with(func(r *ExtrasRequest) { r.Upscaler1 = "" }), 1, image.Pt(16, 8), "<p></p>", nil},
		{"lanczos by 2", with(func(r *ExtrasRequest) { r.Upscaler1 = "Lanczos" }), 2, image.Pt(32, 16),
			"<p>Postprocess upscale by: 2.0, Postprocess upscaler: Lanczos</p>", nil},
		{"model by 3 is cut to a multiple of 8", with(func(r *ExtrasRequest) { r.Upscaler1 = "4x-Fake"; r.UpscalingResize = 3 }), 1, image.Pt(48, 24),
			"<p>Postprocess upscale by: 3.0, Postprocess upscaler: 4x-Fake</p>", nil},
		{"upscale to without crop", with(func(r *ExtrasRequest) {
			r.Upscaler1, r.ResizeMode, r.UpscalingResizeW, r.UpscalingResizeH, r.UpscalingCrop = "Nearest", 1, 20, 30, false
		}), 1, image.Pt(56, 24), "<p>Postprocess upscale to: 20x30, Postprocess upscaler: Nearest</p>", nil},
		{"no images", with(func(r *ExtrasRequest) { r.Upscaler1 = "Lanczos" }), 0, image.Point{}, "<p></p>", nil},
		{"upscaler 2 ignored when upscaler 1 is None", with(func(r *ExtrasRequest) { r.Upscaler2 = "nope" }), 1, image.Pt(16, 8), "<p></p>", nil},
		{"unknown upscaler 1", with(func(r *ExtrasRequest) { r.Upscaler1 = "lanczos" }), 1, image.Point{}, "", ErrUpscalerNotFound},
		{"unknown upscaler 2", with(func(r *ExtrasRequest) { r.Upscaler1 = "Lanczos"; r.Upscaler2 = "ESRGAN_4x" }), 1, image.Point{}, "", ErrUpscalerNotFound},
		{"gfpgan", with(func(r *ExtrasRequest) { r.GFPGANVisibility = 0.5 }), 1, image.Point{}, "", ErrFaceRestoreUnavailable},
		{"codeformer", with(func(r *ExtrasRequest) { r.CodeFormerVisibility = 1 }), 1, image.Point{}, "", ErrFaceRestoreUnavailable},
		{"resize mode 2", with(func(r *ExtrasRequest) { r.ResizeMode = 2 }), 1, image.Point{}, "", ErrInvalid},
		{"scale to nothing", with(func(r *ExtrasRequest) { r.Upscaler1 = "Lanczos"; r.UpscalingResize = 0.1 }), 1, image.Point{}, "", ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			imgs := make([]image.Image, tc.imgs)
			for i := range imgs {
				imgs[i] = src
			}
			out, htmlInfo, err := r.RunExtras(t.Context(), tc.req, imgs)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if htmlInfo != tc.wantHTML {
				t.Errorf("html_info = %q, want %q", htmlInfo, tc.wantHTML)
			}
			if len(out) != tc.imgs {
				t.Fatalf("%d images, want %d", len(out), tc.imgs)
			}
			for _, img := range out {
				if got := img.Bounds().Size(); got != tc.wantSize {
					t.Errorf("size = %v, want %v", got, tc.wantSize)
				}
				// run_extras converts to RGB first: alpha is dropped, not composited.
				if c := color.NRGBAModel.Convert(img.At(1, 1)).(color.NRGBA); c != (color.NRGBA{10, 20, 30, 255}) {
					t.Errorf("pixel = %v, want {10 20 30 255}", c)
				}
			}
		})
	}
}

func TestExtrasUnknownUpscalerMessage(t *testing.T) {
	req := DefaultExtrasRequest()
	req.Upscaler1 = "R-ESRGAN 4x+"
	_, _, err := NewRegistry().RunExtras(t.Context(), req, []image.Image{solid(8, 8, color.NRGBA{A: 255})})
	if got, want := err.Error(), "could not find upscaler named R-ESRGAN 4x+"; got != want {
		t.Errorf("error = %q, want A1111's %q", got, want)
	}
}

func TestExtrasCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req := DefaultExtrasRequest()
	req.Upscaler1 = "Lanczos"
	_, _, err := NewRegistry().RunExtras(ctx, req, []image.Image{solid(8, 8, color.NRGBA{A: 255})})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestPlaintextToHTML(t *testing.T) {
	got := plaintextToHTML("a<b> & \"c\" 'd'\nline2")
	want := "<p>a&lt;b&gt; &amp; &quot;c&quot; &#x27;d&#x27;<br>\nline2</p>"
	if got != want {
		t.Errorf("plaintextToHTML = %q, want %q", got, want)
	}
}

func TestBlendMatchesPillowFormula(t *testing.T) {
	a, b := solid(1, 1, color.NRGBA{0, 100, 255, 255}), solid(1, 1, color.NRGBA{255, 0, 254, 255})
	got, err := blend(a, b, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	// (int)(in1 + 0.3f*(in2-in1)): 76.5→76, 70→70, 254.7→254.
	if c := got.NRGBAAt(0, 0); c != (color.NRGBA{76, 70, 254, 255}) {
		t.Errorf("blend = %v", c)
	}
	if _, err := blend(a, solid(2, 1, color.NRGBA{}), 0.5); !errors.Is(err, ErrInvalid) {
		t.Errorf("size mismatch err = %v, want ErrInvalid", err)
	}
}
