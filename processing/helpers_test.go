package processing

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sdapi/sdapi/processing/options"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/runnertest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

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

// newProcessor returns a Processor on a fake runner with a fixed clock and
// seed source.
func newProcessor(t *testing.T) (*Processor, *runnertest.Runner) {
	t.Helper()
	spy := &runnertest.Runner{Paint: runnertest.SolidByIndex, Info: runner.ModelInfo{Name: "v1-5-pruned-emaonly", Hash: "6ce0161689"}}
	now := func() time.Time { return fixedTime }
	return &Processor{
		Options:   newStore(t),
		State:     NewState(now),
		Models:    &runnertest.Models{R: spy, Known: map[string]bool{"other": true}},
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
