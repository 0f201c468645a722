package processing

import (
	"context"
	"errors"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/processing/imagemeta"
	"github.com/sdapi/sdapi/processing/options"
	"github.com/sdapi/sdapi/processing/styles"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/runnertest"
)

func TestFixedSeed(t *testing.T) {
	tests := []struct {
		name string
		seed int64
		rnd  []uint32
		want int64
	}{
		{"kept", 42, nil, 42},
		{"zero kept", 0, nil, 0},
		{"random", -1, []uint32{7}, 7},
		{"above the bound is redrawn", -1, []uint32{4294967294, 4294967295, 5}, 5},
		{"largest allowed", -1, []uint32{4294967293}, 4294967293},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := 0
			rnd := func() uint32 { v := tc.rnd[i]; i++; return v }
			if got := FixedSeed(tc.seed, rnd); got != tc.want {
				t.Fatalf("FixedSeed(%d) = %d, want %d", tc.seed, got, tc.want)
			}
		})
	}
	for range 100 {
		if got := FixedSeed(-1, nil); got < 0 || got >= 4294967294 {
			t.Fatalf("crypto seed %d out of range", got)
		}
	}
}

func TestAllSeeds(t *testing.T) {
	tests := []struct {
		name             string
		strength         float64
		wantSeeds, wantS []int64
	}{
		{"no variation", 0, []int64{10, 11, 12, 13}, []int64{50, 51, 52, 53}},
		{"variation", 0.3, []int64{10, 10, 10, 10}, []int64{50, 51, 52, 53}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seeds, subseeds := AllSeeds(10, 50, tc.strength, 4)
			if !slices.Equal(seeds, tc.wantSeeds) || !slices.Equal(subseeds, tc.wantS) {
				t.Fatalf("got %v %v, want %v %v", seeds, subseeds, tc.wantSeeds, tc.wantS)
			}
		})
	}
}

func TestProcessRandomSeed(t *testing.T) {
	pr, _ := newProcessor(t)
	pr.Rand = nil
	p := smallTxt2Img()
	p.Seed = -1
	p.BatchSize = 2
	out, err := pr.Process(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if out.Seed < 0 || out.Seed >= 4294967294 || out.AllSeeds[1] != out.Seed+1 {
		t.Fatalf("seed %d, all_seeds %v", out.Seed, out.AllSeeds)
	}
}

func TestInfotextGolden(t *testing.T) {
	tests := []struct {
		name   string
		params func() Params
		opts   map[string]any
	}{
		{"infotext_basic", smallTxt2Img, nil},
		{"infotext_negative_variation", func() Params {
			p := smallTxt2Img()
			p.NegativePrompt = "blurry, low quality"
			p.SubseedStrength, p.Subseed = 0.25, 77
			p.SeedResizeFromW, p.SeedResizeFromH = 256, 320
			name := "DPM++ 2M Karras"
			p.SamplerName = &name
			return p
		}, nil},
		{"infotext_clip_skip_ensd_rng", func() Params {
			p := smallTxt2Img()
			name := "Euler a"
			p.SamplerName = &name
			return p
		}, map[string]any{"CLIP_stop_at_last_layers": 2.0, "eta_noise_seed_delta": 31337.0, "randn_source": "CPU"}},
		{"infotext_hires", func() Params {
			p := smallTxt2Img()
			p.EnableHR = true
			ds := 0.5
			p.DenoisingStrength = &ds
			up := "Lanczos"
			p.HRUpscaler = &up
			p.HRSecondPassSteps = 3
			p.HRPrompt = "a cat, detailed"
			return p
		}, nil},
		{"infotext_img2img", func() Params {
			p := DefaultImg2Img()
			p.Prompt, p.Steps, p.Width, p.Height, p.Seed = "a dog", 4, 64, 64, 5
			p.InitImages = []image.Image{image.NewRGBA(image.Rect(0, 0, 64, 64))}
			p.Mask = image.NewRGBA(image.Rect(0, 0, 64, 64))
			return p
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr, _ := newProcessor(t)
			p := tc.params()
			p.OverrideSettings = tc.opts
			out, err := pr.Process(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.name, strings.Join(out.Infotexts, "\n---\n")+"\n")
		})
	}
}

func TestJSGolden(t *testing.T) {
	pr, _ := newProcessor(t)
	p := smallTxt2Img()
	p.BatchSize = 2
	p.Prompt = "ünïcode \"quoted\"\n"
	p.Styles = []string{}
	out, err := pr.Process(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "info_js", out.JS()+"\n")
}

// TestEncodeForSave: the infotext goes into a saved PNG or JPEG when
// enable_pnginfo gives one; webp and unknown formats are refused.
func TestEncodeForSave(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
	for _, tc := range []struct {
		format, params, wantFormat string
		wantErr                    error
	}{
		{"png", "a cat\nSteps: 2", "png", nil},
		{"PNG", "", "png", nil},
		{"jpg", "a cat\nSteps: 2", "jpeg", nil},
		{"webp", "x", "", ErrUnsupported},
		{"bmp", "x", "", ErrInvalidImageFormat},
	} {
		b, err := EncodeImage(img, tc.format, tc.params, 90, false)
		if !errors.Is(err, tc.wantErr) {
			t.Fatalf("%s: err = %v, want %v", tc.format, err, tc.wantErr)
		}
		if err != nil {
			continue
		}
		info, err := imagemeta.Read(b)
		if err != nil || info.Format != tc.wantFormat || info.Parameters != tc.params {
			t.Errorf("%s: info %+v, %v", tc.format, info, err)
		}
	}
}

func TestRefusedFeatures(t *testing.T) {
	yes := true
	tests := []struct {
		name string
		mod  func(*Params)
		opts map[string]any
		want error
	}{
		{"restore_faces", func(p *Params) { p.RestoreFaces = &yes }, nil, ErrUnsupported},
		{"face_restoration option", func(*Params) {}, map[string]any{"face_restoration": true}, ErrUnsupported},
		{"refiner without a RefinerProvider", func(p *Params) { s := "sdxl-refiner"; p.RefinerCheckpoint = &s }, nil, ErrUnsupported},
		{"hires without denoising", func(p *Params) { p.EnableHR = true }, nil, ErrInvalid},
		{"unknown hires upscaler", func(p *Params) {
			p.EnableHR = true
			ds := 0.5
			p.DenoisingStrength = &ds
			s := "4x-Nope"
			p.HRUpscaler = &s
		}, nil, ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr, spy := newProcessor(t)
			p := smallTxt2Img()
			tc.mod(&p)
			p.OverrideSettings = tc.opts
			_, err := pr.Process(t.Context(), p)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if len(spy.Calls()) != 0 {
				t.Fatal("runner called for a refused request")
			}
			if pr.Options.Bool("face_restoration") {
				t.Fatal("override not restored after refusal")
			}
		})
	}
}

