package onnxgen

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// Ensure the upscaler declares ESRGAN's interface and is a deterministic
// function of its config.
func TestEmitUpscalerDeterministic(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, cfg UpscalerConfig) []byte {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := EmitUpscaler(path, cfg); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, again, other := write("a.onnx", UpscalerConfig{Seed: 1}), write("b.onnx", UpscalerConfig{Seed: 1}), write("c.onnx", UpscalerConfig{Seed: 2})
	if !bytes.Equal(a, again) {
		t.Error("same seed, different files")
	}
	if bytes.Equal(a, other) {
		t.Error("different seeds, same file")
	}
	ins, outs, err := onnxpb.ReadIO(filepath.Join(dir, "a.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || ins[0].Name != "input" || ins[0].Rank() != 4 || len(outs) != 1 || outs[0].Name != "output" {
		t.Fatalf("inputs %v outputs %v", ins, outs)
	}
}

func TestEmitUpscalerRuns(t *testing.T) {
	requireORT(t)
	tests := []struct {
		name string
		cfg  UpscalerConfig
		in   int
	}{
		{"4x symbolic", UpscalerConfig{Seed: 3}, 16},
		{"2x", UpscalerConfig{Seed: 3, Scale: 2}, 12},
		{"fixed size", UpscalerConfig{Seed: 3, FixedSize: 8}, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := EmitUpscaler(filepath.Join(dir, "esrgan", "model.onnx"), tc.cfg); err != nil {
				t.Fatal(err)
			}
			s := tc.cfg.Scale
			if s == 0 {
				s = 4
			}
			n := int64(tc.in)
			px := make([]float32, 3*n*n)
			for i := range px {
				px[i] = float32(i%7) / 7
			}
			out := runPart(t, dir, "esrgan",
				[]feed{{name: "input", shape: ort.NewShape(1, 3, n, n), f32: px, elem: onnxpb.Float}},
				[]fetch{{name: "output", shape: ort.NewShape(1, 3, n*int64(s), n*int64(s))}})
			if len(out[0]) != int(3*n*n)*s*s {
				t.Fatalf("%d output values", len(out[0]))
			}
		})
	}
}
