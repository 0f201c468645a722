package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/sdapi/sdapi/processing/catalog"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/onnxgen"
	"github.com/sdapi/sdapi/runner/ort"
)

// defaultModelName is the directory of the test model the server emits
// when no model is installed, and defaultXLModelName that of the SDXL test
// model emitted beside it; the names say what they are. The SD 1.x one
// sorts first, so it stays the model loaded at start.
const (
	defaultModelName   = "sdapi-tiny-random-test-model"
	defaultXLModelName = "sdapi-tiny-random-test-model-sdxl"
)

// startRunner initialises ONNX Runtime and returns how to open models.
// Without the library the server still serves every other route, and
// generation answers that it cannot run.
func startRunner(log *slog.Logger, cfg config) (open func(ctx context.Context, dir, vaeDir string) (runner.Runner, error), err error) {
	if cfg.ortLib == "" {
		return nil, fmt.Errorf("no ONNX Runtime library: set --onnxruntime-lib or ONNXRUNTIME_SHARED_LIBRARY_PATH (make onnxruntime installs it)")
	}
	if err := ort.Init(cfg.ortLib); err != nil {
		return nil, fmt.Errorf("ONNX Runtime %s: %w", cfg.ortLib, err)
	}
	return func(ctx context.Context, dir, vaeDir string) (runner.Runner, error) {
		r, err := ort.Open(ctx, dir, ort.Config{Device: cfg.device, Threads: cfg.threads, NoCPUArena: cfg.noCPUArena, VAEDir: vaeDir, Logger: log, MemoryBudget: cfg.memoryBudget, WeightsReserve: weightsReserve})
		if err != nil {
			return nil, err
		}
		log.Info("model loaded", "model", filepath.Base(dir), "provider", r.Provider(), "vae", vaeDir)
		return r, nil
	}, nil
}

// ensureDefaultModel emits the random-weight test models (SD 1.x and
// SDXL) into the checkpoint directory when no model is installed, as A1111
// downloads SD 1.5 on first start; --no-download-sd-model turns it off.
func ensureDefaultModel(log *slog.Logger, cat *catalog.Catalog, ckptDir string) error {
	if len(cat.Checkpoints()) > 0 {
		return nil
	}
	for _, m := range []struct {
		name string
		cfg  onnxgen.Config
	}{
		{defaultModelName, onnxgen.Config{Size: onnxgen.Tiny}},
		{defaultXLModelName, onnxgen.Config{Size: onnxgen.Tiny, Family: onnxgen.FamilySDXL}},
	} {
		dir := filepath.Join(ckptDir, m.name)
		if err := onnxgen.Emit(dir, m.cfg); err != nil {
			return fmt.Errorf("emit default model %s: %w", m.name, err)
		}
		log.Warn("no model installed: serving an emitted test model (random weights, for tests only)", "dir", dir)
	}
	return cat.RefreshCheckpoints()
}
