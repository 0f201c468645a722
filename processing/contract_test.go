package processing

import (
	"context"
	"errors"
	"image"
	"slices"
	"testing"

	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/runnertest"
)

// The contract of the seed milestone: txt2img and img2img reach the runner
// only through Process, once per batch, with batch_size seeds each; and
// override settings are restored when the runner fails or panics.

func TestContractOneRunnerCallPerBatch(t *testing.T) {
	init := image.NewRGBA(image.Rect(0, 0, 64, 64))
	tests := []struct {
		name   string
		params func() Params
	}{
		{"txt2img", smallTxt2Img},
		{"img2img", func() Params {
			p := DefaultImg2Img()
			p.Prompt, p.Steps, p.Width, p.Height, p.Seed = "a cat", 4, 64, 64, 1000
			p.InitImages = []image.Image{init}
			return p
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr, spy := newProcessor(t)
			p := tc.params()
			p.NIter, p.BatchSize = 3, 2
			out, err := pr.Process(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			calls := spy.Calls()
			if len(calls) != 3 {
				t.Fatalf("runner calls = %d, want 3 (one per batch)", len(calls))
			}
			for n, c := range calls {
				want := []int64{1000 + int64(2*n), 1000 + int64(2*n+1)}
				if !slices.Equal(c.Seeds, want) {
					t.Errorf("batch %d seeds = %v, want %v", n, c.Seeds, want)
				}
				if (c.Init != nil) != (p.Mode == Img2Img) {
					t.Errorf("batch %d Init = %v for %v", n, c.Init, p.Mode)
				}
			}
			if len(out.Raw) != 6 || len(out.Infotexts) != 6 {
				t.Fatalf("images %d, infotexts %d, want 6 and 6", len(out.Raw), len(out.Infotexts))
			}
		})
	}
}

func TestContractOverridesRestored(t *testing.T) {
	tests := []struct {
		name     string
		generate func(ctx context.Context, call int, req runner.Request) (runner.Result, error)
		panics   bool
	}{
		{"runner fails mid-job", func(_ context.Context, call int, req runner.Request) (runner.Result, error) {
			if call == 1 {
				return runner.Result{}, errBoom
			}
			return runnertest.SolidByIndex(req), nil
		}, false},
		{"runner panics", func(context.Context, int, runner.Request) (runner.Result, error) {
			panic("runner exploded")
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr, spy := newProcessor(t)
			spy.GenerateFn = tc.generate
			var seen float64
			inner := spy.GenerateFn
			spy.GenerateFn = func(ctx context.Context, call int, req runner.Request) (runner.Result, error) {
				seen = pr.Options.Float("CLIP_stop_at_last_layers")
				if req.ClipSkip != 2 {
					t.Errorf("request ClipSkip = %d, want 2", req.ClipSkip)
				}
				return inner(ctx, call, req)
			}
			p := smallTxt2Img()
			p.NIter = 3
			p.OverrideSettings = map[string]any{"CLIP_stop_at_last_layers": 2.0}
			func() {
				defer func() {
					if r := recover(); (r != nil) != tc.panics {
						t.Errorf("recover() = %v, panics %v", r, tc.panics)
					}
				}()
				_, err := pr.Process(t.Context(), p)
				if !tc.panics && !errors.Is(err, errBoom) {
					t.Errorf("err = %v, want errBoom", err)
				}
			}()
			if seen != 2 {
				t.Errorf("option during job = %v, want 2", seen)
			}
			if got := pr.Options.Float("CLIP_stop_at_last_layers"); got != 1 {
				t.Errorf("option after job = %v, want 1 (restored)", got)
			}
		})
	}
}

func TestOverrideKeptWhenRestoreAfterwardsFalse(t *testing.T) {
	pr, _ := newProcessor(t)
	p := smallTxt2Img()
	p.OverrideSettings = map[string]any{"randn_source": "CPU"}
	p.OverrideSettingsRestoreAfterwards = false
	if _, err := pr.Process(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if got := pr.Options.String("randn_source"); got != "CPU" {
		t.Fatalf("randn_source = %q, want CPU kept", got)
	}
}

func TestOverrideCheckpoint(t *testing.T) {
	pr, spy := newProcessor(t)
	models := pr.Models.(*runnertest.Models)
	p := smallTxt2Img()
	p.OverrideSettings = map[string]any{"sd_model_checkpoint": "unknown-model", "randn_source": "CPU"}
	if _, err := pr.Process(t.Context(), p); err != nil {
		t.Fatalf("unknown checkpoint must be dropped silently: %v", err)
	}
	if got := spy.Calls()[0].NoiseSource; got != "CPU" {
		t.Errorf("NoiseSource = %q, want CPU", got)
	}
	p.OverrideSettings = map[string]any{"sd_model_checkpoint": "other"}
	if _, err := pr.Process(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	want := []string{"|Automatic", "other|Automatic"}
	if !slices.Equal(models.Loaded(), want) {
		t.Errorf("loaded = %v, want %v", models.Loaded(), want)
	}
	if v, _ := pr.Options.Get("sd_model_checkpoint"); v != nil {
		t.Errorf("sd_model_checkpoint after job = %v, want restored nil", v)
	}
}
