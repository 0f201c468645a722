package processing

import (
	"errors"
	"image"
	"image/color"
	"testing"
)

func smallImg2Img(init image.Image) Params {
	p := DefaultImg2Img()
	p.Prompt = "a cat"
	p.Steps = 4
	p.Width, p.Height = 64, 96
	p.Seed = 1000
	p.InitImages = []image.Image{init}
	return p
}

func gradient(w, h int) *image.NRGBA {
	im := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			im.SetNRGBA(x, y, color.NRGBA{uint8(255 * x / w), uint8(255 * y / h), 128, 255})
		}
	}
	return im
}

// leftHalf is white (repaint) on the left half of a w×h mask.
func leftHalf(w, h int) *image.Gray {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w / 2 {
			m.SetGray(x, y, color.Gray{255})
		}
	}
	return m
}

// Ensure the runner receives init images and masks already resized, as
// A1111's img2img init prepares them before VAE encode.
func TestInitImagesReachRunnerResized(t *testing.T) {
	tests := []struct {
		name     string
		mode     int
		mask     bool
		wantSize image.Point
	}{
		{"just resize", 0, false, image.Pt(64, 96)},
		{"crop and resize", 1, false, image.Pt(64, 96)},
		{"resize and fill", 2, false, image.Pt(64, 96)},
		{"latent upscale keeps the size, floored to 8", 3, false, image.Pt(80, 48)},
		{"latent upscale with a mask", 3, true, image.Pt(64, 96)},
		{"crop and resize with a mask", 1, true, image.Pt(64, 96)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr, spy := newProcessor(t)
			p := smallImg2Img(gradient(83, 50))
			p.ResizeMode = tc.mode
			if tc.mask {
				p.Mask = leftHalf(83, 50)
			}
			if _, err := pr.Process(t.Context(), p); err != nil {
				t.Fatal(err)
			}
			in := spy.Calls()[0].Init
			if got := in.Images[0].Bounds().Size(); got != tc.wantSize {
				t.Errorf("init image %v, want %v", got, tc.wantSize)
			}
			if in.ResizeMode != tc.mode {
				t.Errorf("resize mode %d, want %d", in.ResizeMode, tc.mode)
			}
			if tc.mask {
				if got := in.Mask.Image.Bounds().Size(); got != image.Pt(64, 96) {
					t.Errorf("mask %v, want 64x96", got)
				}
			} else if in.Mask != nil {
				t.Error("mask without a request mask")
			}
		})
	}
}

// Ensure the mask is inverted and blurred before the resize, and that a
// transparent init image is flattened over white.
func TestInitMaskAndFlatten(t *testing.T) {
	tests := []struct {
		name         string
		invert       int
		blur         int
		wantL, wantR uint8 // mask at the far left and far right
		wantEdge     func(v uint8) bool
	}{
		{"sharp", 0, 0, 255, 0, func(v uint8) bool { return v == 0 || v == 255 }},
		{"inverted", 1, 0, 0, 255, func(v uint8) bool { return v == 0 || v == 255 }},
		{"blurred", 0, 4, 255, 0, func(v uint8) bool { return v > 0 && v < 255 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr, spy := newProcessor(t)
			clear := image.NewNRGBA(image.Rect(0, 0, 64, 96)) // fully transparent
			p := smallImg2Img(clear)
			p.Mask = leftHalf(64, 96)
			p.InpaintingMaskInvert = tc.invert
			p.MaskBlurX, p.MaskBlurY = tc.blur, tc.blur
			if _, err := pr.Process(t.Context(), p); err != nil {
				t.Fatal(err)
			}
			in := spy.Calls()[0].Init
			m := in.Mask.Image.(*image.Gray)
			if l, r := m.GrayAt(0, 48).Y, m.GrayAt(63, 48).Y; l != tc.wantL || r != tc.wantR {
				t.Errorf("mask left %d right %d, want %d %d", l, r, tc.wantL, tc.wantR)
			}
			if v := m.GrayAt(32, 48).Y; !tc.wantEdge(v) {
				t.Errorf("mask at the edge = %d", v)
			}
			if got := color.NRGBAModel.Convert(in.Images[0].At(10, 10)); got != (color.NRGBA{255, 255, 255, 255}) {
				t.Errorf("transparent pixel became %v, want white", got)
			}
		})
	}
}

func TestInitRejectsBadResizeMode(t *testing.T) {
	pr, spy := newProcessor(t)
	p := smallImg2Img(gradient(64, 96))
	p.ResizeMode = 4
	if _, err := pr.Process(t.Context(), p); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	if len(spy.Calls()) != 0 {
		t.Fatal("runner called")
	}
}

// img2img_fix_steps makes img2img sample exactly steps steps, as A1111's
// setup_img2img_steps does when the option is on.
func TestImg2ImgFixStepsOption(t *testing.T) {
	for _, fix := range []bool{false, true} {
		pr, spy := newProcessor(t)
		p := smallImg2Img(gradient(64, 96))
		p.OverrideSettings = map[string]any{"img2img_fix_steps": fix}
		if _, err := pr.Process(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		if got := spy.Calls()[0].Init.ExactSteps; got != fix {
			t.Errorf("img2img_fix_steps %v: runner ExactSteps %v", fix, got)
		}
	}
}
