package scripts_test

import (
	"errors"
	"image"
	"slices"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/scripts"
)

// TestStripComments pins comments.py strip_comments (Python's re.sub with
// its two patterns, in order).
func TestStripComments(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a cat", "a cat"},
		{"a cat # hidden\nred", "a cat \nred"},
		{"# whole line\na cat", "\na cat"},
		{"a cat\n# whole line\nred", "a cat\nred"},
		{"#a\n#b", "\n\n"},
		{"a cat #", "a cat \n"},
		{"a # b # c\nd", "a \nd"},
		{"", ""},
	} {
		if got := scripts.StripComments(tc.in); got != tc.want {
			t.Errorf("StripComments(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCommentsScript(t *testing.T) {
	for _, tc := range []struct {
		name     string
		enable   any // override_settings enable_prompt_comments; nil leaves the default (true)
		wantText string
	}{
		{"default on", nil, "a cat \nred"},
		{"off", false, "a cat # hidden\nred"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, spy := newProcessor(t)
			p := txt2img()
			p.Prompt, p.NegativePrompt = "a cat # hidden\nred", "ugly # not this"
			if tc.enable != nil {
				p.OverrideSettings = map[string]any{"enable_prompt_comments": tc.enable}
			}
			out, err := pr.Run(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			c := spy.Calls()[0]
			if c.Prompts[0] != tc.wantText {
				t.Errorf("sampled prompt = %q, want %q", c.Prompts[0], tc.wantText)
			}
			if tc.enable == nil && c.NegativePrompts[0] != "ugly \n" {
				t.Errorf("sampled negative prompt = %q", c.NegativePrompts[0])
			}
			if out.AllPrompts[0] != tc.wantText || !strings.HasPrefix(out.Infotexts[0], tc.wantText) {
				t.Errorf("all_prompts %q, infotext %q: want %q reported", out.AllPrompts, out.Infotexts[0], tc.wantText)
			}
		})
	}
}

// TestBuiltinUIScriptArgsChangeNothing: Seed, Sampler and Refiner are
// ScriptBuiltinUI (setup_for_ui_only); the API runs setup with
// is_ui=False, so their alwayson_scripts args are accepted and change
// nothing — the request's own fields decide.
func TestBuiltinUIScriptArgsChangeNothing(t *testing.T) {
	pr, spy := newProcessor(t)
	p := txt2img()
	p.AlwaysonScripts = map[string]any{
		"seed":          map[string]any{"args": []any{5.0, true, 7.0, 0.5, 0.0, 0.0}},
		"Sampler":       map[string]any{"args": []any{20.0, "DDIM", "Karras"}},
		"refiner":       map[string]any{"args": []any{true, "nosuch", 0.8}},
		"comments":      map[string]any{},
		"extra options": map[string]any{"args": []any{}},
		"hypertile":     map[string]any{},
	}
	if _, err := pr.Run(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	c := spy.Calls()[0]
	if c.Seeds[0] != 100 || c.Steps != 3 || c.Sampler == "DDIM" || c.SubseedStrength != 0 {
		t.Errorf("request = seeds %v, steps %d, sampler %q, subseed strength %g; want the request's own 100, 3, not DDIM, 0", c.Seeds, c.Steps, c.Sampler, c.SubseedStrength)
	}
}

func TestAlwaysOnScriptModes(t *testing.T) {
	pr, _ := newProcessor(t)
	p := txt2img()
	p.AlwaysonScripts = map[string]any{"soft inpainting": map[string]any{"args": []any{true}}}
	var se *processing.ScriptError
	if _, err := pr.Run(t.Context(), p); !errors.As(err, &se) || !errors.Is(err, processing.ErrScriptNotFound) {
		t.Errorf("soft inpainting in txt2img: err = %v, want Script not found (img2img only)", err)
	}
}

func img2img(w, h int) processing.Params {
	p := processing.DefaultImg2Img()
	p.Prompt, p.Steps, p.Width, p.Height, p.Seed = "a cat", 3, w, h, 100
	p.InitImages = []image.Image{solid(w, h, 200)}
	return p
}

func solid(w, h int, v uint8) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = v, v/2, 255-v, 255
	}
	return img
}

// TestSoftInpaintingRefusedOnlyWhereItWouldWork: enabled on an inpainting
// job it would change the image, which this server cannot, so it is
// refused; disabled or without a mask it does nothing, as in A1111.
func TestSoftInpaintingRefusedOnlyWhereItWouldWork(t *testing.T) {
	for _, tc := range []struct {
		name    string
		enabled bool
		mask    bool
		want    error
	}{
		{"disabled with mask", false, true, nil},
		{"enabled without mask", true, false, nil},
		{"enabled with mask", true, true, processing.ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, spy := newProcessor(t)
			p := img2img(64, 64)
			if tc.mask {
				p.Mask = solid(64, 64, 255)
			}
			p.AlwaysonScripts = map[string]any{"Soft Inpainting": map[string]any{"args": []any{tc.enabled}}}
			_, err := pr.Run(t.Context(), p)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want != nil && len(spy.Calls()) != 0 {
				t.Errorf("ran %d batches before refusing", len(spy.Calls()))
			}
		})
	}
}

