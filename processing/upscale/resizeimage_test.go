package upscale

import (
	"errors"
	"image"
	"image/color"
	"testing"
)

func builtin(t testing.TB, name string) Upscaler {
	t.Helper()
	u, err := NewRegistry().Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Ensure ResizeImage reproduces A1111's resize_image (modes 0, 1, 2 with
// the built-in upscalers) pixel for pixel on Pillow's output.
func TestResizeImageMatchesA1111(t *testing.T) {
	for _, tc := range loadGolden(t).ResizeImage {
		t.Run(tc.Out, func(t *testing.T) {
			got, err := ResizeImage(tc.Mode, loadPNG(t, tc.Src), tc.W, tc.H, builtin(t, tc.Upscaler))
			if err != nil {
				t.Fatal(err)
			}
			compareImages(t, got, loadPNG(t, tc.Out), 1)
		})
	}
}

func TestResizeImageErrors(t *testing.T) {
	tests := []struct {
		name       string
		srcW, srcH int
		mode, w, h int
	}{
		{"zero width", 8, 8, 0, 0, 8},
		{"negative height", 8, 8, 1, 8, -1},
		{"unknown mode", 8, 8, 3, 8, 8},
		{"fill with an empty intermediate", 100, 1, 2, 1, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := image.NewNRGBA(image.Rect(0, 0, tc.srcW, tc.srcH))
			_, err := ResizeImage(tc.mode, src, tc.w, tc.h, Upscaler{})
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

// Ensure a margin that rounds to zero rows is left alone instead of failing
// (A1111 raises there).
func TestResizeImageFillZeroMargin(t *testing.T) {
	// 21x21 into 10x11: the image becomes 10x10, pasted at y=0, and the
	// margins are 0 rows above and 1 row below.
	src := solid(21, 21, color.NRGBA{200, 200, 200, 255})
	got, err := ResizeImage(ResizeResizeFill, src, 10, 11, Upscaler{})
	if err != nil {
		t.Fatal(err)
	}
	img := got.(*image.NRGBA)
	if b := img.Bounds(); b.Dx() != 10 || b.Dy() != 11 {
		t.Fatalf("bounds = %v, want 10x11", b)
	}
	if c := img.NRGBAAt(3, 0); c != (color.NRGBA{200, 200, 200, 255}) {
		t.Errorf("top row = %v, want the image", c)
	}
	if c := img.NRGBAAt(3, 10); c != (color.NRGBA{0, 0, 0, 255}) {
		t.Errorf("bottom row = %v, want the black canvas", c)
	}
}

// Ensure grayscale images skip the upscaler, as mode "L" does in A1111.
func TestResizeImageGrayIgnoresUpscaler(t *testing.T) {
	src := image.NewGray(image.Rect(0, 0, 7, 5))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 9)
	}
	viaNearest, err := ResizeImage(ResizeJust, src, 21, 15, builtin(t, "Nearest"))
	if err != nil {
		t.Fatal(err)
	}
	compareImages(t, viaNearest, Resize(src, 21, 15, Lanczos), 0)
}
