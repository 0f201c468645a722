package ort

import (
	"errors"
	"image"
	"math"
	"slices"
	"testing"

	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/onnxgen"
)

// Ensure ReturnLatents hands back the sampled latents, that feeding them
// back as Init.Latents skips the encoder, that strength 0 with exact steps
// returns them unchanged (so they decode to the same image), and that a
// latent img2img run is deterministic.
func TestInitLatentsRoundTrip(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	req := baseRequest("Euler a", 3, 4)
	req.ReturnLatents = true
	first, err := r.Generate(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Latents) != 2 || len(first.Latents[0]) != 4*8*8 {
		t.Fatalf("%d latents of %d values", len(first.Latents), len(first.Latents[0]))
	}
	if plain, err := r.Generate(t.Context(), baseRequest("Euler a", 3, 4)); err != nil || plain.Latents != nil {
		t.Fatalf("latents without asking: %v, err %v", plain.Latents != nil, err)
	}

	back := baseRequest("Euler a", 3, 4)
	back.ReturnLatents = true
	back.Init = &runner.Init{Latents: first.Latents, ExactSteps: true, InitialNoiseMultiplier: 1}
	same, err := r.Generate(t.Context(), back)
	if err != nil {
		t.Fatal(err)
	}
	if same.Timing.VAEEncode != 0 {
		t.Errorf("VAE encoder ran for init latents")
	}
	for i := range 2 {
		if !slices.Equal(same.Latents[i], first.Latents[i]) {
			t.Errorf("image %d: strength 0 changed the latent", i)
		}
		if d, _ := maxDiff(t, same.Images[i], first.Images[i]); d != 0 {
			t.Errorf("image %d: strength 0 decodes %d away from the first pass", i, d)
		}
	}

	var steps int
	back.Init.DenoisingStrength = 0.5
	back.OnStep = func(runner.Progress) { steps++ }
	a, err := r.Generate(t.Context(), back)
	if err != nil {
		t.Fatal(err)
	}
	if steps != back.Steps {
		t.Errorf("%d steps with exact steps, want %d", steps, back.Steps)
	}
	b, err := r.Generate(t.Context(), back)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if !slices.Equal(a.Latents[i], b.Latents[i]) {
			t.Errorf("image %d: latent img2img is not deterministic", i)
		}
		if slices.Equal(a.Latents[i], first.Latents[i]) {
			t.Errorf("image %d: strength 0.5 left the latent unchanged", i)
		}
	}
}

// Ensure malformed init latents are refused before any model runs.
func TestInitLatentsInvalid(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	ok := make([]float32, 4*8*8)
	tests := []struct {
		name string
		edit func(*runner.Init)
	}{
		{"wrong size", func(in *runner.Init) { in.Latents = [][]float32{ok[:4*8*7]} }},
		{"with images", func(in *runner.Init) { in.Images = []image.Image{testImage(64, 64)} }},
		{"with a mask", func(in *runner.Init) { in.Mask = &runner.Mask{Image: halfMask(64, 64)} }},
		{"two for three prompts", func(in *runner.Init) { in.Latents = [][]float32{ok, ok} }},
		{"strength", func(in *runner.Init) { in.DenoisingStrength = 2 }},
		{"NaN strength", func(in *runner.Init) { in.DenoisingStrength = math.NaN() }},
		// steps/strength schedule entries: refused, not allocated.
		{"tiny strength, exact steps", func(in *runner.Init) { in.DenoisingStrength, in.ExactSteps = 1e-10, true }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := baseRequest("Euler", 1, 2, 3)
			req.Init = &runner.Init{Latents: [][]float32{ok}, DenoisingStrength: 0.5}
			tc.edit(req.Init)
			if _, err := r.Generate(t.Context(), req); !errors.Is(err, runner.ErrInvalidRequest) {
				t.Fatalf("err = %v, want ErrInvalidRequest", err)
			}
		})
	}
}