func TestLoopback(t *testing.T) {
	pr, spy := newProcessor(t)
	p := named(img2img(64, 64), "loopback", 3.0, 0.5, "Linear", "None")
	out, err := pr.Run(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	calls := spy.Calls()
	if len(calls) != 3 {
		t.Fatalf("runner calls = %d, want 3 loops", len(calls))
	}
	wantStrength := []float64{0.75, 0.625, 0.5}
	for i, c := range calls {
		if c.Init == nil || c.Init.DenoisingStrength != wantStrength[i] || c.Seeds[0] != 100+int64(i) {
			t.Errorf("loop %d: strength %v seed %v, want %g and %d", i, c.Init, c.Seeds, wantStrength[i], 100+i)
		}
	}
	// Loops 2 and 3 start from the previous loop's image (the spy paints
	// the seed into red).
	for i := 1; i < 3; i++ {
		if r, _, _, _ := calls[i].Init.Images[0].At(5, 5).RGBA(); uint8(r>>8) != uint8(100+i-1) {
			t.Errorf("loop %d init red = %d, want the previous image's %d", i, r>>8, 100+i-1)
		}
	}
	if len(out.Raw) != 4 || len(out.Infotexts) != 4 || out.IndexOfFirstImage != 0 {
		t.Fatalf("images %d, infotexts %d, first %d; want a grid and 3 loops, index 0", len(out.Raw), len(out.Infotexts), out.IndexOfFirstImage)
	}
	if b := out.Raw[0].Bounds(); b.Dx() != 192 || b.Dy() != 64 {
		t.Errorf("grid = %v, want one row of three", b)
	}
	for _, it := range out.Infotexts {
		if !strings.Contains(it, "Seed: 100,") || !strings.Contains(it, "Final denoising strength: 0.5, Denoising curve: Linear") {
			t.Errorf("infotext %q: want the first job's, with the loopback params", it)
		}
	}
	if out.Seed != 100 {
		t.Errorf("seed = %d, want the first job's", out.Seed)
	}
	if _, err := pr.Run(t.Context(), named(img2img(64, 64), "loopback", 2.0, 0.5, "Linear", "CLIP")); !errors.Is(err, processing.ErrUnsupported) {
		t.Errorf("CLIP interrogation: err = %v, want ErrUnsupported", err)
	}
}

func TestLoopbackStrengthCurves(t *testing.T) {
	for _, tc := range []struct {
		curve string
		want  []float64 // strengths of loops 1..4 from 0.8 to 0.2
	}{
		{"Linear", []float64{0.8, 0.6, 0.4, 0.2}},
		{"Aggressive", []float64{0.8, 0.5, 0.28038475772933685, 0.2}},
		{"Lazy", []float64{0.8, 0.7196152422706632, 0.5, 0.2}},
	} {
		pr, spy := newProcessor(t)
		p := img2img(64, 64)
		p.DenoisingStrength = ptr(0.8)
		if _, err := pr.Run(t.Context(), named(p, "loopback", 4.0, 0.2, tc.curve, "None")); err != nil {
			t.Fatal(err)
		}
		var got []float64
		for _, c := range spy.Calls() {
			got = append(got, c.Init.DenoisingStrength)
		}
		for i := range got {
			if d := got[i] - tc.want[i]; d > 1e-12 || d < -1e-12 {
				t.Errorf("%s: strengths %v, want %v", tc.curve, got, tc.want)
				break
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestOutpaintingMk2(t *testing.T) {
	pr, spy := newProcessor(t)
	p := named(img2img(64, 64), "outpainting mk2", "", 8.0, 8.0, []any{"left", "right", "up", "down"}, 1.0, 0.05)
	out, err := pr.Run(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	calls := spy.Calls()
	type size struct{ w, h int }
	var got []size
	for _, c := range calls {
		got = append(got, size{c.Width, c.Height})
		if c.Init == nil || c.Init.Mask == nil || c.Init.Mask.Latent == nil || c.Init.Mask.Fill != 1 {
			t.Fatalf("call without mask, latent mask and fill 1: %+v", c.Init)
		}
	}
	// Left and right grow 64 to 128 (32 each side: the canvas rounds up
	// to 64), one 64-wide job each; up and down likewise over 128 wide.
	if want := []size{{64, 64}, {64, 64}, {128, 64}, {128, 64}}; !slices.Equal(got, want) {
		t.Errorf("job sizes = %v, want %v", got, want)
	}
	if len(out.Raw) != 1 {
		t.Fatalf("images = %d, want the one outpainted image (no grid for one)", len(out.Raw))
	}
	if b := out.Raw[0].Bounds(); b.Dx() != 128 || b.Dy() != 128 {
		t.Errorf("result = %v, want 128x128", b)
	}
	// The first (left) job: the mask is white over the new 32 columns
	// and the blur (8) past them, black beyond; the latent mask is inset
	// by 2×blur; the init image holds the original at x ≥ 32.
	c := calls[0]
	m, l := c.Init.Mask.Image, c.Init.Mask.Latent
	red := func(img image.Image, x, y int) uint8 { r, _, _, _ := img.At(x, y).RGBA(); return uint8(r >> 8) }
	if red(l, 47, 30) != 255 || red(l, 48, 30) != 0 {
		t.Errorf("latent mask edge: x47=%d x48=%d, want white to x=47, black from 48", red(l, 47, 30), red(l, 48, 30))
	}
	// The mask is blurred by 4×mask_blur (32): white fading to grey.
	if red(m, 0, 30) < 200 || red(m, 63, 30) >= red(m, 0, 30) {
		t.Errorf("mask: left %d right %d, want white left, fading right", red(m, 0, 30), red(m, 63, 30))
	}
	if red(c.Init.Images[0], 40, 30) != 200 {
		t.Errorf("init image at x=40 = %d, want the original's 200", red(c.Init.Images[0], 40, 30))
	}
}

func TestPoorMansOutpainting(t *testing.T) {
	pr, spy := newProcessor(t)
	p := named(img2img(64, 64), "poor man's outpainting", 32.0, 4.0, 0.0, []any{"left", "right", "up", "down"})
	out, err := pr.Run(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	calls := spy.Calls()
	// A 128×128 canvas in 3×3 tiles of 64 overlapping by 32: the centre
	// tile lies inside the original and is skipped.
	if len(calls) != 8 {
		t.Fatalf("runner calls = %d, want 8 border tiles", len(calls))
	}
	for i, c := range calls {
		if c.Seeds[0] != 100+int64(i) || c.Init.Mask == nil || c.Init.Mask.Latent == nil || c.Init.Mask.Fill != 0 {
			t.Errorf("tile %d: seed %v, mask %+v; want seed %d, a mask, a latent mask, fill 0", i, c.Seeds, c.Init.Mask, 100+i)
		}
	}
	if len(out.Raw) != 1 || out.Raw[0].Bounds().Dx() != 128 || out.Raw[0].Bounds().Dy() != 128 {
		t.Fatalf("result %d images, want one 128x128", len(out.Raw))
	}
	if _, err := pr.Run(t.Context(), named(img2img(64, 64), "poor man's outpainting", 32.0, 4.0, "latent noise", []any{"left"})); err != nil {
		t.Errorf("masked content by name: %v", err)
	}
}
