package ort

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/onnxgen"
)

func TestOpenEveryExporterVariant(t *testing.T) {
	tests := []struct {
		name string
		cfg  onnxgen.Config
	}{
		{"default int64[B] timestep, int32 ids, latent_parameters", onnxgen.Config{}},
		{"float[B] timestep", onnxgen.Config{Timestep: onnxgen.FloatBatch}},
		{"float scalar timestep", onnxgen.Config{Timestep: onnxgen.FloatScalar}},
		{"int64 input_ids", onnxgen.Config{InputIDs: onnxgen.Int64}},
		{"external data", onnxgen.Config{ExternalData: true}},
		{"latent_sample encoder", onnxgen.Config{VAEEncoderOutput: onnxgen.LatentSample}},
		{"fp16", onnxgen.Config{FP16: true, Timestep: onnxgen.FloatBatch, ExternalData: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := openShared(t, tc.cfg)
			res, err := r.Generate(t.Context(), baseRequest("Euler a", 1, 2))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Images) != 2 {
				t.Fatalf("%d images", len(res.Images))
			}
			if _, mean := maxDiff(t, res.Images[0], res.Images[1]); mean < 0.5 {
				t.Errorf("seeds 1 and 2 give the same image")
			}
			req := img2imgRequest(t, "Euler", 1)
			if _, err := r.Generate(t.Context(), req); err != nil {
				t.Fatalf("img2img: %v", err)
			}
			info := r.Model()
			// The catalog, not the runner, hashes a model (processing fills it in).
			if info.Kind != "SD1" || info.Hash != "" || info.SHA256 != "" || info.Name == "" {
				t.Errorf("Model() = %+v", info)
			}
		})
	}
}

func TestOpenFP16ScalarTimestepIsRejected(t *testing.T) {
	dir := emit(t, onnxgen.Config{FP16: true, Timestep: onnxgen.FloatScalar})
	_, err := Open(t.Context(), dir, Config{Threads: 1})
	if !errors.Is(err, runner.ErrModel) || !strings.Contains(err.Error(), "unet/model.onnx") {
		t.Fatalf("err = %v, want ErrModel naming unet/model.onnx", err)
	}
}

// copyDir copies a pipeline directory so a test can break it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestOpenBrokenModelDirs(t *testing.T) {
	src := emit(t, onnxgen.Config{})
	tests := []struct {
		name   string
		damage func(dir string) error
		want   string
	}{
		{"missing unet", func(d string) error { return os.RemoveAll(filepath.Join(d, "unet")) }, "unet/model.onnx"},
		{"missing text encoder", func(d string) error { return os.RemoveAll(filepath.Join(d, "text_encoder")) }, "text_encoder/model.onnx"},
		{"missing vae decoder", func(d string) error { return os.RemoveAll(filepath.Join(d, "vae_decoder")) }, "vae_decoder/model.onnx"},
		{"missing vocab", func(d string) error { return os.Remove(filepath.Join(d, "tokenizer", "vocab.json")) }, "vocab.json"},
		{"missing model_index", func(d string) error { return os.Remove(filepath.Join(d, "model_index.json")) }, "model_index.json"},
		{"missing scheduler", func(d string) error { return os.RemoveAll(filepath.Join(d, "scheduler")) }, "scheduler/scheduler_config.json"},
		{"corrupt unet", func(d string) error {
			return os.WriteFile(filepath.Join(d, "unet", "model.onnx"), []byte("\xff\xff\xff not a model"), 0o644)
		}, "unet/model.onnx"},
		{"truncated vae decoder", func(d string) error {
			p := filepath.Join(d, "vae_decoder", "model.onnx")
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(p, b[:len(b)/2], 0o644)
		}, "vae_decoder/model.onnx"},
		{"bad prediction type", func(d string) error {
			return os.WriteFile(filepath.Join(d, "scheduler", "scheduler_config.json"), []byte(`{"prediction_type":"sample"}`), 0o644)
		}, "prediction_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, src)
			if err := tc.damage(dir); err != nil {
				t.Fatal(err)
			}
			r, err := Open(t.Context(), dir, Config{Threads: 1})
			if err == nil {
				r.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, runner.ErrModel) {
				t.Errorf("err = %v, want ErrModel", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to name %s", err, tc.want)
			}
		})
	}
}

