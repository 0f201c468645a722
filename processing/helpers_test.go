package processing

import (
	"context"
	"errors"
	"flag"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sdapi/sdapi/processing/options"
	"github.com/sdapi/sdapi/runner"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// spyRunner records every Generate call and returns solid images.
type spyRunner struct {
	mu    sync.Mutex
	calls []runner.Request
	// GenerateFn, when set, replaces the default behaviour.
	GenerateFn func(ctx context.Context, call int, req runner.Request) (runner.Result, error)
	info       runner.ModelInfo
}

var _ runner.Runner = (*spyRunner)(nil)

func (s *spyRunner) Generate(ctx context.Context, req runner.Request) (runner.Result, error) {
	s.mu.Lock()
	call := len(s.calls)
	s.calls = append(s.calls, req)
	fn := s.GenerateFn
	s.mu.Unlock()
	if fn != nil {
		return fn(ctx, call, req)
	}
	return solidResult(req), nil
}

func (s *spyRunner) Model() runner.ModelInfo { return s.info }
func (s *spyRunner) Close() error            { return nil }

func (s *spyRunner) Calls() []runner.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]runner.Request(nil), s.calls...)
}

func solidResult(req runner.Request) runner.Result {
	var res runner.Result
	for i := range req.Prompts {
		img := image.NewRGBA(image.Rect(0, 0, req.Width, req.Height))
		c := color.RGBA{uint8(req.Seeds[i]), uint8(i * 40), 99, 255}
		for p := 0; p < len(img.Pix); p += 4 {
			img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = c.R, c.G, c.B, c.A
		}
		res.Images = append(res.Images, img)
		if req.ReturnLatents {
			res.Latents = append(res.Latents, spyLatent(req.Seeds[i], req.Width/8, req.Height/8))
		}
	}
	return res
}

// spyLatent is a [4, h, w] latent that varies along both axes and with the
// seed, so interpolation and cropping show in its values.
func spyLatent(seed int64, w, h int) []float32 {
	lat := make([]float32, 4*h*w)
	for c := range 4 {
		for y := range h {
			for x := range w {
				lat[(c*h+y)*w+x] = float32(seed%100)/10 + float32(c) - float32(x*x)/float32(w) + float32(y)/3
			}
		}
	}
	return lat
}

// fakeModels serves one spy runner for every checkpoint and records what
// was asked for.
type fakeModels struct {
	r      *spyRunner
	known  map[string]bool
	loaded []string
}

func (m *fakeModels) Runner(_ context.Context, checkpoint, vae string) (runner.Runner, error) {
	m.loaded = append(m.loaded, checkpoint+"|"+vae)
	return m.r, nil
}
func (m *fakeModels) HasCheckpoint(name string) bool { return m.known[name] }
func (m *fakeModels) VAEHash(string) string          { return "" }

func testOptionDefs() []options.Def {
	return []options.Def{
		{Key: "sd_model_checkpoint", Type: options.KindString, Nullable: true},
		{Key: "sd_vae", Default: "Automatic", Type: options.KindString},
		{Key: "CLIP_stop_at_last_layers", Default: 1.0, Type: options.KindNumber},
		{Key: "eta_noise_seed_delta", Default: 0.0, Type: options.KindNumber},
		{Key: "randn_source", Default: "GPU", Type: options.KindString},
		{Key: "samples_format", Default: "png", Type: options.KindString},
		{Key: "enable_pnginfo", Default: true, Type: options.KindBool},
		{Key: "outdir_samples", Default: "", Type: options.KindString, Path: true},
		{Key: "outdir_txt2img_samples", Default: "outputs/txt2img-images", Type: options.KindString, Path: true},
		{Key: "directories_filename_pattern", Default: "[date]", Type: options.KindString},
		{Key: "samples_filename_pattern", Default: "", Type: options.KindString},
		{Key: "face_restoration", Default: false, Type: options.KindBool},
		{Key: "add_version_to_infotext", Default: true, Type: options.KindBool},
		{Key: "img2img_fix_steps", Default: false, Type: options.KindBool},
	}
}

func newStore(t *testing.T) *options.Store {
	t.Helper()
	s, err := options.New(testOptionDefs(), "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var fixedTime = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// newProcessor returns a Processor on a spy runner with a fixed clock and
// seed source.
func newProcessor(t *testing.T) (*Processor, *spyRunner) {
	t.Helper()
	spy := &spyRunner{info: runner.ModelInfo{Name: "v1-5-pruned-emaonly", Hash: "6ce0161689"}}
	now := func() time.Time { return fixedTime }
	return &Processor{
		Options:   newStore(t),
		State:     NewState(now),
		Models:    &fakeModels{r: spy, known: map[string]bool{"other": true}},
		OutputDir: t.TempDir(),
		Rand:      func() uint32 { return 123456 },
		Now:       now,
		Version:   "v1.10.1",
	}, spy
}

func smallTxt2Img() Params {
	p := DefaultTxt2Img()
	p.Prompt = "a cat"
	p.Steps = 4
	p.Width, p.Height = 64, 64
	p.Seed = 1000
	return p
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

var errBoom = errors.New("boom")
