package processing

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestLimitsCheck(t *testing.T) {
	lim := Limits{MaxPixels: 512 * 512 * 2, MaxPixelsFlag: "--max-pixels", MaxSteps: 150, MaxPromptChars: 10, MaxImages: 8}
	hires := func(p *Params) {
		p.EnableHR = true
		ds := 0.5
		p.DenoisingStrength = &ds
	}
	tests := []struct {
		name    string
		mode    Mode
		edit    func(p *Params)
		wantLoc []any // nil with wantErr: the request as a whole
		wantErr bool
		kind    LimitKind
	}{
		{name: "defaults pass", edit: func(p *Params) { p.Prompt = "a cat" }},
		{name: "at every limit", edit: func(p *Params) {
			p.Prompt, p.Steps, p.Width, p.Height, p.BatchSize = "0123456789", 150, 512, 512, 2
		}},
		{name: "multibyte prompt at the limit", edit: func(p *Params) { p.Prompt = strings.Repeat("é", 10) }},
		{name: "prompt", edit: func(p *Params) { p.Prompt = "0123456789a" }, wantErr: true, wantLoc: []any{"prompt"}, kind: LimitLength},
		{name: "negative prompt", edit: func(p *Params) { p.NegativePrompt = strings.Repeat("x", 11) }, wantErr: true, wantLoc: []any{"negative_prompt"}, kind: LimitLength},
		{name: "prompt list entry", edit: func(p *Params) { p.Prompts = []string{"ok", strings.Repeat("x", 11)} }, wantErr: true, wantLoc: []any{"prompt", 1}, kind: LimitLength},
		{name: "hr prompt", edit: func(p *Params) { p.HRPrompt = strings.Repeat("x", 11) }, wantErr: true, wantLoc: []any{"hr_prompt"}, kind: LimitLength},
		{name: "steps", edit: func(p *Params) { p.Steps = 151 }, wantErr: true, wantLoc: []any{"steps"}},
		{name: "hr steps unused without hires", edit: func(p *Params) { p.HRSecondPassSteps = 1000 }},
		{name: "hr steps", edit: func(p *Params) { hires(p); p.HRScale = 1; p.HRSecondPassSteps = 151 }, wantErr: true, wantLoc: []any{"hr_second_pass_steps"}},
		// Batches run in sub-batches that fit: batch_size does not count.
		{name: "batch_size does not count", edit: func(p *Params) { p.Width, p.Height, p.BatchSize = 512, 1024, 8 }},
		{name: "pixels per image", edit: func(p *Params) { p.Width, p.Height = 512, 1032 }, wantErr: true},
		{name: "one huge image", edit: func(p *Params) { p.Width, p.Height = 100000, 100000 }, wantErr: true},
		{name: "negative sizes count", edit: func(p *Params) { p.Width, p.Height = -1024, -1024 }, wantErr: true},
		{name: "firstphase", edit: func(p *Params) { p.FirstphaseWidth, p.FirstphaseHeight = 2048, 2048 }, wantErr: true},
		{name: "hires scale", edit: func(p *Params) { hires(p); p.HRScale = 2 }, wantErr: true, wantLoc: []any{"hr_scale"}},
		{name: "hires scale fits", edit: func(p *Params) { hires(p); p.HRScale = 1.4 }},
		{name: "hires resize x", edit: func(p *Params) { hires(p); p.HRResizeX = 4096 }, wantErr: true, wantLoc: []any{"hr_resize_x"}},
		{name: "hires resize y", edit: func(p *Params) { hires(p); p.HRResizeY = 4096 }, wantErr: true, wantLoc: []any{"hr_resize_y"}},
		{name: "hires huge scale", edit: func(p *Params) { hires(p); p.HRScale = 1e300 }, wantErr: true, wantLoc: []any{"hr_scale"}},
		{name: "images at the limit", edit: func(p *Params) { p.Width, p.Height, p.BatchSize, p.NIter = 64, 64, 2, 4 }},
		{name: "images per request", edit: func(p *Params) { p.Width, p.Height, p.BatchSize, p.NIter = 64, 64, 1, 9 }, wantErr: true},
		{name: "huge n_iter", edit: func(p *Params) { p.NIter = 1 << 40 }, wantErr: true},
		{name: "img2img size", mode: Img2Img, edit: func(p *Params) { p.Width, p.Height = 1024, 1024 }, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultTxt2Img()
			if tc.mode == Img2Img {
				p = DefaultImg2Img()
			}
			tc.edit(&p)
			err := lim.Check(p)
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var le *LimitError
			if !errors.As(err, &le) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Check: %v, want a *LimitError wrapping ErrInvalid", err)
			}
			if !reflect.DeepEqual(le.Loc, tc.wantLoc) || le.Kind != tc.kind || le.Limit <= 0 || le.Msg == "" {
				t.Errorf("got %+v, want loc %v kind %v", le, tc.wantLoc, tc.kind)
			}
			if le.Limit == lim.MaxPixels && !strings.HasSuffix(le.Msg, "; raise it with --max-pixels") {
				t.Errorf("pixel limit message %q does not say which flag raises it", le.Msg)
			}
		})
	}
	if err := (Limits{}).Check(Params{Steps: 1 << 30, Width: 1 << 20, Height: 1 << 20, BatchSize: 1 << 20}); err != nil {
		t.Errorf("zero Limits: %v, want no limit", err)
	}
}

