package ort

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/options"
	pupscale "github.com/sdapi/sdapi/processing/upscale"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/onnxgen"
)

// oneModel serves one runner for every checkpoint.
type oneModel struct{ r runner.Runner }

func (m oneModel) Runner(context.Context, string, string) (runner.Runner, error) { return m.r, nil }
func (m oneModel) HasCheckpoint(string) bool                                     { return false }
func (m oneModel) VAEHash(string) string                                         { return "" }

// spyOn records the requests a runner gets and the latents it returns.
type spyOn struct {
	runner.Runner
	reqs    []runner.Request
	latents [][][]float32
	encode  []int64 // Timing.VAEEncode per call
}

func (s *spyOn) Generate(ctx context.Context, req runner.Request) (runner.Result, error) {
	s.reqs = append(s.reqs, req)
	res, err := s.Runner.Generate(ctx, req)
	s.latents = append(s.latents, res.Latents)
	s.encode = append(s.encode, res.Timing.VAEEncode)
	return res, err
}

// Ensure txt2img with hires fix and a latent upscaler runs end to end on
// the tiny pipeline: the first pass's latents go to the second pass without
// the VAE encoder, the image has the hires size, and two runs agree.
func TestHiresLatentUpscalerEndToEnd(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	store, err := options.New([]options.Def{
		{Key: "sd_model_checkpoint", Type: options.KindString, Nullable: true},
		{Key: "sd_vae", Default: "Automatic", Type: options.KindString},
		{Key: "samples_format", Default: "png", Type: options.KindString},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	run := func() (*processing.Processed, *spyOn) {
		spy := &spyOn{Runner: r}
		now := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
		pr := &processing.Processor{
			Options: store, State: processing.NewState(now), Models: oneModel{spy},
			OutputDir: t.TempDir(), Rand: func() uint32 { return 1 }, Now: now,
		}
		p := processing.DefaultTxt2Img()
		p.Prompt, p.Steps, p.Width, p.Height, p.Seed = "a cat", 3, 64, 64, 42
		p.EnableHR, p.HRScale, p.HRSecondPassSteps = true, 1.5, 2
		ds, up := 0.5, "Latent"
		p.DenoisingStrength, p.HRUpscaler = &ds, &up
		out, err := pr.Process(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		return out, spy
	}
	a, spy := run()
	if len(a.Raw) != 1 {
		t.Fatalf("%d images", len(a.Raw))
	}
	if b := a.Raw[0].Bounds(); b.Dx() != 96 || b.Dy() != 96 {
		t.Fatalf("image %v, want 96x96", b)
	}
	if len(spy.reqs) != 2 || len(spy.latents[0]) != 1 {
		t.Fatalf("%d runner calls, first returned %d latents", len(spy.reqs), len(spy.latents[0]))
	}
	in := spy.reqs[1].Init
	if in == nil || len(in.Latents) != 1 || in.Images != nil || spy.encode[1] != 0 {
		t.Fatalf("second pass init %+v, encoder time %d", in, spy.encode[1])
	}
	m, _ := pupscale.LookupLatentMode("Latent")
	want, err := pupscale.Interpolate(spy.latents[0][0], 4, 8, 8, 12, 12, m)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(in.Latents[0], want) {
		t.Errorf("second pass latent is not the interpolated first-pass latent")
	}
	b, _ := run()
	if d, _ := maxDiff(t, a.Raw[0], b.Raw[0]); d != 0 {
		t.Errorf("two runs differ by %d", d)
	}
}