func TestTilingPassedToRunner(t *testing.T) {
	pr, spy := newProcessor(t)
	p := smallTxt2Img()
	yes := true
	p.Tiling = &yes
	out, err := pr.Process(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if !spy.Calls()[0].Tiling || !strings.Contains(out.Infotexts[0], "Tiling: True") {
		t.Fatalf("tiling not passed: %+v %q", spy.Calls()[0].Tiling, out.Infotexts[0])
	}
}

func TestHiresTwoPasses(t *testing.T) {
	pr, spy := newProcessor(t)
	p := smallTxt2Img()
	p.EnableHR = true
	ds := 0.4
	p.DenoisingStrength = &ds
	p.HRScale = 1.5
	p.HRSecondPassSteps = 2
	out, err := pr.Process(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	calls := spy.Calls()
	if len(calls) != 2 || calls[0].Init != nil || calls[1].Init == nil {
		t.Fatalf("calls = %d", len(calls))
	}
	if c := calls[1]; c.Width != 96 || c.Height != 96 || c.Steps != 2 || c.Init.DenoisingStrength != 0.4 || !c.Init.ExactSteps || len(c.Init.Latents[0]) != 4*12*12 {
		t.Fatalf("second pass = %dx%d steps %d ds %v exact %v", c.Width, c.Height, c.Steps, c.Init.DenoisingStrength, c.Init.ExactSteps)
	}
	if out.Width != 64 || !strings.Contains(out.Infotexts[0], "Hires upscale: 1.5, Hires steps: 2") {
		t.Fatalf("width %d infotext %q", out.Width, out.Infotexts[0])
	}
}

func TestHiresTargetResolution(t *testing.T) {
	tests := []struct {
		name                 string
		w, h, rx, ry, fw, fh int
		scale                float64
		wantW, wantH         int
	}{
		{"scale", 512, 512, 0, 0, 0, 0, 2, 1024, 1024},
		{"resize x only", 512, 768, 1024, 0, 0, 0, 2, 1024, 1536},
		{"resize y only", 512, 768, 0, 1024, 0, 0, 2, 680, 1024},
		{"resize both, crop", 512, 512, 1024, 768, 0, 0, 2, 1024, 768},
		{"firstphase", 1024, 1024, 0, 0, 512, 512, 2, 1024, 1024},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr, _ := newProcessor(t)
			p := smallTxt2Img()
			p.Width, p.Height, p.HRResizeX, p.HRResizeY, p.HRScale = tc.w, tc.h, tc.rx, tc.ry, tc.scale
			p.FirstphaseWidth, p.FirstphaseHeight = tc.fw, tc.fh
			p.EnableHR = true
			ds := 0.5
			p.DenoisingStrength = &ds
			j, err := pr.prepare(&p)
			if err != nil {
				t.Fatal(err)
			}
			if w, h := j.hr.size(); w != tc.wantW || h != tc.wantH {
				t.Fatalf("hires size %dx%d, want %dx%d", w, h, tc.wantW, tc.wantH)
			}
		})
	}
}