// Scripts rewrite Params after the request was checked; the jobs they
// run are checked again, before the runner sees them.
func TestLimitsCheckedForScriptJobs(t *testing.T) {
	pr, spy := newProcessor(t)
	pr.Limits = Limits{MaxPixels: 64 * 64, MaxSteps: 10}
	pr.Scripts = NewScripts(recorder{title: "Grow", log: new([]string),
		run: func(ctx context.Context, env ScriptEnv, p Params, _ []any) (*Processed, error) {
			p.Width, p.Height = 4096, 4096
			return env.Process(ctx, p)
		}})
	p := smallTxt2Img()
	name := "grow"
	p.ScriptName = &name
	_, err := pr.Run(t.Context(), p)
	var le *LimitError
	if !errors.As(err, &le) {
		t.Fatalf("Run: %v, want a *LimitError", err)
	}
	if n := len(spy.Calls()); n != 0 {
		t.Errorf("runner called %d times", n)
	}

	p = smallTxt2Img()
	p.Steps = 11
	if _, err := pr.Run(t.Context(), p); !errors.As(err, &le) || !reflect.DeepEqual(le.Loc, []any{"steps"}) {
		t.Fatalf("Run: %v, want the steps limit", err)
	}
}

// The images-per-request limit counts every job a script runs: a script
// that runs one small job after another is stopped at the limit, before
// the runner sees the job that would pass it.
func TestLimitsCountScriptImages(t *testing.T) {
	pr, spy := newProcessor(t)
	pr.Limits = Limits{MaxImages: 5}
	pr.Scripts = NewScripts(recorder{title: "Many", log: new([]string),
		run: func(ctx context.Context, env ScriptEnv, p Params, _ []any) (*Processed, error) {
			p.BatchSize = 2
			var last *Processed
			for range 3 {
				res, err := env.Process(ctx, p)
				if err != nil {
					return nil, err
				}
				last = res
			}
			return last, nil
		}})
	p := smallTxt2Img()
	name := "many"
	p.ScriptName = &name
	_, err := pr.Run(t.Context(), p)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != 5 || !strings.Contains(le.Msg, "6 images") {
		t.Fatalf("Run: %v, want the images-per-request limit at 6 of 5", err)
	}
	if n := len(spy.Calls()); n != 2 {
		t.Errorf("runner called %d times, want 2 (the third job is refused)", n)
	}
}

// An exact-steps pass (hires fix, img2img_fix_steps) builds a schedule of
// steps/strength entries; a tiny strength is refused before the runner
// allocates it, naming the least strength that fits.
func TestLimitsExactStepsSchedule(t *testing.T) {
	tiny := 1e-10
	hires := smallTxt2Img()
	hires.EnableHR, hires.HRScale, hires.DenoisingStrength = true, 1, &tiny
	fix := smallImg2Img(gradient(64, 64))
	fix.DenoisingStrength = &tiny
	fix.OverrideSettings = map[string]any{"img2img_fix_steps": true}
	noFix := smallImg2Img(gradient(64, 64))
	noFix.DenoisingStrength = &tiny
	zero := 0.0
	hiresZero := hires
	hiresZero.DenoisingStrength = &zero
	tests := []struct {
		name    string
		p       Params
		refused bool
	}{
		{"hires pass", hires, true},
		{"img2img_fix_steps", fix, true},
		{"img2img without fixed steps", noFix, false},
		{"hires strength 0 runs no step", hiresZero, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr, spy := newProcessor(t)
			pr.Limits = Limits{MaxSteps: 10}
			_, err := pr.Run(t.Context(), tc.p)
			var le *LimitError
			if !tc.refused {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				return
			}
			if !errors.As(err, &le) || le.Kind != LimitMin || !reflect.DeepEqual(le.Loc, []any{"denoising_strength"}) {
				t.Fatalf("Run: %v, want a LimitMin on denoising_strength", err)
			}
			if want := float64(tc.p.Steps) / 1000; le.Min != want || le.Limit != 1000 {
				t.Errorf("min %g limit %d, want %g and 1000", le.Min, le.Limit, want)
			}
			if n := len(spy.Calls()); n != 0 {
				t.Errorf("runner called %d times", n)
			}
		})
	}
}

// The least strength a refusal names is accepted, whatever the steps: the
// schedule length is truncated as A1111 truncates it.
func TestLimitsExactStepsLeastStrengthPasses(t *testing.T) {
	lim := Limits{MaxSteps: 10}
	for steps := 1; steps <= 300; steps++ {
		err := lim.CheckExactSteps("denoising_strength", steps, 1e-9)
		var le *LimitError
		if !errors.As(err, &le) {
			t.Fatalf("steps %d: %v, want a LimitError", steps, err)
		}
		if err := lim.CheckExactSteps("denoising_strength", steps, le.Min); err != nil {
			t.Errorf("steps %d: the named least strength %g is refused: %v", steps, le.Min, err)
		}
	}
}
