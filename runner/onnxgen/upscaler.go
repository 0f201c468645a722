package onnxgen

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// UpscalerConfig describes a tiny random-weight ESRGAN-style upscaler.
// The zero value is a 4× model with symbolic height and width.
type UpscalerConfig struct {
	// Seed makes the weights; the same Seed gives the same file.
	Seed uint64
	// Scale is the pixel-shuffle factor; 0 means 4.
	Scale int
	// Channels is the width of the hidden layer; 0 means 8.
	Channels int
	// FixedSize, when positive, declares the input as
	// [1, 3, FixedSize, FixedSize] (and the output to match) instead of
	// symbolic height and width, as some exporters do.
	FixedSize int
}

const streamUpscaler uint64 = 100

// EmitUpscaler writes an ESRGAN-style upscaler to path (its directory is
// created if needed): input "input" float32 [1, 3, H, W] in 0..1, output
// "output" [1, 3, sH, sW], where
//
//	output = Resize(input, nearest, ×s) + 0.1·DepthToSpace(Conv(LeakyReLU(Conv(input))), s)
//
// The nearest-neighbour path keeps the output a recognisable enlargement
// of the input; the convolution branch is the ESRGAN-like part (Conv →
// pixel shuffle) whose random weights make the model's output its own.
// The file is a deterministic function of cfg.
func EmitUpscaler(path string, cfg UpscalerConfig) error {
	s := cfg.Scale
	if s == 0 {
		s = 4
	}
	c := cfg.Channels
	if c == 0 {
		c = 8
	}
	if s < 1 || c < 1 || cfg.FixedSize < 0 {
		return fmt.Errorf("onnxgen: upscaler scale %d, channels %d, fixed size %d", s, c, cfg.FixedSize)
	}
	b := newBuilder("esrgan", Config{Seed: cfg.Seed}, streamUpscaler)
	b.g.Doc = "sdapi onnxgen: a random-weight ESRGAN-style test upscaler; its output is a noisy enlargement, not a restoration."
	inH, inW := onnxpb.Sym("height"), onnxpb.Sym("width")
	outH, outW := onnxpb.Sym("out_height"), onnxpb.Sym("out_width")
	if n := int64(cfg.FixedSize); n > 0 {
		inH, inW = onnxpb.D(n), onnxpb.D(n)
		outH, outW = onnxpb.D(n*int64(s)), onnxpb.D(n*int64(s))
	}
	b.g.AddInput("input", onnxpb.Float, onnxpb.D(1), onnxpb.D(3), inH, inW)

	h := b.conv("input", "conv_first", 3, c, 3, 1)
	h = b.op("LeakyRelu", []string{h}, onnxpb.AttrFloat("alpha", 0.2))
	h = b.conv(h, "conv_up", c, 3*s*s, 3, 1)
	h = b.op("DepthToSpace", []string{h}, onnxpb.AttrInt("blocksize", int64(s)), onnxpb.AttrString("mode", "CRD"))
	h = b.mul(h, b.scalar(0.1))
	scales := b.g.AddFloat32("resize_scales", []int64{4}, []float32{1, 1, float32(s), float32(s)})
	near := b.op("Resize", []string{"input", "", scales},
		onnxpb.AttrString("mode", "nearest"),
		onnxpb.AttrString("coordinate_transformation_mode", "asymmetric"),
		onnxpb.AttrString("nearest_mode", "floor"))
	b.g.AddNode("Add", []string{near, h}, []string{"output"})
	b.g.AddOutput("output", onnxpb.Float, onnxpb.D(1), onnxpb.D(3), outH, outW)

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("onnxgen: upscaler: %w", err)
	}
	if err := b.g.WriteFile(path, onnxpb.WriteOptions{Producer: "sdapi-onnxgen"}); err != nil {
		return fmt.Errorf("onnxgen: write upscaler %s: %w", path, err)
	}
	return nil
}