func TestImg2ImgWithoutEncoder(t *testing.T) {
	dir := copyDir(t, emit(t, onnxgen.Config{}))
	if err := os.RemoveAll(filepath.Join(dir, "vae_encoder")); err != nil {
		t.Fatal(err)
	}
	r, err := Open(t.Context(), dir, Config{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Generate(t.Context(), baseRequest("Euler", 1)); err != nil {
		t.Fatalf("txt2img without vae_encoder: %v", err)
	}
	_, err = r.Generate(t.Context(), img2imgRequest(t, "Euler", 1))
	if !errors.Is(err, runner.ErrModel) || !strings.Contains(err.Error(), "vae_encoder") {
		t.Fatalf("err = %v, want ErrModel naming vae_encoder", err)
	}
}

func TestOpenDevices(t *testing.T) {
	dir := emit(t, onnxgen.Config{})
	if _, err := Open(t.Context(), dir, Config{Device: "tpu"}); !errors.Is(err, ErrProvider) {
		t.Errorf("device tpu: err = %v, want ErrProvider", err)
	}
	r, err := Open(t.Context(), dir, Config{Device: "auto", Threads: 1})
	if err != nil {
		t.Fatalf("device auto: %v", err)
	}
	defer r.Close()
	t.Logf("auto picked %s", r.Provider())
	if r.Provider() == DeviceCPU {
		if _, err := Open(t.Context(), dir, Config{Device: "cuda"}); !errors.Is(err, ErrProvider) {
			t.Errorf("device cuda without CUDA: err = %v, want ErrProvider", err)
		}
	}
	if _, err := r.Generate(context.Background(), baseRequest("Euler", 1)); err != nil {
		t.Fatal(err)
	}
}

func TestGenerateInvalidRequests(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	tests := []struct {
		name string
		mod  func(*runner.Request)
	}{
		{"no prompts", func(q *runner.Request) { q.Prompts, q.NegativePrompts, q.Seeds = nil, nil, nil }},
		// Other sizes run as A1111 runs them (TestGenerateAnySize); under 8
		// the latent is empty.
		{"empty latent", func(q *runner.Request) { q.Height = 7 }},
		{"zero steps", func(q *runner.Request) { q.Steps = 0 }},
		{"seed count", func(q *runner.Request) { q.Seeds = []int64{1, 2} }},
		{"negative prompt count", func(q *runner.Request) { q.NegativePrompts = []string{"a", "b"} }},
		{"noise source", func(q *runner.Request) { q.NoiseSource = "TPU" }},
		{"bad prompt", func(q *runner.Request) { q.Prompts = []string{"(a:1.2.3)"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := baseRequest("Euler", 1)
			tc.mod(&req)
			if _, err := r.Generate(t.Context(), req); !errors.Is(err, runner.ErrInvalidRequest) {
				t.Fatalf("err = %v, want ErrInvalidRequest", err)
			}
		})
	}
}

// The CPU arena only decides when memory goes back; with it off a run gives
// the same pixels, batch and second run included.
func TestNoCPUArenaSamePixels(t *testing.T) {
	dir := emit(t, onnxgen.Config{})
	req := baseRequest("Euler a", 3, 4)
	want, err := openShared(t, onnxgen.Config{}).Generate(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(t.Context(), dir, Config{Threads: 2, NoCPUArena: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for run := range 2 {
		got, err := r.Generate(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want.Images {
			if d, _ := maxDiff(t, want.Images[i], got.Images[i]); d != 0 {
				t.Errorf("run %d, image %d: differs by up to %d with the arena off", run+1, i, d)
			}
		}
	}
}
