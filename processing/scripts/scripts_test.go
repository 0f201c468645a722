package scripts_test

import (
	"errors"
	"image"
	"image/color"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/options"
	"github.com/sdapi/sdapi/processing/scripts"
	"github.com/sdapi/sdapi/processing/upscale"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/runnertest"
)

// newProcessor runs scripts on a real Processor over a fake runner that
// paints each image solid in its seed and step count.
func newProcessor(t *testing.T) (*processing.Processor, *runnertest.Runner) {
	t.Helper()
	store, err := options.New([]options.Def{
		{Key: "sd_model_checkpoint", Type: options.KindString, Nullable: true},
		{Key: "sd_vae", Default: "Automatic", Type: options.KindString},
		{Key: "samples_format", Default: "png", Type: options.KindString},
		{Key: "return_grid", Default: true, Type: options.KindBool},
		{Key: "rho", Default: 0.0, Type: options.KindNumber},
		{Key: "beta_dist_alpha", Default: 0.6, Type: options.KindNumber},
		{Key: "enable_prompt_comments", Default: true, Type: options.KindBool},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	spy := &runnertest.Runner{Paint: runnertest.SolidBySteps, Info: runner.ModelInfo{Name: "model", Hash: "0123456789"}}
	now := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	return &processing.Processor{
		Options:   store,
		State:     processing.NewState(now),
		Models:    &runnertest.Models{R: spy},
		OutputDir: t.TempDir(),
		Rand:      func() uint32 { return 4242 },
		Now:       now,
		Scripts:   processing.NewScripts(scripts.Builtin(upscale.NewRegistry(), nil)...),
	}, spy
}

func txt2img() processing.Params {
	p := processing.DefaultTxt2Img()
	p.Prompt, p.Steps, p.Width, p.Height, p.Seed = "a cat", 3, 64, 64, 100
	return p
}

func named(p processing.Params, name string, args ...any) processing.Params {
	p.ScriptName = &name
	p.ScriptArgs = args
	return p
}

func TestPromptMatrix(t *testing.T) {
	pr, spy := newProcessor(t)
	p := named(txt2img(), "prompt matrix", false, false, "positive", "comma", 0.0)
	p.Prompt = "a cat|red|big"
	out, err := pr.Run(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	calls := spy.Calls()
	if len(calls) != 4 {
		t.Fatalf("runner calls = %d, want 4 (one per combination, batch size 1)", len(calls))
	}
	var got []string
	for _, c := range calls {
		got = append(got, c.Prompts...)
		if !slices.Equal(c.Seeds, []int64{100}) {
			t.Errorf("seeds = %v, want the same seed 100 for every image", c.Seeds)
		}
	}
	want := []string{"a cat", "a cat, red", "a cat, big", "a cat, red, big"}
	if !slices.Equal(got, want) {
		t.Errorf("prompts = %q, want %q", got, want)
	}
	if len(out.Raw) != 5 || out.IndexOfFirstImage != 1 || len(out.Infotexts) != 5 {
		t.Fatalf("images %d, infotexts %d, index_of_first_image %d; want 5, 5, 1", len(out.Raw), len(out.Infotexts), out.IndexOfFirstImage)
	}
	if b := out.Raw[0].Bounds(); b.Dx() != 128 || b.Dy() != 128 {
		t.Errorf("grid = %v, want 2x2 cells of 64", b)
	}
}

func TestPromptMatrixDifferentSeedsBatched(t *testing.T) {
	pr, spy := newProcessor(t)
	p := named(txt2img(), "Prompt Matrix", true, true, "negative", "space", 0.0)
	p.NegativePrompt = "ugly|blurry"
	p.BatchSize = 2
	if _, err := pr.Run(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	calls := spy.Calls()
	if len(calls) != 1 {
		t.Fatalf("runner calls = %d, want 1 batch of 2", len(calls))
	}
	if want := []string{"ugly", "blurry ugly"}; !slices.Equal(calls[0].NegativePrompts, want) {
		t.Errorf("negative prompts = %q, want %q", calls[0].NegativePrompts, want)
	}
	if want := []int64{100, 101}; !slices.Equal(calls[0].Seeds, want) {
		t.Errorf("seeds = %v, want %v", calls[0].Seeds, want)
	}
}

func TestXYZStepsByCFG(t *testing.T) {
	pr, spy := newProcessor(t)
	labels := scripts.AxisLabels(processing.Txt2Img)
	steps, cfg := float64(slices.Index(labels, "Steps")), float64(slices.Index(labels, "CFG Scale"))
	p := named(txt2img(), "x/y/z plot",
		steps, "2-3", []any{},
		cfg, "5, 6.5, 8", []any{},
		0.0, "", []any{},
		true, true, false, false, false, false, false, 0.0, false)
	out, err := pr.Run(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	calls := spy.Calls()
	if len(calls) != 6 {
		t.Fatalf("runner calls = %d, want 6", len(calls))
	}
	type cell struct {
		steps int
		cfg   float64
	}
	var got []cell
	for _, c := range calls {
		got = append(got, cell{c.Steps, c.CFGScale})
	}
	want := []cell{{2, 5}, {3, 5}, {2, 6.5}, {3, 6.5}, {2, 8}, {3, 8}} // X innermost
	if !slices.Equal(got, want) {
		t.Errorf("cells = %v, want %v", got, want)
	}
	// Grid first, then the six cells (include_lone_images).
	if len(out.Raw) != 7 || len(out.Infotexts) != 7 {
		t.Fatalf("images %d, infotexts %d, want 7", len(out.Raw), len(out.Infotexts))
	}
	if b := out.Raw[0].Bounds(); b.Dx() != 128 || b.Dy() != 192 {
		t.Errorf("grid = %v, want 2 columns by 3 rows of 64", b)
	}
	if txt := out.Infotexts[0]; !contains(txt, "Script: X/Y/Z plot, X Type: Steps, X Values: 2-3, Y Type: CFG Scale, Y Values: \"5, 6.5, 8\"") {
		t.Errorf("grid infotext = %q", txt)
	}
}

func TestXYZDefaultReturnsOnlyTheGrid(t *testing.T) {
	pr, spy := newProcessor(t)
	labels := scripts.AxisLabels(processing.Txt2Img)
	p := named(txt2img(), "X/Y/Z plot", float64(slices.Index(labels, "Seed")), "-1, 7", []any{})
	out, err := pr.Run(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	calls := spy.Calls()
	if len(calls) != 2 || calls[0].Seeds[0] != 4242 || calls[1].Seeds[0] != 7 {
		t.Fatalf("calls %d with seeds %v, want -1 fixed to 4242 then 7", len(calls), calls)
	}
	if len(out.Raw) != 1 {
		t.Errorf("images = %d, want the grid only", len(out.Raw))
	}
}

func TestXYZSamplerUsesDropdownUnlessCSVMode(t *testing.T) {
	labels := scripts.AxisLabels(processing.Txt2Img)
	sampler := float64(slices.Index(labels, "Sampler"))
	pr, spy := newProcessor(t)
	p := named(txt2img(), "x/y/z plot", sampler, "ignored", []any{"Euler", "DDIM"})
	if _, err := pr.Run(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if calls := spy.Calls(); len(calls) != 2 || calls[0].Sampler != "Euler" || calls[1].Sampler != "DDIM" {
		t.Fatalf("calls = %d, want Euler then DDIM", len(calls))
	}
	p = named(txt2img(), "x/y/z plot", sampler, "Euler, Nope", []any{}, 0.0, "", []any{}, 0.0, "", []any{},
		true, false, false, false, false, false, false, 0.0, true)
	if _, err := pr.Run(t.Context(), p); err == nil {
		t.Fatal("unknown sampler in csv mode: want an error")
	}
}

func TestAxisValuesRanges(t *testing.T) {
	axes := map[string]scripts.Axis{}
	for _, a := range scripts.Axes(processing.Txt2Img) {
		axes[a.Label] = a
	}
	tests := []struct {
		axis, text string
		want       []any
	}{
		{"Steps", "1-5", []any{1, 2, 3, 4, 5}},
		{"Steps", "1-10 (+2)", []any{1, 3, 5, 7, 9}},
		{"Steps", "10-1 (-3)", []any{10, 7, 4}}, // range(10, 2, -3)
		{"Steps", "1-10 [5]", []any{1, 3, 5, 7, 10}},
		{"Steps", "4, 8,12", []any{4, 8, 12}},
		{"CFG Scale", "1-2 (+0.5)", []any{1.0, 1.5, 2.0}},
		{"CFG Scale", "0-1 [3]", []any{0.0, 0.5, 1.0}},
		{"Prompt S/R", `cat,"dog, big", bird`, []any{"cat", "dog, big", "bird"}},
		{"Prompt S/R", `cat, "dog, big"`, []any{"cat", `"dog`, `big"`}}, // no skipinitialspace
		{"Prompt S/R", "a\nb,c\n", []any{"a", "b", "c"}},
		{"Prompt order", "a, b", []any{[]string{"a", "b"}, []string{"b", "a"}}},
	}
	for _, tc := range tests {
		got, err := scripts.AxisValues(axes[tc.axis], tc.text, nil, false)
		if err != nil {
			t.Errorf("%s %q: %v", tc.axis, tc.text, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s %q = %v, want %v", tc.axis, tc.text, got, tc.want)
			continue
		}
		for i := range got {
			if s, ok := got[i].([]string); ok {
				if !slices.Equal(s, tc.want[i].([]string)) {
					t.Errorf("%s %q = %v, want %v", tc.axis, tc.text, got, tc.want)
				}
			} else if got[i] != tc.want[i] {
				t.Errorf("%s %q = %v, want %v", tc.axis, tc.text, got, tc.want)
			}
		}
	}
	if _, err := scripts.AxisValues(axes["Steps"], "ten", nil, false); err == nil {
		t.Error("Steps \"ten\": want an error")
	}
}

func TestPromptsFromFile(t *testing.T) {
	pr, spy := newProcessor(t)
	p := txt2img()
	p.Prompt = ""
	text := "a red fox\n\n--prompt \"a blue bird\" --steps 7 --cfg_scale 4.5\n--prompt owl --negative_prompt blurry --seed 9 --sampler_name ddim --n_iter 2\n"
	p = named(p, "prompts from file or textbox", true, false, "start", text)
	out, err := pr.Run(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	calls := spy.Calls()
	if len(calls) != 4 {
		t.Fatalf("runner calls = %d, want 1 + 1 + 2", len(calls))
	}
	type call struct {
		prompt, negative, sampler string
		steps                     int
		cfg                       float64
		seed                      int64
	}
	var got []call
	for _, c := range calls {
		got = append(got, call{c.Prompts[0], c.NegativePrompts[0], c.Sampler, c.Steps, c.CFGScale, c.Seeds[0]})
	}
	want := []call{
		{"a red fox", "", "Euler", 3, 7, 100},
		{"a blue bird", "", "Euler", 7, 4.5, 101}, // checkbox_iterate: seed + batch_size*n_iter per line
		{"owl", "blurry", "DDIM", 3, 7, 9},
		{"owl", "blurry", "DDIM", 3, 7, 10},
	}
	if !slices.Equal(got, want) {
		t.Errorf("calls =\n%v\nwant\n%v", got, want)
	}
	if len(out.Raw) != 4 || len(out.Infotexts) != 4 || len(out.AllPrompts) != 4 {
		t.Errorf("images %d, infotexts %d, prompts %d; want 4", len(out.Raw), len(out.Infotexts), len(out.AllPrompts))
	}
}

func TestPromptsFromFilePosition(t *testing.T) {
	pr, spy := newProcessor(t)
	p := named(txt2img(), "prompts from file or textbox", false, false, "end", "--prompt tree --negative_prompt dark")
	p.NegativePrompt = "ugly"
	if _, err := pr.Run(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	c := spy.Calls()[0]
	if c.Prompts[0] != "a cat tree" || c.NegativePrompts[0] != "ugly dark" {
		t.Errorf("prompt %q, negative %q; want \"a cat tree\", \"ugly dark\"", c.Prompts[0], c.NegativePrompts[0])
	}
}

func TestParseLine(t *testing.T) {
	got, err := scripts.ParseLine(`--prompt "a \"quoted\" cat" on a mat --steps 12 --tiling true --width 256`)
	if err != nil {
		t.Fatal(err)
	}
	want := scripts.LineArgs{"prompt": `a "quoted" cat on a mat`, "steps": 12, "tiling": true, "width": 256}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	for _, bad := range []string{"--bogus 1", "--steps", "steps 3", `--prompt "open`} {
		if _, err := scripts.ParseLine(bad); err == nil {
			t.Errorf("ParseLine(%q): want an error", bad)
		}
	}
}

func TestSDUpscale(t *testing.T) {
	tests := []struct {
		name      string
		args      []any
		batchSize int
		tiles     int
		calls     int
	}{
		// A1111's own test: 2x Lanczos of 64x64 is 128x128; 64x64 tiles
		// overlapping by 8 make 3x3 tiles.
		{"a1111 test args", []any{"", 8.0, "Lanczos", 2.0}, 1, 9, 9},
		{"upscaler by index, batches of 4", []any{"", 32.0, 1.0, 2.0}, 4, 9, 3},
		{"no overlap", []any{"", 0.0, "lanczos", 2.0}, 1, 4, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr, spy := newProcessor(t)
			p := processing.DefaultImg2Img()
			p.Prompt, p.Steps, p.Width, p.Height, p.Seed = "a cat", 3, 64, 64, 100
			p.BatchSize = tc.batchSize
			p.InitImages = []image.Image{image.NewRGBA(image.Rect(0, 0, 64, 64))}
			p = named(p, "sd upscale", tc.args...)
			out, err := pr.Run(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			calls := spy.Calls()
			if len(calls) != tc.calls {
				t.Fatalf("runner calls = %d, want %d", len(calls), tc.calls)
			}
			tiles := 0
			for _, c := range calls {
				tiles += len(c.Init.Images)
				if c.Width != 64 || c.Height != 64 {
					t.Errorf("tile size %dx%d, want 64x64", c.Width, c.Height)
				}
				if b := c.Init.Images[0].Bounds(); b.Dx() != 64 || b.Dy() != 64 {
					t.Errorf("tile image %v, want 64x64", b)
				}
			}
			if tiles != tc.tiles {
				t.Errorf("tiles = %d, want %d", tiles, tc.tiles)
			}
			if len(out.Raw) != 1 {
				t.Fatalf("images = %d, want 1 combined image", len(out.Raw))
			}
			if b := out.Raw[0].Bounds(); b.Dx() != 128 || b.Dy() != 128 {
				t.Errorf("combined = %v, want 128x128", b)
			}
		})
	}
}

// The upscale runs before any job Process checks, so its scale factor is
// checked first: a huge one is the pixel limit on script_args[3], a
// nonsense one an invalid request, and neither allocates the upscale.
func TestSDUpscaleScaleFactorLimit(t *testing.T) {
	tests := []struct {
		name  string
		scale any
		limit bool
	}{
		{"over the limit", 1e6, true},
		{"just over", 4.01, true},
		{"NaN", math.NaN(), false},
		{"zero", 0.0, false},
		{"negative", -2.0, false},
		{"infinite", math.Inf(1), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr, spy := newProcessor(t)
			pr.Limits = processing.Limits{MaxPixels: 64 * 64}
			p := processing.DefaultImg2Img()
			p.Prompt, p.Steps, p.Width, p.Height = "a cat", 3, 64, 64
			p.InitImages = []image.Image{image.NewRGBA(image.Rect(0, 0, 64, 64))}
			_, err := pr.Run(t.Context(), named(p, "sd upscale", "", 8.0, "Lanczos", tc.scale))
			var le *processing.LimitError
			switch {
			case tc.limit && (!errors.As(err, &le) || !reflect.DeepEqual(le.Loc, []any{"script_args", 3}) || le.Limit != 16*64*64):
				t.Fatalf("err = %v, want the pixel limit on script_args[3]", err)
			case !tc.limit && !errors.Is(err, processing.ErrInvalid):
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if n := len(spy.Calls()); n != 0 {
				t.Errorf("runner calls = %d, want 0", n)
			}
		})
	}
}

// Tiles are cut before the first job, so their number is checked first:
// an overlap just under the tile size would make thousands.
func TestSDUpscaleTileCountLimit(t *testing.T) {
	pr, spy := newProcessor(t)
	pr.Limits = processing.Limits{MaxImages: 100}
	p := processing.DefaultImg2Img()
	p.Prompt, p.Steps, p.Width, p.Height = "a cat", 3, 64, 64
	p.InitImages = []image.Image{image.NewRGBA(image.Rect(0, 0, 64, 64))}
	// 2× Lanczos makes 128×128; 64-pixel tiles overlapping by 63 are
	// 65×65 of them.
	_, err := pr.Run(t.Context(), named(p, "sd upscale", "", 63.0, "Lanczos", 2.0))
	var le *processing.LimitError
	if !errors.As(err, &le) || !reflect.DeepEqual(le.Loc, []any{"script_args", 1}) || le.Limit != 100 || !strings.Contains(le.Msg, "4225") {
		t.Fatalf("err = %v, want the images limit on script_args[1] naming 4225 tiles", err)
	}
	if n := len(spy.Calls()); n != 0 {
		t.Errorf("runner calls = %d, want 0", n)
	}
}

func TestSDUpscaleIsImg2ImgOnly(t *testing.T) {
	pr, spy := newProcessor(t)
	_, err := pr.Run(t.Context(), named(txt2img(), "sd upscale", "", 8.0, "Lanczos", 2.0))
	var se *processing.ScriptError
	if !asScriptError(err, &se) || se.Detail() != "Script 'sd upscale' not found" {
		t.Fatalf("err = %v, want Script 'sd upscale' not found", err)
	}
	if n := len(spy.Calls()); n != 0 {
		t.Errorf("runner calls = %d, want 0", n)
	}
}

func TestCombineGridBlendsOverlap(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 100, 40))
	for x := range 100 {
		for y := range 40 {
			src.SetRGBA(x, y, color.RGBA{uint8(x * 2), uint8(y * 5), 7, 255})
		}
	}
	g, err := scripts.SplitGrid(src, 40, 40, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Rows) != 1 || len(g.Rows[0].Tiles) != 3 {
		t.Fatalf("tiles = %d rows, want 1 row of 3", len(g.Rows))
	}
	// Unchanged tiles blend back into the original image.
	out := scripts.CombineGrid(g)
	for x := range 100 {
		for y := range 40 {
			if got, want := out.At(x, y), src.At(x, y); got != want {
				t.Fatalf("pixel %d,%d = %v, want %v", x, y, got, want)
			}
		}
	}

	// A white middle tile fades in over its left overlap, is white past
	// it, and the next tile fades back over the middle tile's right edge.
	mid := g.Rows[0].Tiles[1]
	white := image.NewRGBA(image.Rect(0, 0, mid.W, 40))
	for i := range white.Pix {
		white.Pix[i] = 255
	}
	g.Rows[0].Tiles[1].Image = white
	out = scripts.CombineGrid(g)
	red := func(img image.Image, x int) uint32 { r, _, _, _ := img.At(x, 20).RGBA(); return r >> 8 }
	next := g.Rows[0].Tiles[2].X
	for _, c := range []struct {
		name   string
		x      int
		lo, hi uint32 // inclusive bounds of the red channel
	}{
		{"left overlap start keeps the first tile", mid.X, red(src, mid.X), red(src, mid.X)},
		{"left overlap middle blends", mid.X + g.Overlap/2, red(src, mid.X+g.Overlap/2) + 1, 254},
		{"past the overlap is the white tile", mid.X + g.Overlap, 255, 255},
		{"right overlap middle blends back", next + g.Overlap/2, red(src, next+g.Overlap/2) + 1, 254},
	} {
		if got := red(out, c.x); got < c.lo || got > c.hi {
			t.Errorf("%s: red at x=%d is %d, want %d..%d", c.name, c.x, got, c.lo, c.hi)
		}
	}
}

// TestRegistryListings pins /sdapi/v1/scripts and /sdapi/v1/script-info
// as A1111 1.10.1 lists its built-ins with the default extensions-builtin
// (ScriptRunner.scripts order; a script without controls has no api_info
// and is listed only under a class-level name: "Hypertile" as written,
// Comments not at all), minus "img2img alternative test".
func TestRegistryListings(t *testing.T) {
	s := processing.NewScripts(scripts.Builtin(nil, func() []string { return []string{"m1 [abc]", "m2"} })...)
	alwaysOn := []string{"extra options", "Hypertile"}
	tail := []string{"refiner", "sampler", "seed"}
	wantT2I := slices.Concat([]string{"prompt matrix", "prompts from file or textbox", "x/y/z plot"}, alwaysOn, tail)
	wantI2I := slices.Concat([]string{"loopback", "outpainting mk2", "poor man's outpainting", "prompt matrix", "prompts from file or textbox", "sd upscale", "x/y/z plot"},
		alwaysOn, []string{"soft inpainting"}, tail)
	if got := s.Titles(processing.Txt2Img); !slices.Equal(got, wantT2I) {
		t.Errorf("txt2img titles = %q, want %q", got, wantT2I)
	}
	if got := s.Titles(processing.Img2Img); !slices.Equal(got, wantI2I) {
		t.Errorf("img2img titles = %q, want %q", got, wantI2I)
	}
	type row struct {
		name     string
		alwaysOn bool
		img2img  bool
		args     int
	}
	var got []row
	for _, in := range s.Infos() {
		got = append(got, row{in.Name, in.IsAlwaysOn, in.IsImg2Img, len(in.Args)})
	}
	want := []row{
		{"prompt matrix", false, false, 5}, {"prompts from file or textbox", false, false, 4}, {"x/y/z plot", false, false, 18},
		{"extra options", true, false, 0}, {"refiner", true, false, 3}, {"sampler", true, false, 3}, {"seed", true, false, 6},
		{"loopback", false, true, 4}, {"outpainting mk2", false, true, 6}, {"poor man's outpainting", false, true, 4},
		{"prompt matrix", false, true, 5}, {"prompts from file or textbox", false, true, 4}, {"sd upscale", false, true, 4}, {"x/y/z plot", false, true, 18},
		{"extra options", true, true, 0}, {"soft inpainting", true, true, 7}, {"refiner", true, true, 3}, {"sampler", true, true, 3}, {"seed", true, true, 6},
	}
	if !slices.Equal(got, want) {
		t.Errorf("script-info:\n got %v\nwant %v", got, want)
	}
	for _, in := range s.Infos() {
		switch in.Name {
		case "sd upscale":
			if in.Args[2].Value != "None" {
				t.Errorf("sd upscale upscaler default = %v", in.Args[2].Value)
			}
		case "refiner":
			if a := in.Args[1]; a.Label != "Checkpoint" || a.Value != "" || !slices.Equal(a.Choices, []string{"m1 [abc]", "m2"}) {
				t.Errorf("refiner checkpoint arg = %+v", a)
			}
		case "sampler":
			if a := in.Args[0]; a.Label != "Sampling steps" || a.Value != 20 || a.Minimum != 1 || a.Maximum != 150 || a.Step != 1 {
				t.Errorf("sampler steps arg = %+v", a)
			}
			if a := in.Args[2]; a.Label != "Schedule type" || a.Value != "Automatic" {
				t.Errorf("sampler schedule arg = %+v", a)
			}
		case "seed":
			if a := in.Args[0]; a.Label != "Seed" || a.Value != -1 || a.Minimum != nil {
				t.Errorf("seed arg = %+v", a)
			}
		}
	}
}
