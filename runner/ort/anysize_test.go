package ort

import (
	"context"
	"errors"
	"image"
	"testing"

	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/onnxgen"
)

// Sizes that are not multiples of 8 or 64, and below 64, run as A1111
// runs them: a latent of height/8 × width/8 (floored), decoded to 8× that,
// through the UNet whose skip connections match sizes. Under 8 the latent
// is empty: an invalid request.
func TestGenerateAnySize(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	mask := image.NewGray(image.Rect(0, 0, 100, 72))
	for i := range mask.Pix {
		if i%100 < 50 {
			mask.Pix[i] = 255
		}
	}
	tests := []struct {
		name         string
		w, h         int
		edit         func(*runner.Request)
		wantW, wantH int
	}{
		{"100x72", 100, 72, nil, 96, 72},
		{"below 64", 40, 8, nil, 40, 8},
		{"odd latent", 72, 72, nil, 72, 72},
		{"tiling", 100, 72, func(r *runner.Request) { r.Tiling = true }, 96, 72},
		{"img2img", 100, 72, func(r *runner.Request) {
			r.Init = &runner.Init{Images: []image.Image{testImage(100, 72)}, DenoisingStrength: 0.75, InitialNoiseMultiplier: 1}
		}, 96, 72},
		{"inpainting", 100, 72, func(r *runner.Request) {
			r.Init = &runner.Init{Images: []image.Image{testImage(100, 72)}, DenoisingStrength: 0.75, InitialNoiseMultiplier: 1,
				Mask: &runner.Mask{Image: mask, Fill: 1}}
		}, 96, 72},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := baseRequest("Euler a", 1, 2)
			req.Width, req.Height = tc.w, tc.h
			if tc.edit != nil {
				tc.edit(&req)
			}
			a, err := r.Generate(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := r.Generate(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			for i, im := range a.Images {
				if im.Bounds() != image.Rect(0, 0, tc.wantW, tc.wantH) {
					t.Fatalf("image %d: bounds %v, want %dx%d", i, im.Bounds(), tc.wantW, tc.wantH)
				}
				if d, _ := maxDiff(t, im, b.Images[i]); d != 0 {
					t.Errorf("image %d: max diff %d between runs", i, d)
				}
			}
			if _, mean := maxDiff(t, a.Images[0], a.Images[1]); mean == 0 {
				t.Errorf("seeds 1 and 2 gave the same image")
			}
		})
	}
	for _, size := range [][2]int{{7, 64}, {64, 0}, {-8, 64}} {
		req := baseRequest("Euler", 1)
		req.Width, req.Height = size[0], size[1]
		if _, err := r.Generate(t.Context(), req); !errors.Is(err, runner.ErrInvalidRequest) {
			t.Errorf("%dx%d: err = %v, want ErrInvalidRequest", size[0], size[1], err)
		}
	}
}

// The size-matching UNet copies where sizes match: at a multiple of 64 it
// gives the plain UNet's pixels exactly.
func TestAnySizeUNetMatchesPlain(t *testing.T) {
	r, err := Open(context.Background(), emit(t, onnxgen.Config{}), Config{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	req := baseRequest("DPM++ 2M", 3, 4)
	plain, err := r.Generate(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	restore, err := r.useAnySize(t.Context(), false) // no Generate runs: r.mu is free
	if err != nil {
		t.Fatal(err)
	}
	sized, err := r.Generate(t.Context(), req)
	restore()
	if err != nil {
		t.Fatal(err)
	}
	for i := range plain.Images {
		if d, _ := maxDiff(t, plain.Images[i], sized.Images[i]); d != 0 {
			t.Errorf("image %d: max diff %d, want identical", i, d)
		}
	}
}
