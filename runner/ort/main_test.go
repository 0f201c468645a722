package ort

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"testing"

	"github.com/sdapi/sdapi/internal/imgconv"
	"github.com/sdapi/sdapi/internal/testenv"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/onnxgen"
)

// ortErr says why ONNX Runtime tests skip; empty when the environment is up.
var ortErr string

// emitRoot holds the pipelines emitted for this test binary.
var emitRoot string

// TestMain initializes ONNX Runtime once, from ONNXRUNTIME_SHARED_LIBRARY_PATH
// or the library `make onnxruntime` installs under .cache/.
func TestMain(m *testing.M) {
	code := func() int {
		lib, err := testenv.ORTLibrary()
		if err != nil {
			ortErr = err.Error()
			return m.Run()
		}
		if err := Init(lib); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer Shutdown()
		dir, err := os.MkdirTemp("", "sdapi-ort-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		emitRoot = dir
		return m.Run()
	}()
	os.Exit(code)
}

func requireORT(tb testing.TB) {
	tb.Helper()
	if ortErr != "" {
		testenv.Missing(tb, ortErr)
	}
}

var (
	emitMu   sync.Mutex
	emitted  = map[onnxgen.Config]string{}
	runnerMu sync.Mutex
	runners  = map[onnxgen.Config]*Runner{}
)

// emit writes the pipeline for cfg once per test binary and returns its
// directory.
func emit(tb testing.TB, cfg onnxgen.Config) string {
	tb.Helper()
	requireORT(tb)
	emitMu.Lock()
	defer emitMu.Unlock()
	if dir, ok := emitted[cfg]; ok {
		return dir
	}
	dir := filepath.Join(emitRoot, fmt.Sprintf("m%d", len(emitted)))
	if err := onnxgen.Emit(dir, cfg); err != nil {
		tb.Fatalf("emit %+v: %v", cfg, err)
	}
	if cfg.Size != onnxgen.Tiny {
		// The full-size shapes leave gigabytes of garbage the Go heap
		// would keep beside the sessions ONNX Runtime is about to load.
		debug.FreeOSMemory()
	}
	emitted[cfg] = dir
	return dir
}

// openShared returns a runner for cfg shared by the tests of this binary
// (Generate calls are serialised by the runner).
func openShared(tb testing.TB, cfg onnxgen.Config) *Runner {
	tb.Helper()
	dir := emit(tb, cfg)
	runnerMu.Lock()
	defer runnerMu.Unlock()
	if r, ok := runners[cfg]; ok {
		return r
	}
	r, err := Open(context.Background(), dir, Config{Threads: 2})
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	runners[cfg] = r
	return r
}

// baseRequest is a 64×64 txt2img request of 3 steps.
func baseRequest(sampler string, seeds ...int64) runner.Request {
	if len(seeds) == 0 {
		seeds = []int64{1}
	}
	req := runner.Request{
		Sampler: sampler, Steps: 3, CFGScale: 7, Width: 64, Height: 64,
		Emphasis: "Original", CommaBacktrack: 20, NoiseSource: "GPU",
	}
	for _, s := range seeds {
		req.Prompts = append(req.Prompts, "a photo of a cat")
		req.NegativePrompts = append(req.NegativePrompts, "blurry")
		req.Seeds = append(req.Seeds, s)
	}
	return req
}

// maxDiff returns the largest per-channel difference between two images of
// the same size, and the mean absolute difference.
func maxDiff(tb testing.TB, a, b image.Image) (int, float64) {
	tb.Helper()
	if a.Bounds() != b.Bounds() {
		tb.Fatalf("bounds %v vs %v", a.Bounds(), b.Bounds())
	}
	pa, pb := imgconv.ToNRGBA(a).Pix, imgconv.ToNRGBA(b).Pix
	worst, sum := 0, 0
	for i := range pa {
		d := int(pa[i]) - int(pb[i])
		if d < 0 {
			d = -d
		}
		worst = max(worst, d)
		sum += d
	}
	return worst, float64(sum) / float64(len(pa))
}
