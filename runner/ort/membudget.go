package ort

import (
	"math"
	"os"
	"path/filepath"
)

// The memory model that sizes UNet calls. A UNet call's largest transient
// is its first-level self-attention: per sample, 8 heads (SD 1.x) × T²
// float32 scores with T = (width/8)·(height/8) latent positions, and ONNX
// Runtime keeps the scores and their softmax alive together. That is
// 8·4·2·T² = (width·height)²/64 bytes per sample: 1 GiB at 512², 5 GiB at
// 768², 16 GiB at 1024². It grows with the square of the image size and
// linearly with the samples of the call (2 per image with CFG), so a batch
// that does not fit runs in sub-batches, and the per-image pixel limit is
// what fits one sample.

//
// SDXL has no attention at its first level: its largest map is the second
// level's, 10 heads over T/4 positions, 10·4·2·(T/4)² = 5·T² bytes =
// 5·(width·height)²/4096 per sample, 5/64 of SD 1.x's at the same size
// (1.25 GiB at 1024²). Its weights are larger instead (about 14 GB fp32
// against SD 1.5's 4.2 GB): Config.WeightsReserve lets a runner take the
// difference out of its budget.

// UNetSampleBytes estimates the attention memory one SD 1.x/2.x UNet
// sample of width×height pixels needs; it is the most any family needs
// per pixel, so a pixel limit from it holds for every model.
func UNetSampleBytes(width, height int) int64 {
	return UNetSampleBytesFor("SD1", width, height)
}

// UNetSampleBytesFor is UNetSampleBytes for a model kind (Runner.Model's
// Kind: "SD1", "SD2" or "SDXL").
func UNetSampleBytesFor(kind string, width, height int) int64 {
	px := float64(width) * float64(height)
	if kind == "SDXL" {
		return int64(math.Min(5*px*px/4096, math.MaxInt64/2))
	}
	return int64(math.Min(px*px/64, math.MaxInt64/2))
}

// MaxPixelsFor is the largest width×height whose single UNet sample fits
// budget bytes, the inverse of UNetSampleBytes.
func MaxPixelsFor(budget int64) int64 {
	if budget <= 0 {
		return 0
	}
	return int64(math.Sqrt(float64(budget) * 64))
}

// samplesPerCall is how many UNet samples of the run's size one call may
// hold within the runner's budget: at least 1, and 0 (no bound) without a
// budget.
func (g *job) samplesPerCall() int {
	budget := g.r.budget
	if budget <= 0 {
		return 0
	}
	per := UNetSampleBytesFor(g.r.kind, 8*g.lw, 8*g.lh)
	return int(max(1, min(budget/max(per, 1), math.MaxInt32)))
}

// unetBudget is Config.MemoryBudget less the weights beyond
// Config.WeightsReserve (the model's files, all parts), at least 1 when a
// budget is set: an SDXL model's larger weights leave less room for its
// activations.
func unetBudget(cfg Config, weights int64) int64 {
	if cfg.MemoryBudget <= 0 {
		return 0
	}
	extra := max(0, weights-cfg.WeightsReserve)
	if cfg.WeightsReserve <= 0 {
		extra = 0
	}
	return max(1, cfg.MemoryBudget-extra)
}

// weightBytes is the size of the files of the runner's parts (each part's
// directory: model.onnx and its external data).
func (r *Runner) weightBytes() int64 {
	var n int64
	seen := map[string]bool{}
	for _, p := range r.parts() {
		if p == nil {
			continue
		}
		dir := filepath.Dir(p.path)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
				n += info.Size()
			}
		}
	}
	return n
}
