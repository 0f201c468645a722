package runnertest

import (
	"context"
	"errors"
	"image"
	"image/color"
	"slices"
	"testing"

	"github.com/sdapi/sdapi/runner"
)

func TestPainters(t *testing.T) {
	req := runner.Request{Prompts: []string{"a", "b"}, Seeds: []int64{7, 300}, Steps: 5, Width: 16, Height: 8, ReturnLatents: true}
	rgba := func(img image.Image, x, y int) color.RGBA {
		return color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
	}
	tests := []struct {
		name    string
		paint   Painter
		latents bool
		// want is image i's colour at (x, y).
		want func(i, x, y int) color.RGBA
	}{
		{"SeedPattern", SeedPattern, false, func(i, x, y int) color.RGBA {
			s := uint32(req.Seeds[i])
			return color.RGBA{uint8(s) + uint8(x), uint8(s>>8) + uint8(y), uint8(s>>16) ^ uint8(x+y), 255}
		}},
		{"SolidByIndex", SolidByIndex, true, func(i, _, _ int) color.RGBA { return color.RGBA{uint8(req.Seeds[i]), uint8(40 * i), 99, 255} }},
		{"SolidBySteps", SolidBySteps, false, func(i, _, _ int) color.RGBA { return color.RGBA{uint8(req.Seeds[i]), 5, 99, 255} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.paint(req)
			if len(res.Images) != 2 {
				t.Fatalf("%d images, want 2", len(res.Images))
			}
			for i, img := range res.Images {
				if b := img.Bounds(); b != image.Rect(0, 0, 16, 8) {
					t.Errorf("image %d bounds %v, want 16×8", i, b)
				}
				for _, p := range []image.Point{{0, 0}, {15, 7}, {3, 5}} {
					if got, want := rgba(img, p.X, p.Y), tc.want(i, p.X, p.Y); got != want {
						t.Errorf("image %d at %v = %v, want %v", i, p, got, want)
					}
				}
			}
			if got := len(res.Latents); (got == 2) != tc.latents || (got != 0 && got != 2) {
				t.Errorf("%d latents, want them: %v", got, tc.latents)
			}
			for i, lat := range res.Latents {
				if !slices.Equal(lat, Latent(req.Seeds[i], 2, 1)) {
					t.Errorf("latent %d = %v, want Latent of its seed", i, lat)
				}
			}
		})
	}
}

func TestLatentVaries(t *testing.T) {
	a, b := Latent(1, 4, 3), Latent(2, 4, 3)
	if len(a) != 4*3*4 {
		t.Fatalf("len %d, want 48", len(a))
	}
	if slices.Equal(a, b) || a[0] == a[1] || a[0] == a[4] || a[0] == a[12] {
		t.Errorf("latent does not vary with seed, x, y and channel: %v", a)
	}
}

func TestRunnerRecordsAndReplaces(t *testing.T) {
	ctx := context.Background()
	r := &Runner{ReportSteps: true, Info: runner.ModelInfo{Name: "m"}}
	var steps []int
	req := runner.Request{Prompts: []string{"a"}, Seeds: []int64{1}, Steps: 3, Width: 8, Height: 8,
		OnStep: func(p runner.Progress) { steps = append(steps, p.Step) }}
	res, err := r.Generate(ctx, req)
	if err != nil || len(res.Images) != 1 {
		t.Fatalf("Generate = %d images, %v", len(res.Images), err)
	}
	if !slices.Equal(steps, []int{1, 2, 3}) {
		t.Errorf("steps reported %v, want 1..3", steps)
	}
	boom := errors.New("boom")
	var calls []int
	r.GenerateFn = func(_ context.Context, call int, _ runner.Request) (runner.Result, error) {
		calls = append(calls, call)
		return runner.Result{}, boom
	}
	if _, err := r.Generate(ctx, req); !errors.Is(err, boom) {
		t.Errorf("Generate with GenerateFn = %v, want boom", err)
	}
	if !slices.Equal(calls, []int{1}) || len(r.Calls()) != 2 || r.Model().Name != "m" {
		t.Errorf("calls %v, recorded %d, model %q; want [1], 2, m", calls, len(r.Calls()), r.Model().Name)
	}
}

func TestOpenAndModels(t *testing.T) {
	ctx := context.Background()
	r := &Runner{}
	boom := errors.New("broken")
	r.FailOpen("bad", boom)
	if got, err := r.Open(ctx, "good", "vae"); got != r || err != nil {
		t.Errorf("Open(good) = %v, %v; want the runner", got, err)
	}
	if _, err := r.Open(ctx, "bad", ""); !errors.Is(err, boom) {
		t.Errorf("Open(bad) = %v, want broken", err)
	}
	if got := r.Opened(); !slices.Equal(got, [][2]string{{"good", "vae"}, {"bad", ""}}) {
		t.Errorf("Opened = %v", got)
	}
	m := &Models{R: r, Known: map[string]bool{"other": true}}
	if got, _ := m.Runner(ctx, "other", "Automatic"); got != r {
		t.Errorf("Models.Runner = %v, want R", got)
	}
	if !m.HasCheckpoint("other") || m.HasCheckpoint("nope") {
		t.Error("HasCheckpoint does not follow Known")
	}
	if got := m.Loaded(); !slices.Equal(got, []string{"other|Automatic"}) {
		t.Errorf("Loaded = %v", got)
	}
}
