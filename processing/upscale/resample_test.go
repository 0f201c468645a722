package upscale

import (
	"image"
	"image/color"
	"testing"
)

var filterByName = map[string]Filter{"LANCZOS": Lanczos, "BICUBIC": Bicubic, "BILINEAR": Bilinear, "NEAREST": Nearest}

// Ensure Resize reproduces Pillow's Image.resize pixels.
func TestResizeMatchesPillow(t *testing.T) {
	g := loadGolden(t)
	if len(g.Resize) == 0 {
		t.Fatal("no resize goldens")
	}
	for _, tc := range g.Resize {
		t.Run(tc.Out, func(t *testing.T) {
			got := Resize(loadPNG(t, tc.Src), tc.W, tc.H, filterByName[tc.Filter])
			compareImages(t, got, loadPNG(t, tc.Out), 1)
		})
	}
}

func TestResizeSameSizeCopies(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	src.Pix[0] = 7
	got := Resize(src, 3, 2, Lanczos)
	if got == src {
		t.Fatal("Resize returned its input")
	}
	if got.Pix[0] != 7 {
		t.Errorf("pixel = %d, want 7", got.Pix[0])
	}
}

func TestResizeNonPositiveSize(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	if got := Resize(src, 0, 5, Bicubic); !got.Rect.Empty() {
		t.Errorf("bounds = %v, want empty", got.Rect)
	}
}

// Ensure images not at the origin and of other types are read correctly.
func TestResizeInputTypes(t *testing.T) {
	gray := image.NewGray(image.Rect(5, 5, 9, 8))
	for i := range gray.Pix {
		gray.Pix[i] = 100
	}
	rgba := image.NewRGBA(image.Rect(-2, 0, 2, 3))
	sub := image.NewNRGBA(image.Rect(0, 0, 10, 10))
	for i := range rgba.Pix {
		rgba.Pix[i] = 100 + uint8(i%4/3)*155
	}
	for i := range sub.Pix {
		sub.Pix[i] = 100 + uint8(i%4/3)*155
	}
	for name, img := range map[string]image.Image{
		"gray": gray, "rgba": rgba, "subimage": sub.SubImage(image.Rect(3, 3, 7, 6)),
	} {
		t.Run(name, func(t *testing.T) {
			got := Resize(img, 9, 7, Lanczos)
			want := color.NRGBA{100, 100, 100, 255}
			for y := 0; y < 7; y++ {
				for x := 0; x < 9; x++ {
					if c := got.NRGBAAt(x, y); c != want {
						t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, c, want)
					}
				}
			}
		})
	}
}

func BenchmarkResizeLanczos512To1024(b *testing.B) {
	src := image.NewNRGBA(image.Rect(0, 0, 512, 512))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 7)
		if i%4 == 3 {
			src.Pix[i] = 255
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		Resize(src, 1024, 1024, Lanczos)
	}
}
