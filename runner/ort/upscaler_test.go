package ort

import (
	"context"
	"errors"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sdapi/sdapi/internal/imgconv"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/onnxgen"
)

// emitUpscaler writes a test upscaler into a fresh directory.
func emitUpscaler(t *testing.T, cfg onnxgen.UpscalerConfig) string {
	t.Helper()
	requireORT(t)
	path := filepath.Join(t.TempDir(), "4x-Test.onnx")
	if err := onnxgen.EmitUpscaler(path, cfg); err != nil {
		t.Fatal(err)
	}
	return path
}

func openUpscaler(t *testing.T, path string, cfg UpscalerConfig) *Upscaler {
	t.Helper()
	cfg.Threads = 2
	u, err := OpenUpscaler(t.Context(), path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := u.Close(); err != nil {
			t.Error(err)
		}
	})
	return u
}

func upscale(t *testing.T, u *Upscaler, img image.Image) *image.NRGBA {
	t.Helper()
	out, err := u.Upscale(t.Context(), img)
	if err != nil {
		t.Fatal(err)
	}
	return imgconv.ToNRGBA(out)
}

// Ensure models of each shape load with the right scale and enlarge by it,
// tiled or not.
func TestUpscalerSizes(t *testing.T) {
	tests := []struct {
		name      string
		model     onnxgen.UpscalerConfig
		cfg       UpscalerConfig
		w, h      int
		wantScale int
	}{
		{"4x whole image", onnxgen.UpscalerConfig{Seed: 1}, UpscalerConfig{}, 16, 16, 4},
		{"2x", onnxgen.UpscalerConfig{Seed: 1, Scale: 2}, UpscalerConfig{}, 16, 16, 2},
		{"tiled", onnxgen.UpscalerConfig{Seed: 1}, UpscalerConfig{Tile: 8, Overlap: 2}, 21, 13, 4},
		{"fixed input size pads and crops", onnxgen.UpscalerConfig{Seed: 1, FixedSize: 8}, UpscalerConfig{}, 20, 5, 4},
		{"BGR", onnxgen.UpscalerConfig{Seed: 1}, UpscalerConfig{BGR: true}, 16, 16, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := openUpscaler(t, emitUpscaler(t, tc.model), tc.cfg)
			if u.Scale() != tc.wantScale {
				t.Fatalf("scale %d, want %d", u.Scale(), tc.wantScale)
			}
			out := upscale(t, u, testImage(tc.w, tc.h))
			if got, want := out.Bounds().Size(), image.Pt(tc.w*tc.wantScale, tc.h*tc.wantScale); got != want {
				t.Fatalf("size %v, want %v", got, want)
			}
		})
	}
}

// Ensure the output is a deterministic function of the model and image,
// across runs and sessions, and that tiling changes it only a little.
func TestUpscalerDeterministic(t *testing.T) {
	path := emitUpscaler(t, onnxgen.UpscalerConfig{Seed: 7})
	img := testImage(24, 20)
	a := upscale(t, openUpscaler(t, path, UpscalerConfig{}), img)
	u := openUpscaler(t, path, UpscalerConfig{})
	b, c := upscale(t, u, img), upscale(t, u, img)
	if d, _ := maxDiff(t, a, b); d != 0 {
		t.Errorf("two sessions differ by %d", d)
	}
	if d, _ := maxDiff(t, b, c); d != 0 {
		t.Errorf("two runs differ by %d", d)
	}
	tiled := upscale(t, openUpscaler(t, path, UpscalerConfig{Tile: 12, Overlap: 4}), img)
	if _, mean := maxDiff(t, a, tiled); mean > 2 {
		t.Errorf("tiled output differs from the whole-image run by %.2f on average", mean)
	}
	// The nearest-neighbour path of the test model dominates: the output
	// is an enlargement of the input.
	small := imgconv.ToNRGBA(img)
	if d := int(a.Pix[a.PixOffset(41, 37)]) - int(small.Pix[small.PixOffset(10, 9)]); d < -40 || d > 40 {
		t.Errorf("output pixel far from its source (%d)", d)
	}
}

// stopAfter is a context that cancels itself the n-th time Err is asked,
// so a test can end an upscale between tiles without timing.
type stopAfter struct {
	context.Context
	cancel context.CancelFunc
	n      atomic.Int32
}

func (c *stopAfter) Err() error {
	if c.n.Add(-1) == 0 {
		c.cancel()
	}
	return c.Context.Err()
}

// Ensure Upscale returns the context's error when it ends before or
// during the work, and the upscaler still works afterwards.
func TestUpscalerCancel(t *testing.T) {
	u := openUpscaler(t, emitUpscaler(t, onnxgen.UpscalerConfig{Seed: 1}), UpscalerConfig{Tile: 8, Overlap: 2})
	tests := []struct {
		name  string
		after int32 // Err calls before the context ends
	}{
		{"before", 1},
		{"between tiles", 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base, cancel := context.WithCancel(t.Context())
			defer cancel()
			ctx := &stopAfter{Context: base, cancel: cancel}
			ctx.n.Store(tc.after)
			_, err := u.Upscale(ctx, testImage(40, 40))
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
		})
	}
	if out := upscale(t, u, testImage(16, 16)); out.Bounds().Dx() != 64 {
		t.Fatalf("after cancel: %v", out.Bounds())
	}
}

// Ensure a bad model file fails to open with an error that names it.
func TestUpscalerBadFiles(t *testing.T) {
	requireORT(t)
	dir := t.TempDir()
	sd := emit(t, onnxgen.Config{}) // an SD VAE decoder: 4 latent channels, not an image
	tests := []struct {
		name    string
		path    string
		content string // written unless empty
	}{
		{"corrupt", filepath.Join(dir, "corrupt.onnx"), "this is not a protobuf \x00\xff\x13"},
		{"missing", filepath.Join(dir, "missing.onnx"), ""},
		{"not an upscaler", filepath.Join(sd, "vae_decoder", "model.onnx"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.content != "" {
				if err := os.WriteFile(tc.path, []byte(tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			u, err := OpenUpscaler(t.Context(), tc.path, UpscalerConfig{Threads: 1})
			if err == nil {
				u.Close()
				t.Fatal("no error")
			}
			if !errors.Is(err, runner.ErrModel) || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("err = %v, want ErrModel naming %s", err, tc.path)
			}
		})
	}
}

func TestUpscalerClosed(t *testing.T) {
	u := openUpscaler(t, emitUpscaler(t, onnxgen.UpscalerConfig{Seed: 1}), UpscalerConfig{})
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Upscale(t.Context(), testImage(8, 8)); err == nil {
		t.Fatal("upscale after Close succeeded")
	}
}

func TestTilePositions(t *testing.T) {
	tests := []struct {
		n, t, o int
		want    []int
	}{
		{16, 192, 8, []int{0}},
		{192, 192, 8, []int{0}},
		{200, 192, 8, []int{0, 8}},
		{500, 192, 8, []int{0, 154, 308}},
		{21, 8, 2, []int{0, 4, 8, 13}},
	}
	for _, tc := range tests {
		got := tilePositions(tc.n, tc.t, tc.o)
		if !slices.Equal(got, tc.want) {
			t.Errorf("tilePositions(%d, %d, %d) = %v, want %v", tc.n, tc.t, tc.o, got, tc.want)
		}
	}
}
