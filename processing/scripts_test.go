package processing

import (
	"context"
	"errors"
	"fmt"
	"image"
	"slices"
	"testing"
)

// recorder is a script that records its calls; selectable when run is
// set, always-on otherwise.
type recorder struct {
	title  string
	always bool
	img2   bool
	log    *[]string
	run    func(ctx context.Context, env ScriptEnv, p Params, args []any) (*Processed, error)
}

func (r recorder) Title() string    { return r.title }
func (r recorder) Show(m Mode) bool { return !r.img2 || m == Img2Img }
func (r recorder) AlwaysOn() bool   { return r.always }
func (r recorder) Args(Mode) []ArgInfo {
	return []ArgInfo{{Label: "a", Value: "default"}, {Label: "b", Value: 1.0}}
}
func (r recorder) Run(ctx context.Context, env ScriptEnv, p Params, args []any) (*Processed, error) {
	*r.log = append(*r.log, fmt.Sprintf("run %v", args))
	return r.run(ctx, env, p, args)
}
func (r recorder) BeforeProcess(_ context.Context, p *Params, args []any) error {
	*r.log = append(*r.log, fmt.Sprintf("before process %v", args))
	p.Prompt += " (hooked)"
	return nil
}
func (r recorder) BeforeBatch(_ context.Context, _ *Params, b BatchInfo, _ []any) error {
	*r.log = append(*r.log, fmt.Sprintf("before batch %d %v", b.Index, b.Seeds))
	return nil
}
func (r recorder) AfterImage(_ context.Context, _ *Params, i int, img image.Image, _ []any) (image.Image, error) {
	*r.log = append(*r.log, fmt.Sprintf("after image %d", i))
	return img, nil
}
func (r recorder) AfterProcess(_ context.Context, _ *Params, res *Processed, _ []any) error {
	*r.log = append(*r.log, fmt.Sprintf("after process %d", len(res.Raw)))
	return nil
}

func TestAlwaysOnHookOrder(t *testing.T) {
	pr, spy := newProcessor(t)
	var log []string
	pr.Scripts = NewScripts(recorder{title: "Hook", always: true, log: &log})
	p := smallTxt2Img()
	p.NIter, p.BatchSize = 2, 2
	p.AlwaysonScripts = map[string]any{"hook": map[string]any{"args": []any{"given"}}}
	if _, err := pr.Run(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"before process [given 1]",
		"before batch 0 [1000 1001]", "after image 0", "after image 1",
		"before batch 1 [1002 1003]", "after image 2", "after image 3",
		"after process 4",
	}
	if !slices.Equal(log, want) {
		t.Errorf("hooks =\n%q\nwant\n%q", log, want)
	}
	if got := spy.Calls()[0].Prompts[0]; got != "a cat (hooked)" {
		t.Errorf("prompt = %q, want the BeforeProcess change", got)
	}
}

func TestSelectableScriptReachesRunnerOnlyThroughProcess(t *testing.T) {
	pr, spy := newProcessor(t)
	var log []string
	sel := recorder{title: "Twice", log: &log, run: func(ctx context.Context, env ScriptEnv, p Params, _ []any) (*Processed, error) {
		first, err := env.Process(ctx, p)
		if err != nil {
			return nil, err
		}
		p.Seed = 5000
		second, err := env.Process(ctx, p)
		if err != nil {
			return nil, err
		}
		first.Raw = append(first.Raw, second.Raw...)
		first.Infotexts = append(first.Infotexts, second.Infotexts...)
		return first, nil
	}}
	pr.Scripts = NewScripts(sel, recorder{title: "Hook", always: true, log: &log})
	p := smallTxt2Img()
	name := "TWICE"
	p.ScriptName, p.ScriptArgs = &name, []any{"x"}
	out, err := pr.Run(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(spy.Calls()); n != 2 {
		t.Fatalf("runner calls = %d, want 2", n)
	}
	if len(out.Raw) != 2 || len(out.Infotexts) != 2 {
		t.Errorf("images = %d, infotexts %d, want the 2 the script assembled", len(out.Raw), len(out.Infotexts))
	}
	if log[0] != "run [x 1]" || !slices.Contains(log, "after process 1") {
		t.Errorf("log = %q", log)
	}
}

func TestScriptResolutionErrors(t *testing.T) {
	var log []string
	scripts := NewScripts(
		recorder{title: "Pick", log: &log},
		recorder{title: "Img only", img2: true, log: &log},
		recorder{title: "Hook", always: true, log: &log},
	)
	str := func(s string) *string { return &s }
	tests := []struct {
		name     string
		script   *string
		alwayson map[string]any
		want     error
		detail   string
	}{
		{"unknown script", str("nope"), nil, ErrScriptNotFound, "Script 'nope' not found"},
		{"img2img-only script in txt2img", str("img only"), nil, ErrScriptNotFound, "Script 'img only' not found"},
		{"always-on as script_name", str("hook"), nil, ErrScriptNotFound, "Script 'hook' not found"},
		{"unknown always-on", nil, map[string]any{"Nope": map[string]any{}}, ErrScriptNotFound, "Script 'Nope' not found"},
		{"selectable always-on", nil, map[string]any{"pick": map[string]any{"args": []any{}}}, ErrSelectableAlwaysOn, "Cannot have a selectable script in the always on scripts params"},
		{"unknown always-on beside a script", str("pick"), map[string]any{"x": nil}, ErrScriptNotFound, "Script 'x' not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr, spy := newProcessor(t)
			pr.Scripts = scripts
			p := smallTxt2Img()
			p.ScriptName, p.AlwaysonScripts = tc.script, tc.alwayson
			_, err := pr.Run(t.Context(), p)
			var se *ScriptError
			if !errors.Is(err, tc.want) || !errors.As(err, &se) || se.Detail() != tc.detail {
				t.Fatalf("err = %v, want %v with detail %q", err, tc.want, tc.detail)
			}
			if n := len(spy.Calls()); n != 0 {
				t.Errorf("runner calls = %d, want 0", n)
			}
		})
	}
	// Process refuses unknown always-on scripts too, with no registry.
	pr, _ := newProcessor(t)
	p := smallTxt2Img()
	p.AlwaysonScripts = map[string]any{"x": nil}
	if _, err := pr.Process(t.Context(), p); !errors.Is(err, ErrScriptNotFound) {
		t.Errorf("Process err = %v, want ErrScriptNotFound", err)
	}
}

func TestSeedsList(t *testing.T) {
	pr, spy := newProcessor(t)
	p := smallTxt2Img()
	p.NIter, p.Seeds = 2, []int64{7, 7}
	out, err := pr.Process(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if c := spy.Calls(); c[0].Seeds[0] != 7 || c[1].Seeds[0] != 7 || !slices.Equal(out.AllSeeds, []int64{7, 7}) {
		t.Errorf("seeds = %v / %v, want 7 for both images", c, out.AllSeeds)
	}
	p.Seeds = []int64{1}
	if _, err := pr.Process(t.Context(), p); !errors.Is(err, ErrInvalid) {
		t.Errorf("short seed list: err = %v, want ErrInvalid", err)
	}
}
