package scripts_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/scripts"
)

// TestAxisListsAreA1111s pins axis_options of A1111 1.10.1
// (scripts/xyz_grid.py at 82a973c) filtered per mode as
// current_axis_options filters it: x_type/y_type/z_type index these lists.
func TestAxisListsAreA1111s(t *testing.T) {
	common1 := []string{"Nothing", "Seed", "Var. seed", "Var. strength", "Steps"}
	common2 := []string{"Prompt S/R", "Prompt order"}
	common3 := []string{"Checkpoint name", "Negative Guidance minimum sigma", "Sigma Churn", "Sigma min", "Sigma max", "Sigma noise",
		"Schedule type", "Schedule min sigma", "Schedule max sigma", "Schedule rho", "Beta schedule alpha", "Beta schedule beta",
		"Eta", "Clip skip", "Denoising", "Initial noise multiplier", "Extra noise"}
	common4 := []string{"VAE", "Styles", "UniPC Order", "Face restore", "Token merging ratio", "Token merging ratio high-res",
		"Always discard next-to-last sigma", "SGM noise multiplier", "Refiner checkpoint", "Refiner switch at", "RNG source", "FP8 mode", "Size"}
	cat := func(parts ...[]string) []string { return slices.Concat(parts...) }
	for _, tc := range []struct {
		mode processing.Mode
		want []string
	}{
		{processing.Txt2Img, cat(common1, []string{"Hires steps", "CFG Scale"}, common2, []string{"Sampler", "Hires sampler"}, common3, []string{"Hires upscaler"}, common4)},
		{processing.Img2Img, cat(common1, []string{"CFG Scale", "Image CFG Scale"}, common2, []string{"Sampler"}, common3, []string{"Cond. Image Mask Weight"}, common4)},
	} {
		if got := scripts.AxisLabels(tc.mode); !slices.Equal(got, tc.want) {
			t.Errorf("%v axes:\n got %q\nwant %q", tc.mode, got, tc.want)
		}
	}
	// The index A1111's UI and API clients send for "Eta" (no "Skip Early
	// CFG" before it).
	if i := slices.Index(scripts.AxisLabels(processing.Txt2Img), "Eta"); i != 23 {
		t.Errorf("txt2img Eta index = %d, want 23", i)
	}
}

// TestXYZRefusesAxesItCannotApply: an axis whose setting this server does
// not apply is refused before any image is made, unless every value is
// one that changes nothing in A1111 either.
func TestXYZRefusesAxesItCannotApply(t *testing.T) {
	labels := scripts.AxisLabels(processing.Txt2Img)
	for _, tc := range []struct {
		axis, values string
		want         error // nil: runs
	}{
		{"Schedule rho", "0", nil},
		{"Schedule rho", "0, 5", processing.ErrUnsupported},
		{"Schedule min sigma", "0.1", processing.ErrUnsupported},
		{"Beta schedule alpha", "0.6", nil},
		{"Beta schedule alpha", "0.5", processing.ErrUnsupported},
		{"Token merging ratio", "0, 0.5", processing.ErrUnsupported},
		{"UniPC Order", "2", processing.ErrUnsupported},
		{"Face restore", "false, no", nil},
		{"Face restore", "false, codeformer", processing.ErrUnsupported},
		{"SGM noise multiplier", "True", processing.ErrUnsupported},
		{"FP8 mode", "Enable", processing.ErrUnsupported},
		{"Refiner checkpoint", "None", nil},
		{"Refiner checkpoint", "nosuch", processing.ErrInvalid}, // confirm_checkpoints_or_none
		{"Checkpoint name", "nosuch", processing.ErrInvalid},    // confirm_checkpoints
		{"Extra noise", "0.2", processing.ErrUnsupported},
	} {
		t.Run(tc.axis+"="+tc.values, func(t *testing.T) {
			pr, spy := newProcessor(t)
			i := slices.Index(labels, tc.axis)
			if i < 0 {
				t.Fatalf("no axis %q", tc.axis)
			}
			// csv_mode so that dropdown axes read the text too.
			p := named(txt2img(), "x/y/z plot", float64(i), tc.values, []any{}, 0.0, "", []any{}, 0.0, "", []any{},
				true, false, false, false, false, false, false, 0.0, true)
			_, err := pr.Run(t.Context(), p)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("err = %v, want none", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("err = %v, want %v", err, tc.want)
			case tc.want != nil && len(spy.Calls()) != 0:
				t.Errorf("%d images made before the refusal", len(spy.Calls()))
			}
		})
	}
}
