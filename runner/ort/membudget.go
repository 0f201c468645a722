package ort

import "math"

// The memory model that sizes UNet calls. A UNet call's largest transient
// is its first-level self-attention: per sample, 8 heads (SD 1.x) × T²
// float32 scores with T = (width/8)·(height/8) latent positions, and ONNX
// Runtime keeps the scores and their softmax alive together. That is
// 8·4·2·T² = (width·height)²/64 bytes per sample: 1 GiB at 512², 5 GiB at
// 768², 16 GiB at 1024². It grows with the square of the image size and
// linearly with the samples of the call (2 per image with CFG), so a batch
// that does not fit runs in sub-batches, and the per-image pixel limit is
// what fits one sample.

// UNetSampleBytes estimates the attention memory one UNet sample of
// width×height pixels needs.
func UNetSampleBytes(width, height int) int64 {
	px := float64(width) * float64(height)
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
// hold within Config.MemoryBudget: at least 1, and 0 (no bound) without a
// budget.
func (g *job) samplesPerCall() int {
	budget := g.r.cfg.MemoryBudget
	if budget <= 0 {
		return 0
	}
	per := UNetSampleBytes(8*g.lw, 8*g.lh)
	return int(max(1, min(budget/max(per, 1), math.MaxInt32)))
}
