package processing

import (
	"context"
	"image"
	"slices"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/processing/upscale"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/runnertest"
)

// wantHiresLatent is what sample_hr_pass hands sample_img2img: the first
// pass's latent of an image of size from, interpolated to (to.Y/8, to.X/8)
// and cropped by [trunc.Y//2 : to.Y/8-(trunc.Y+1)//2,
// trunc.X//2 : to.X/8-(trunc.X+1)//2].
func wantHiresLatent(t *testing.T, first []float32, from, to, trunc image.Point, m upscale.LatentMode) []float32 {
	t.Helper()
	th, tw := to.Y/8, to.X/8
	up, err := upscale.Interpolate(first, 4, from.Y/8, from.X/8, th, tw, m)
	if err != nil {
		t.Fatal(err)
	}
	var out []float32
	for c := range 4 {
		for y := trunc.Y / 2; y < th-(trunc.Y+1)/2; y++ {
			row := up[(c*th+y)*tw:]
			out = append(out, row[trunc.X/2:tw-(trunc.X+1)/2]...)
		}
	}
	return out
}

// Ensure every latent mode asks the first pass for latents and gives the
// second pass upscale.Interpolate of them with the mode's (mode,
// antialias), per image of the batch, with no init images, exactly the
// hires steps, and the infotext A1111 writes.
func TestHiresLatentModes(t *testing.T) {
	for _, name := range append([]string{""}, upscale.LatentModes()...) {
		t.Run(name, func(t *testing.T) {
			pr, spy := newProcessor(t)
			p := hiresParams(name)
			p.BatchSize = 2
			p.HRSecondPassSteps = 3
			out, err := pr.Process(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			calls := spy.Calls()
			if len(calls) != 2 || !calls[0].ReturnLatents || calls[1].ReturnLatents {
				t.Fatalf("%d calls; latents asked for: first %v, second %v", len(calls), calls[0].ReturnLatents, calls[1].ReturnLatents)
			}
			c := calls[1]
			if c.Init == nil || c.Init.Images != nil || len(c.Init.Latents) != 2 {
				t.Fatalf("second pass init %+v", c.Init)
			}
			if c.Width != 96 || c.Height != 96 || c.Steps != 3 || !c.Init.ExactSteps || c.Init.DenoisingStrength != 0.4 {
				t.Fatalf("second pass %dx%d, %d steps, exact %v, strength %v", c.Width, c.Height, c.Steps, c.Init.ExactSteps, c.Init.DenoisingStrength)
			}
			mname := name
			if mname == "" {
				mname = "Latent" // latent_upscale_default_mode
			}
			m, _ := upscale.LookupLatentMode(mname)
			for i, seed := range calls[0].Seeds {
				want := wantHiresLatent(t, runnertest.Latent(seed, 8, 8), image.Pt(64, 64), image.Pt(96, 96), image.Point{}, m)
				if !slices.Equal(c.Init.Latents[i], want) {
					t.Errorf("image %d: init latent is not the interpolated first-pass latent", i)
				}
			}
			wantInfo := "Hires upscaler: " + name
			if name == "" {
				wantInfo = "" // None is not written
			}
			if got := strings.Contains(out.Infotexts[0], "Hires upscaler:"); got != (wantInfo != "") || !strings.Contains(out.Infotexts[0], wantInfo) {
				t.Errorf("infotext %q, want %q", out.Infotexts[0], wantInfo)
			}
		})
	}
}

// Ensure hr_resize_x and hr_resize_y of another aspect crop the
// interpolated latent as sample_hr_pass does (truncate_x//2 off the left,
// the rest off the right).
func TestHiresLatentTruncation(t *testing.T) {
	pr, spy := newProcessor(t)
	p := hiresParams("Latent (bicubic)")
	p.Width, p.Height = 64, 96
	p.HRResizeX, p.HRResizeY = 104, 120 // → 104×156, truncate_y (156−120)//8 = 4
	if _, err := pr.Process(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	calls := spy.Calls()
	c := calls[1]
	if c.Width != 104 || c.Height != 120 {
		t.Fatalf("second pass %dx%d, want 104x120", c.Width, c.Height)
	}
	m, _ := upscale.LookupLatentMode("Latent (bicubic)")
	want := wantHiresLatent(t, runnertest.Latent(calls[0].Seeds[0], 8, 12), image.Pt(64, 96), image.Pt(104, 156), image.Pt(0, 4), m)
	if len(want) != 4*15*13 || !slices.Equal(c.Init.Latents[0], want) {
		t.Fatalf("init latent of %d values is not the cropped interpolation (%d values)", len(c.Init.Latents[0]), len(want))
	}
}

// Ensure a runner that returns no latents, and firstpass_image, still get
// a hires pass: the image-space stand-in for the latent mode.
func TestHiresLatentFallsBackToImages(t *testing.T) {
	t.Run("runner without latents", func(t *testing.T) {
		pr, spy := newProcessor(t)
		spy.GenerateFn = func(_ context.Context, _ int, req runner.Request) (runner.Result, error) {
			res := runnertest.SolidByIndex(req)
			res.Latents = nil
			return res, nil
		}
		if _, err := pr.Process(t.Context(), hiresParams("Latent")); err != nil {
			t.Fatal(err)
		}
		if in := spy.Calls()[1].Init; in.Latents != nil || len(in.Images) != 1 || in.Images[0].Bounds().Dx() != 96 {
			t.Fatalf("second pass init %+v", in)
		}
	})
	t.Run("firstpass_image", func(t *testing.T) {
		pr, spy := newProcessor(t)
		p := hiresParams("Latent (nearest)")
		p.FirstpassImage = runnertest.SolidByIndex(runner.Request{Prompts: []string{""}, Seeds: []int64{7}, Width: 64, Height: 64}).Images[0]
		if _, err := pr.Process(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		calls := spy.Calls()
		if len(calls) != 1 || calls[0].Init.Latents != nil || calls[0].Init.Images[0].Bounds().Dx() != 96 {
			t.Fatalf("%d calls, init %+v", len(calls), calls[0].Init)
		}
	})
}
