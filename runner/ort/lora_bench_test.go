package ort

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/onnxgen"
)

// BenchmarkLoRA compares a request whose LoRA set is cached (the second
// and later requests with the same set) with one that patches and builds
// its sessions (a cold cache), and with no LoRA at all. builds/op is 0
// for the cached case: a repeated prompt pays no patching. On SDXL a
// set patches both text encoders and the UNet.
func BenchmarkLoRA(b *testing.B) {
	b.Run("sd1", func(b *testing.B) { benchLoRA(b, onnxgen.Config{}) })
	b.Run("sdxl", func(b *testing.B) { benchLoRA(b, xlConfig) })
}

func benchLoRA(b *testing.B, cfg onnxgen.Config) {
	dir := emit(b, cfg)
	path := filepath.Join(b.TempDir(), "test.safetensors")
	if err := onnxgen.EmitLoRA(path, cfg, onnxgen.LoRAOptions{Seed: 1}); err != nil {
		b.Fatal(err)
	}
	r, err := Open(context.Background(), dir, Config{Threads: 2})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	withLoRA := baseRequest("Euler", 1)
	withLoRA.LoRAs = []runner.LoRA{{Name: "test", Path: path, TE: 1, UNet: 1}}
	run := func(b *testing.B, req runner.Request, cold bool) {
		if _, err := r.Generate(b.Context(), req); err != nil { // warm up
			b.Fatal(err)
		}
		before := r.PatchCache().Builds
		b.ResetTimer()
		for range b.N {
			if cold {
				r.mu.Lock()
				r.patches.clear()
				r.mu.Unlock()
			}
			if _, err := r.Generate(b.Context(), req); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(r.PatchCache().Builds-before)/float64(b.N), "builds/op")
	}
	b.Run("none", func(b *testing.B) { run(b, baseRequest("Euler", 1), false) })
	b.Run("cached", func(b *testing.B) { run(b, withLoRA, false) })
	b.Run("build", func(b *testing.B) { run(b, withLoRA, true) })
}
