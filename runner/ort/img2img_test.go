package ort

import (
	"errors"
	"image"
	"image/color"
	"testing"

	"github.com/sdapi/sdapi/internal/imgconv"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/onnxgen"
	"github.com/sdapi/sdapi/runner/sampling"
)

// testImage is a smooth colour gradient of w×h.
func testImage(w, h int) *image.NRGBA {
	im := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			im.SetNRGBA(x, y, color.NRGBA{uint8(255 * x / w), uint8(255 * y / h), uint8(128 + 64*(x+y)/(w+h)), 255})
		}
	}
	return im
}

// halfMask is white (repaint) on the left half and black on the right.
func halfMask(w, h int) *image.Gray {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w / 2 {
			m.SetGray(x, y, color.Gray{255})
		}
	}
	return m
}

func img2imgRequest(tb testing.TB, sampler string, seeds ...int64) runner.Request {
	tb.Helper()
	req := baseRequest(sampler, seeds...)
	req.Steps = 4
	req.Init = &runner.Init{Images: []image.Image{testImage(64, 64)}, DenoisingStrength: 0.75, InitialNoiseMultiplier: 1}
	return req
}

func TestImg2ImgEverySampler(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	for _, smp := range sampling.Samplers() {
		t.Run(smp.Name, func(t *testing.T) {
			var steps int
			req := img2imgRequest(t, smp.Name, 1, 2)
			req.OnStep = func(runner.Progress) { steps++ }
			res, err := r.Generate(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Images) != 2 || res.Timing.VAEEncode == 0 {
				t.Fatalf("%d images, encode time %d", len(res.Images), res.Timing.VAEEncode)
			}
			if steps == 0 && !smp.UsesTimesteps() {
				t.Errorf("no steps reported")
			}
			single, err := r.Generate(t.Context(), img2imgRequest(t, smp.Name, 2))
			if err != nil {
				t.Fatal(err)
			}
			// DPM adaptive's steps follow the whole batch's error (see
			// TestGenerateEverySampler).
			if d, _ := maxDiff(t, res.Images[1], single.Images[0]); d > 1 && smp.Name != "DPM adaptive" {
				t.Errorf("batch image 1 differs from the single run by %d", d)
			}
		})
	}
}

// Ensure img2img runs A1111's number of steps for a strength: t_enc+1 of
// steps for k-diffusion, t_enc−1 for DDIM; with exact steps (the hires
// pass, img2img_fix_steps) Steps steps from a schedule of int(steps/s).
func TestImg2ImgStrengthSteps(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	for _, tc := range []struct {
		sampler  string
		strength float64
		exact    bool
		want     int
	}{
		// k-diffusion: t_enc = int(min(s, 0.999)·steps); sigmas[steps−t_enc−1:] makes t_enc+1 steps.
		{"Euler", 0.75, false, 4},
		{"Euler", 0.5, false, 3},
		{"Euler", 1, false, 4},
		// DDIM: timesteps[:t_enc] makes t_enc−1 steps.
		{"DDIM", 0.75, false, 2},
		// Exact: sigmas of int(4/s) steps, the last t_enc+2 = 5 of them: 4 steps.
		{"Euler", 0.3, true, 4},
		{"Euler", 1, true, 4},
		// Exact DDIM: timesteps[:t_enc] of int(4/s) steps, t_enc = 3: 2 steps, as without exact steps at t_enc 3.
		{"DDIM", 0.3, true, 2},
	} {
		req := img2imgRequest(t, tc.sampler, 1)
		req.Init.DenoisingStrength = tc.strength
		req.Init.ExactSteps = tc.exact
		var steps int
		req.OnStep = func(runner.Progress) { steps++ }
		if _, err := r.Generate(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		if steps != tc.want {
			t.Errorf("%s strength %g exact %v: %d steps, want %d", tc.sampler, tc.strength, tc.exact, steps, tc.want)
		}
	}
}

// Ensure the runner takes init images at the target size, latent-upscales
// resize mode 3 images of any multiple of 8, and refuses anything else
// (resizing is the caller's job, see runner.Init).
func TestImg2ImgInitSizes(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	tests := []struct {
		name    string
		mode    int
		w, h    int // init image
		mask    bool
		wantErr bool
	}{
		{"target size", 0, 64, 96, false, false},
		{"latent upscale", 3, 80, 48, false, false},
		{"latent upscale needs multiples of 8", 3, 81, 48, false, true},
		{"wrong size", 1, 80, 48, false, true},
		{"latent upscale with a mask needs the target size", 3, 80, 48, true, true},
		{"mask at target size", 3, 64, 96, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := img2imgRequest(t, "Euler", 1)
			req.Width, req.Height = 64, 96
			req.Init.Images = []image.Image{testImage(tc.w, tc.h)}
			req.Init.ResizeMode = tc.mode
			if tc.mask {
				req.Init.Mask = &runner.Mask{Image: halfMask(64, 96), Round: true}
			}
			res, err := r.Generate(t.Context(), req)
			if tc.wantErr {
				if !errors.Is(err, runner.ErrInvalidRequest) {
					t.Fatalf("err = %v, want ErrInvalidRequest", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b := res.Images[0].Bounds(); b != image.Rect(0, 0, 64, 96) {
				t.Errorf("bounds %v", b)
			}
		})
	}
}

func TestInpaintingKeepsUnmaskedPixels(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	orig := testImage(64, 64)
	for _, smp := range []string{"Euler a", "DPM++ 2M", "DDIM"} {
		for fill := range 4 {
			for _, invert := range []bool{false, true} {
				req := img2imgRequest(t, smp, 1)
				req.Init.DenoisingStrength = 1
				mask := halfMask(64, 64)
				if invert { // processing inverts before handing the mask over
					for i, v := range mask.Pix {
						mask.Pix[i] = 255 - v
					}
				}
				req.Init.Mask = &runner.Mask{Image: mask, Round: true, Fill: fill}
				res, err := r.Generate(t.Context(), req)
				if err != nil {
					t.Fatalf("%s fill %d: %v", smp, fill, err)
				}
				got := imgconv.ToNRGBA(res.Images[0])
				kept, painted := image.Rect(48, 0, 64, 64), image.Rect(0, 0, 16, 64)
				if invert {
					kept, painted = painted, kept
				}
				if d := regionDiff(got, orig, kept, true); d > 1 {
					t.Errorf("%s fill %d invert %v: unmasked pixels differ by up to %.0f", smp, fill, invert, d)
				}
				if d := regionDiff(got, orig, painted, false); d < 2 {
					t.Errorf("%s fill %d invert %v: masked area mean diff %.2f, want it repainted", smp, fill, invert, d)
				}
			}
		}
	}
}

// regionDiff returns the max (worst) or mean absolute channel difference of
// two images inside rect.
func regionDiff(a, b *image.NRGBA, rect image.Rectangle, worst bool) float64 {
	var m, sum float64
	var n int
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			for c := range 3 {
				d := float64(a.Pix[a.PixOffset(x, y)+c]) - float64(b.Pix[b.PixOffset(x, y)+c])
				if d < 0 {
					d = -d
				}
				m = max(m, d)
				sum += d
				n++
			}
		}
	}
	if worst {
		return m
	}
	return sum / float64(n)
}
