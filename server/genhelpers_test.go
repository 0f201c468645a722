package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"path/filepath"
	"testing"

	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/queue"
	"github.com/sdapi/sdapi/processing/scripts"
	"github.com/sdapi/sdapi/processing/upscale"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/runnertest"
	"github.com/sdapi/sdapi/server"
)

// genEnv is what a generation test reaches besides HTTP.
type genEnv struct {
	*testServer
	Runner    *runnertest.Runner
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
	// The fake paints each image from its seed and reports every step.
	fr := &runnertest.Runner{ReportSteps: true, Info: runner.ModelInfo{Name: "tiny-sd", Path: ckpt, Hash: "0123456789", SHA256: "0123456789abcdef", Kind: "SD1"}}
	env := &genEnv{Runner: fr, Queue: queue.New(o.queueCap)}
	env.testServer = startServerDeps(t, dirs, nil, func(d *server.Deps) {
		// The ModelHost shares the server's catalog, so refresh-checkpoints
		// reaches both, as in cmd/sdapi-server.
		env.Models = processing.NewModelHost(d.Catalog, fr.Open)
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
