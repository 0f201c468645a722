package main

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/sdapi/sdapi/processing/upscale"
	"github.com/sdapi/sdapi/runner/ort"
)

var _ upscale.ModelUpscaler = (*ort.Upscaler)(nil)

// upscalerDir is a directory of upscaler models and the family name
// /sdapi/v1/upscalers reports for them (A1111's model_name).
type upscalerDir struct {
	path   string
	family string
}

// loadUpscalers opens every *.onnx file under dirs (recursively, as
// A1111's load_models walks its model directories) as an ESRGAN-style
// upscaler named after the file's base name without extension, as A1111
// names them. A file that does not load is logged with its path and
// skipped, so one bad download never keeps the server from starting. It
// returns the registry (the built-in upscalers when ortReady is false or
// nothing loads) and a function that closes the loaded models.
func loadUpscalers(ctx context.Context, log *slog.Logger, ortReady bool, dirs []upscalerDir, ucfg ort.UpscalerConfig) (*upscale.Registry, func()) {
	if !ortReady {
		return upscale.NewRegistry(), func() {}
	}
	var (
		models []upscale.Upscaler
		opened []*ort.Upscaler
	)
	for _, d := range dirs {
		err := filepath.WalkDir(d.path, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() || !strings.EqualFold(filepath.Ext(path), ".onnx") {
				return nil
			}
			u, err := ort.OpenUpscaler(ctx, path, ucfg)
			if err != nil {
				log.Error("skipping upscaler model", "path", path, "err", err)
				return nil
			}
			name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
			models = append(models, upscale.NewModelUpscaler(name, d.family, path, u))
			opened = append(opened, u)
			log.Info("upscaler loaded", "name", name, "scale", u.Scale(), "path", path)
			return nil
		})
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Warn("upscaler models", "dir", d.path, "err", err)
		}
	}
	return upscale.NewRegistry(models...), func() {
		for _, u := range opened {
			if err := u.Close(); err != nil {
				log.Warn("close upscaler", "path", u.Path(), "err", err)
			}
		}
	}
}
