package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/queue"
	"github.com/sdapi/sdapi/processing/scripts"
	"github.com/sdapi/sdapi/processing/upscale"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/server"
)

// fakeRunner is the runner seam of the tests: a real Processor, ModelHost
// and queue call it. By default it paints each image from its seed
// (deterministic), and reports every step.
type fakeRunner struct {
	mu    sync.Mutex
	calls []runner.Request
	// generate, when set, replaces the default behaviour.
	generate func(ctx context.Context, req runner.Request) (runner.Result, error)
	model    runner.ModelInfo
	// opened are the (checkpoint dir, VAE dir) pairs the ModelHost loaded;
	// openErr, when set, fails a load of the directory it is keyed by.
	opened  [][2]string
	openErr map[string]error
}

// open records a model load and fails it as openErr says.
func (f *fakeRunner) open(dir, vaeDir string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opened = append(f.opened, [2]string{dir, vaeDir})
	return f.openErr[dir]
}

// failOpen makes loading the checkpoint in dir fail with err.
func (f *fakeRunner) failOpen(dir string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.openErr == nil {
		f.openErr = map[string]error{}
	}
	f.openErr[dir] = err
}

// Opened returns the directories loaded so far.
func (f *fakeRunner) Opened() [][2]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][2]string(nil), f.opened...)
}

var _ runner.Runner = (*fakeRunner)(nil)

func (f *fakeRunner) Generate(ctx context.Context, req runner.Request) (runner.Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, req)
	fn := f.generate
	f.mu.Unlock()
	if fn != nil {
		return fn(ctx, req)
	}
	for s := 1; s <= req.Steps; s++ {
		if req.OnStep != nil {
			req.OnStep(runner.Progress{Step: s, Steps: req.Steps})
		}
	}
	return seedImages(req), nil
}

func (f *fakeRunner) Model() runner.ModelInfo { return f.model }
func (f *fakeRunner) Close() error            { return nil }

func (f *fakeRunner) Calls() []runner.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]runner.Request(nil), f.calls...)
}

// seedImages paints one image per prompt: a pattern determined by the seed.
func seedImages(req runner.Request) runner.Result {
	var res runner.Result
	for i := range req.Prompts {
		res.Images = append(res.Images, seedImage(req.Seeds[i], req.Width, req.Height))
	}
	return res
}

func seedImage(seed int64, w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	s := uint32(seed)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := img.PixOffset(x, y)
			img.Pix[o] = uint8(s) + uint8(x)
			img.Pix[o+1] = uint8(s>>8) + uint8(y)
			img.Pix[o+2] = uint8(s>>16) ^ uint8(x+y)
			img.Pix[o+3] = 255
		}
	}
	return img
}

// genEnv is what a generation test reaches besides HTTP.
type genEnv struct {
	*testServer
	Runner    *fakeRunner
	Processor *processing.Processor
	Queue     *queue.Queue
	Models    *processing.ModelHost
}

type genOptions struct {
	queueCap int
	noScript bool
	config   []func(*server.Config)
	settings string // config.json before the start, when not empty
}

// newGenServer starts a server that can generate: a real Processor with
// the built-in scripts, a ModelHost over one installed checkpoint whose
// open function returns the fake runner, a queue and the built-in
// upscalers.
func newGenServer(t testing.TB, opts ...func(*genOptions)) *genEnv {
	t.Helper()
	o := genOptions{queueCap: 32}
	for _, f := range opts {
		f(&o)
	}
	dirs := newTestDirs(t)
	if o.settings != "" {
		writeFile(t, filepath.Join(dirs.Data, "config.json"), o.settings)
	}
	ckpt := dirs.addCheckpoint(t, "tiny-sd")
	fr := &fakeRunner{model: runner.ModelInfo{Name: "tiny-sd", Path: ckpt, Hash: "0123456789", SHA256: "0123456789abcdef", Kind: "SD1"}}
	env := &genEnv{Runner: fr, Queue: queue.New(o.queueCap)}
	env.testServer = startServerDeps(t, dirs, nil, func(d *server.Deps) {
		// The ModelHost shares the server's catalog, so refresh-checkpoints
		// reaches both, as in cmd/sdapi-server.
		env.Models = processing.NewModelHost(d.Catalog, func(_ context.Context, dir, vaeDir string) (runner.Runner, error) {
			if err := fr.open(dir, vaeDir); err != nil {
				return nil, err
			}
			return fr, nil
		})
		ups := upscale.NewRegistry()
		env.Processor = &processing.Processor{
			Options:   d.Options,
			State:     d.State,
			Styles:    d.Styles,
			Models:    env.Models,
			OutputDir: t.TempDir(),
			Version:   "v1.10.1",
		}
		// As cmd/sdapi-server does, the Processor runs with the server's
		// limits: those Check cannot see before the job (img2img_fix_steps
		// from override_settings, a script's jobs) are its to refuse.
		env.Processor.Limits = configLimits(o.config).Processing()
		if !o.noScript {
			env.Processor.Scripts = processing.NewScripts(scripts.Builtin(ups, nil)...)
		}
		d.Processor, d.Queue, d.Models, d.Upscalers = env.Processor, env.Queue, env.Models, ups
	}, o.config...)
	return env
}

// configLimits are the Limits the server runs with after the config
// edits: zero fields take the defaults, as in server.New.
func configLimits(edits []func(*server.Config)) server.Limits {
	var c server.Config
	for _, f := range edits {
		f(&c)
	}
	return c.Limits.WithDefaults()
}

// withSettings starts the server with this config.json.
func withSettings(json string) func(*genOptions) { return func(o *genOptions) { o.settings = json } }

func withQueueCap(n int) func(*genOptions) { return func(o *genOptions) { o.queueCap = n } }

// withConfig edits the server.Config the generation server starts with.
func withConfig(f func(*server.Config)) func(*genOptions) {
	return func(o *genOptions) { o.config = append(o.config, f) }
}

// genResponse is TextToImageResponse / ImageToImageResponse.
type genResponse struct {
	Images     []string       `json:"images"`
	Parameters map[string]any `json:"parameters"`
	Info       string         `json:"info"`
}

// infoJSON is the part of the info string the tests read.
type infoJSON struct {
	Seed       int64    `json:"seed"`
	AllSeeds   []int64  `json:"all_seeds"`
	Infotexts  []string `json:"infotexts"`
	Prompt     string   `json:"prompt"`
	Sampler    string   `json:"sampler_name"`
	Width      int      `json:"width"`
	Height     int      `json:"height"`
	BatchSize  int      `json:"batch_size"`
	FirstImage int      `json:"index_of_first_image"`
}

func (r genResponse) info(t testing.TB) infoJSON {
	t.Helper()
	return decode[infoJSON](t, []byte(r.Info))
}

// decodeB64Image decodes one returned image.
func decodeB64Image(t testing.TB, s string) (image.Image, []byte) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("image is not plain base64: %v", err)
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("image does not decode: %v", err)
	}
	return img, raw
}

// pngDataURI is a w×h PNG as conftest.py's file_to_base64 sends it.
func pngDataURI(t testing.TB, w, h int, c color.Color) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(encodePNG(t, img))
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
