package processing

import (
	"context"
	"errors"
	"image"
	"image/color"
	"testing"

	"github.com/sdapi/sdapi/processing/upscale"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/runnertest"
)

// doublingModel is a 2× model upscaler that paints its output one colour,
// so a test can tell whether the hires pass used it. hook, when set, runs
// first and may end the call.
type doublingModel struct {
	calls int
	hook  func(ctx context.Context) error
}

var _ upscale.ModelUpscaler = (*doublingModel)(nil)

func (m *doublingModel) Scale() int { return 2 }

func (m *doublingModel) Upscale(ctx context.Context, img image.Image) (image.Image, error) {
	m.calls++
	if m.hook != nil {
		if err := m.hook(ctx); err != nil {
			return nil, err
		}
	}
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, 2*b.Dx(), 2*b.Dy()))
	for i := 0; i < len(out.Pix); i += 4 {
		out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = 10, 200, 30, 255
	}
	return out, nil
}

func hiresParams(upscaler string) Params {
	p := smallTxt2Img()
	p.EnableHR = true
	ds := 0.4
	p.DenoisingStrength = &ds
	p.HRScale = 1.5
	if upscaler != "" {
		p.HRUpscaler = &upscaler
	}
	return p
}

// Ensure every image-space hires upscaler (built-in, model from the
// registry) gives the second pass an init image at the hires size made
// the way it names (Nearest copies pixels, Lanczos and None filter them
// alike), that only a model upscaler runs the model, and that none asks
// the first pass for latents.
func TestHiresUpscalers(t *testing.T) {
	// A one-pixel checkerboard first pass: Nearest keeps only its two
	// values, a Lanczos filter makes values between them.
	onlyBlackWhite := func(img image.Image) bool {
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				if r, _, _, _ := img.At(x, y).RGBA(); r != 0 && r != 0xffff {
					return false
				}
			}
		}
		return true
	}
	tests := []struct {
		upscaler   string
		modelCalls int
		check      func(image.Image) bool
	}{
		{"None", 0, func(img image.Image) bool { return !onlyBlackWhite(img) }},
		{"Lanczos", 0, func(img image.Image) bool { return !onlyBlackWhite(img) }},
		{"Nearest", 0, onlyBlackWhite},
		{"2x-Fake", 1, func(img image.Image) bool {
			return color.NRGBAModel.Convert(img.At(48, 48)) == color.NRGBA{10, 200, 30, 255}
		}},
	}
	inits := map[string]image.Image{}
	for _, tc := range tests {
		t.Run(tc.upscaler, func(t *testing.T) {
			pr, spy := newProcessor(t)
			spy.GenerateFn = func(_ context.Context, call int, req runner.Request) (runner.Result, error) {
				if call > 0 {
					return runnertest.SolidByIndex(req), nil
				}
				img := image.NewRGBA(image.Rect(0, 0, req.Width, req.Height))
				for y := range req.Height {
					for x := range req.Width {
						if (x+y)%2 == 0 {
							img.SetRGBA(x, y, color.RGBA{255, 255, 255, 255})
						} else {
							img.SetRGBA(x, y, color.RGBA{0, 0, 0, 255})
						}
					}
				}
				return runner.Result{Images: []image.Image{img}}, nil
			}
			m := &doublingModel{}
			pr.Upscalers = upscale.NewRegistry(upscale.NewModelUpscaler("2x-Fake", "ESRGAN", "/models/2x-Fake.onnx", m))
			if _, err := pr.Process(t.Context(), hiresParams(tc.upscaler)); err != nil {
				t.Fatal(err)
			}
			calls := spy.Calls()
			if len(calls) != 2 || calls[1].Init == nil {
				t.Fatalf("%d runner calls", len(calls))
			}
			if calls[0].ReturnLatents || calls[1].ReturnLatents || calls[1].Init.Latents != nil {
				t.Fatalf("latents asked for (%v, %v) or passed with an image upscaler", calls[0].ReturnLatents, calls[1].ReturnLatents)
			}
			if !calls[1].Init.ExactSteps {
				t.Error("second pass without exact steps")
			}
			img := calls[1].Init.Images[0]
			if b := img.Bounds(); b.Dx() != 96 || b.Dy() != 96 {
				t.Fatalf("init image %v, want 96x96", b)
			}
			if !tc.check(img) {
				t.Errorf("init image not made by %s", tc.upscaler)
			}
			if m.calls != tc.modelCalls {
				t.Errorf("model ran %d times, want %d", m.calls, tc.modelCalls)
			}
			inits[tc.upscaler] = img
		})
	}
	// A1111's None upscaler leaves the image as it is and resize_image
	// then resizes it with LANCZOS.
	a, b := inits["None"], inits["Lanczos"]
	if a == nil || b == nil {
		t.Fatal("missing init images")
	}
	for y := range 96 {
		for x := range 96 {
			if ca, cb := color.NRGBAModel.Convert(a.At(x, y)), color.NRGBAModel.Convert(b.At(x, y)); ca != cb {
				t.Fatalf("None and Lanczos differ at %d,%d: %v vs %v", x, y, ca, cb)
			}
		}
	}
}

// Ensure a processor without a registry still knows the built-in
// upscalers and refuses model names.
func TestHiresWithoutRegistry(t *testing.T) {
	pr, _ := newProcessor(t)
	if _, err := pr.Process(t.Context(), hiresParams("Nearest")); err != nil {
		t.Fatalf("Nearest: %v", err)
	}
	_, err := pr.Process(t.Context(), hiresParams("2x-Fake"))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

// Ensure the request context reaches a model upscaler, so cancelling a
// request stops hires upscaling.
func TestHiresUpscalerSeesRequestContext(t *testing.T) {
	pr, spy := newProcessor(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	m := &doublingModel{hook: func(ctx context.Context) error {
		cancel() // the client goes away while the model runs
		return ctx.Err()
	}}
	pr.Upscalers = upscale.NewRegistry(upscale.NewModelUpscaler("2x-Fake", "ESRGAN", "/models/2x-Fake.onnx", m))
	_, err := pr.Process(ctx, hiresParams("2x-Fake"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := len(spy.Calls()); n != 1 {
		t.Fatalf("%d runner calls, want only the first pass", n)
	}
}
