package processing

import (
	"context"
	"slices"
	"testing"

	"github.com/sdapi/sdapi/runner"
)

// namedRunner is a runner that only names its model.
type namedRunner struct{ info runner.ModelInfo }

func (n namedRunner) Generate(context.Context, runner.Request) (runner.Result, error) {
	return runner.Result{}, nil
}
func (n namedRunner) Model() runner.ModelInfo { return n.info }
func (n namedRunner) Close() error            { return nil }

// Ensure the refiner runs in the pass A1111's apply_refiner lets it (with
// hires fix, the one hires_fix_refiner_pass names) and that a switch writes
// Hires refiner (not for "second pass"), Refiner as "name [shorthash]" and
// Refiner switch at (omitted when none was given), in that order.
func TestRefinerPassAndInfotext(t *testing.T) {
	sw := 0.8
	ref := &runner.Refiner{Runner: namedRunner{runner.ModelInfo{Name: "sdxl-refiner", Hash: "0123456789"}}, SwitchAt: sw}
	for _, tc := range []struct {
		name          string
		hr            bool
		pass          string
		switchAt      *float64
		first, second bool
		keys          []string
	}{
		{"no hires", false, "second pass", &sw, true, false, []string{"Refiner", "Refiner switch at"}},
		{"hires, second pass", true, "second pass", &sw, false, true, []string{"Refiner", "Refiner switch at"}},
		{"hires, first pass", true, "first pass", &sw, true, false, []string{"Hires refiner", "Refiner", "Refiner switch at"}},
		{"hires, both passes", true, "both passes", nil, true, true, []string{"Hires refiner", "Refiner", "Refiner switch at"}},
	} {
		j := &job{p: &Params{RefinerSwitchAt: tc.switchAt}, jo: jobOptions{hiresRefinerPass: tc.pass}, extra: &OrderedParams{}, refiner: ref}
		j.hr.enabled = tc.hr
		if got := j.refinerFor(false) != nil; got != tc.first {
			t.Errorf("%s: first pass refines %v, want %v", tc.name, got, tc.first)
		}
		if got := j.refinerFor(true) != nil; got != tc.second {
			t.Errorf("%s: hires pass refines %v, want %v", tc.name, got, tc.second)
		}
		j.noteRefined(runner.Result{})
		if j.extra.Len() != 0 {
			t.Errorf("%s: a run that did not switch wrote %v", tc.name, j.extra.Keys())
		}
		j.noteRefined(runner.Result{Refined: true})
		if got := j.extra.Keys(); !slices.Equal(got, tc.keys) {
			t.Errorf("%s: keys %v, want %v", tc.name, got, tc.keys)
		}
		if v, _ := j.extra.Get("Refiner"); v != "sdxl-refiner [0123456789]" {
			t.Errorf("%s: Refiner %v", tc.name, v)
		}
		v, _ := j.extra.Get("Refiner switch at")
		if tc.switchAt != nil && v != sw || tc.switchAt == nil && v != nil {
			t.Errorf("%s: Refiner switch at %v", tc.name, v)
		}
		if v, ok := j.extra.Get("Hires refiner"); ok && v != tc.pass {
			t.Errorf("%s: Hires refiner %v", tc.name, v)
		}
	}
	if (&job{}).refinerFor(false) != nil {
		t.Error("no refiner_checkpoint: a refiner")
	}
}