func TestStylesAndPerImagePrompts(t *testing.T) {
	dir := t.TempDir()
	csv := "name,prompt,negative_prompt\nphoto,\"{prompt}, photo\",\"cartoon\"\nsharp,sharp,\n"
	if err := os.WriteFile(filepath.Join(dir, "styles.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	pr, spy := newProcessor(t)
	pr.Styles = styles.Open(filepath.Join(dir, "styles.csv"))
	p := smallTxt2Img()
	p.Prompts = []string{"a cat", "a dog"}
	p.NegativePrompt = "ugly"
	p.Styles = []string{"photo", "missing", "sharp"}
	out, err := pr.Process(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a cat, photo, sharp", "a dog, photo, sharp"}
	if !slices.Equal(out.AllPrompts, want) || !slices.Equal(spy.Calls()[0].Prompts, want[:1]) {
		t.Fatalf("prompts = %q, runner got %q", out.AllPrompts, spy.Calls()[0].Prompts)
	}
	if got := out.AllNegativePrompts[0]; got != "ugly, cartoon" {
		t.Fatalf("negative = %q", got)
	}
	// As A1111, n_iter (1) batches run whatever the list's length.
	if len(spy.Calls()) != 1 || len(out.Infotexts) != 1 {
		t.Fatalf("calls %d infotexts %d, want 1 and 1", len(spy.Calls()), len(out.Infotexts))
	}
}

func TestProgressState(t *testing.T) {
	pr, spy := newProcessor(t)
	preview := image.NewRGBA(image.Rect(0, 0, 8, 8))
	spy.GenerateFn = func(ctx context.Context, call int, req runner.Request) (runner.Result, error) {
		req.OnStep(runner.Progress{Step: 2, Steps: 4, Preview: []image.Image{preview}})
		snap := pr.State.Snapshot()
		if snap.Job != "scripts_txt2img" || snap.JobCount != 2 || snap.JobNo != call || snap.SamplingStep != 2 || snap.SamplingSteps != 4 {
			t.Errorf("snapshot during batch %d = %+v", call, snap)
		}
		if img, step := pr.State.CurrentImage(); img != preview || step != 2 {
			t.Errorf("current image = %v step %d", img, step)
		}
		return runnertest.SolidByIndex(req), nil
	}
	p := smallTxt2Img()
	p.NIter = 2
	if _, err := pr.Process(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if snap := pr.State.Snapshot(); snap.JobCount != 0 {
		t.Fatalf("state not ended: %+v", snap)
	}
}

func TestSaveImages(t *testing.T) {
	pr, _ := newProcessor(t)
	p := smallTxt2Img()
	p.SaveImages = true
	p.BatchSize = 2
	out, err := pr.Process(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	p.BatchSize = 1
	out2, err := pr.Process(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	saved := append(out.Saved, out2.Saved...)
	want := []string{
		"outputs/txt2img-images/2026-03-04/00000-1000.png",
		"outputs/txt2img-images/2026-03-04/00001-1001.png",
		"outputs/txt2img-images/2026-03-04/00002-1000.png",
	}
	for i := range saved {
		saved[i] = filepath.ToSlash(saved[i])
	}
	// The grid of the first job is saved too (grid_save), under txt2img-grids.
	if !slices.Contains(saved, "outputs/txt2img-grids/2026-03-04/grid-0000.png") {
		t.Errorf("no grid saved: %q", saved)
	}
	for _, w := range want {
		if !slices.Contains(saved, w) {
			t.Errorf("missing %s in %q", w, saved)
		}
		b, err := os.ReadFile(filepath.Join(pr.OutputDir, w))
		if err != nil {
			t.Fatal(err)
		}
		if info, err := imagemeta.Read(b); err != nil || !strings.HasPrefix(info.Parameters, "a cat\n") {
			t.Errorf("%s: parameters %q, %v", w, info.Parameters, err)
		}
	}
	if out.IndexOfFirstImage != 1 || len(out.Raw) != 3 {
		t.Errorf("grid not returned first: index %d, %d images", out.IndexOfFirstImage, len(out.Raw))
	}
}

// A fresh data directory has no outputs folder: save_images makes it, as
// A1111's save_image makes its folders, instead of failing.
func TestSaveImagesFreshOutputDir(t *testing.T) {
	pr, _ := newProcessor(t)
	pr.OutputDir = filepath.Join(t.TempDir(), "fresh-data", "outputs")
	p := smallTxt2Img()
	p.SaveImages = true
	out, err := pr.Process(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Saved) != 1 {
		t.Fatalf("saved %q, want one file", out.Saved)
	}
	if _, err := os.Stat(filepath.Join(pr.OutputDir, out.Saved[0])); err != nil {
		t.Fatal(err)
	}
}

func TestSaveImagesRefusesEscape(t *testing.T) {
	tests := []struct {
		name string
		opts map[string]any
	}{
		{"directory pattern", map[string]any{"directories_filename_pattern": "../../escape"}},
		{"file pattern", map[string]any{"samples_filename_pattern": "../[seed]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr, _ := newProcessor(t)
			p := smallTxt2Img()
			p.SaveImages = true
			p.OverrideSettings = tc.opts
			_, err := pr.Process(t.Context(), p)
			if !errors.Is(err, options.ErrUnsafePath) {
				t.Fatalf("err = %v, want ErrUnsafePath", err)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(pr.OutputDir), "escape")); err == nil {
				t.Fatal("wrote outside OutputDir")
			}
		})
	}
}
