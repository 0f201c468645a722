package scripts

import (
	"context"
	"regexp"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/runner/sampling"
)

// The always-on scripts A1111 1.10.1 registers with its default
// extensions-builtin: Extra options, Hypertile and Soft Inpainting (from
// extensions-builtin), then Comments, Refiner, Sampler and Seed (from
// modules/processing_scripts). alwayson_scripts accepts them by title
// with their args.
//
// Refiner, Sampler and Seed are ScriptBuiltinUI scripts, whose setup is
// "for UI only": the API sets p.is_api before p.script_args, so
// setup_scrips(is_ui=False) skips them and their args change nothing (the
// request's own fields carry steps, sampler, seed and refiner). They run
// here as they run there: accepted, with no effect.

// alwaysOn is the part every always-on script shares.
type alwaysOn struct{}

// Show implements processing.Script: AlwaysVisible in both modes.
func (alwaysOn) Show(processing.Mode) bool { return true }

// AlwaysOn implements processing.Script.
func (alwaysOn) AlwaysOn() bool { return true }

// ExtraOptions is extensions-builtin/extra-options-section ("Extra
// options"): one control per setting named in extra_options_txt2img or
// extra_options_img2img when the UI is built, whose values before_process
// copies into override_settings. Both options default to [] and take
// effect only after a UI reload, which this server has not: it has no
// controls and no args.
type ExtraOptions struct{ alwaysOn }

// Title implements processing.Script.
func (ExtraOptions) Title() string { return "Extra options" }

// Args implements processing.Script.
func (ExtraOptions) Args(processing.Mode) []processing.ArgInfo { return []processing.ArgInfo{} }

// Hypertile is extensions-builtin/hypertile ("Hypertile"): it has no
// controls and works from the hypertile_* options. A1111 lists it in
// /sdapi/v1/scripts under its class attribute name "Hypertile". Tiled
// attention is not something the runner does, so a job with hypertile
// enabled is refused rather than run without it.
type Hypertile struct{ alwaysOn }

var _ processing.UILessScript = Hypertile{}

// Title implements processing.Script.
func (Hypertile) Title() string { return "Hypertile" }

// ClassName implements processing.UILessScript.
func (Hypertile) ClassName() string { return "Hypertile" }

// Args implements processing.Script.
func (Hypertile) Args(processing.Mode) []processing.ArgInfo { return nil }

// ProcessJob implements processing.ProcessHook: process and before_hr.
func (Hypertile) ProcessJob(_ context.Context, env processing.ScriptEnv, p *processing.Params, _ *processing.JobPrompts, _ []any) error {
	on := env.Bool("hypertile_enable_unet", false) || env.Bool("hypertile_enable_vae", false) ||
		(p.Mode == processing.Txt2Img && p.EnableHR && env.Bool("hypertile_enable_unet_secondpass", false))
	if on {
		return apierr.Unsupported("Hypertile (hypertile_enable_* options): tiled attention is not available in this server")
	}
	return nil
}

// SoftInpainting is extensions-builtin/soft-inpainting ("Soft
// Inpainting"), img2img only. Enabled on an inpainting job it blends
// latents by the soft mask at every step and composites by difference,
// which the runner does not do: such a job is refused. Disabled, or
// without a mask, it does nothing, as in A1111.
type SoftInpainting struct{ alwaysOn }

// Title implements processing.Script.
func (SoftInpainting) Title() string { return "Soft Inpainting" }

// Show implements processing.Script.
func (SoftInpainting) Show(mode processing.Mode) bool { return mode == processing.Img2Img }

// Args implements processing.Script: the accordion and its six sliders.
func (SoftInpainting) Args(processing.Mode) []processing.ArgInfo {
	return []processing.ArgInfo{
		checkbox("Soft inpainting", false),
		sliderOf("Schedule bias", 1, 0, 8, 0.1),
		sliderOf("Preservation strength", 0.5, 0, 8, 0.05),
		sliderOf("Transition contrast boost", 4, 1, 32, 0.5),
		sliderOf("Mask influence", 0, 0, 1, 0.05),
		sliderOf("Difference threshold", 0.5, 0, 8, 0.25),
		sliderOf("Difference contrast", 2, 0, 8, 0.25),
	}
}

// ProcessJob implements processing.ProcessHook.
func (SoftInpainting) ProcessJob(_ context.Context, _ processing.ScriptEnv, p *processing.Params, _ *processing.JobPrompts, args []any) error {
	if !argBool(args, 0) || p.Mask == nil { // processing_uses_inpainting
		return nil
	}
	return apierr.Unsupported("Soft inpainting: soft mask blending is not available in this server")
}

// Comments is modules/processing_scripts/comments.py ("Comments"): with
// enable_prompt_comments it strips # comments from every prompt. It has no
// controls, so neither listing names it.
type Comments struct{ alwaysOn }

var _ processing.UILessScript = Comments{}

// Title implements processing.Script.
func (Comments) Title() string { return "Comments" }

// ClassName implements processing.UILessScript: none.
func (Comments) ClassName() string { return "" }

// Args implements processing.Script.
func (Comments) Args(processing.Mode) []processing.ArgInfo { return nil }

// ProcessJob implements processing.ProcessHook.
func (Comments) ProcessJob(_ context.Context, env processing.ScriptEnv, p *processing.Params, jp *processing.JobPrompts, _ []any) error {
	if !env.Bool("enable_prompt_comments", true) {
		return nil
	}
	strip := func(list []string) []string {
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = StripComments(s)
		}
		return out
	}
	jp.Prompts, jp.NegativePrompts = strip(jp.Prompts), strip(jp.NegativePrompts)
	if p.EnableHR {
		jp.HRPrompts, jp.HRNegativePrompts = strip(jp.HRPrompts), strip(jp.HRNegativePrompts)
	}
	return nil
}

var (
	reWholeLineComment = regexp.MustCompile(`(^|\n)#[^\n]*(\n|$)`)
	reLineEndComment   = regexp.MustCompile(`#[^\n]*(\n|$)`)
)

// StripComments is comments.py strip_comments: a line that starts with #
// goes with its newline, then the rest of any line after a #; each match
// becomes one newline.
func StripComments(text string) string {
	text = reWholeLineComment.ReplaceAllString(text, "\n")
	return reLineEndComment.ReplaceAllString(text, "\n")
}

// Refiner is modules/processing_scripts/refiner.py ("Refiner"): enable,
// checkpoint, switch at. Its setup is for the UI only (see above); the
// request's refiner_checkpoint and refiner_switch_at fields are what the
// API uses.
type Refiner struct {
	alwaysOn
	// Checkpoints lists the checkpoint titles (sd_models.checkpoint_tiles)
	// for the dropdown's choices; nil lists none.
	Checkpoints func() []string
}

// Title implements processing.Script.
func (Refiner) Title() string { return "Refiner" }

// Args implements processing.Script.
func (r Refiner) Args(processing.Mode) []processing.ArgInfo {
	choices := []string{}
	if r.Checkpoints != nil {
		choices = append(choices, r.Checkpoints()...)
	}
	return []processing.ArgInfo{
		checkbox("Refiner", false),
		{Label: "Checkpoint", Value: "", Choices: choices},
		slider("Switch at", 0.8, 0.01, 1.0, 0.01),
	}
}

// Sampler is modules/processing_scripts/sampler.py ("Sampler"): steps,
// sampler, schedule type, in the order its ui returns them. Its setup is
// for the UI only (see above).
type Sampler struct{ alwaysOn }

// Title implements processing.Script.
func (Sampler) Title() string { return "Sampler" }

// Args implements processing.Script: samplers_in_dropdown (the default)
// makes both choices dropdowns whose value is their first entry.
func (Sampler) Args(processing.Mode) []processing.ArgInfo {
	var samplers, schedulers []string
	for _, s := range sampling.Samplers() {
		samplers = append(samplers, s.Name)
	}
	for _, s := range sampling.Schedulers() {
		schedulers = append(schedulers, s.Label)
	}
	first := func(l []string) any {
		if len(l) == 0 {
			return nil
		}
		return l[0]
	}
	return []processing.ArgInfo{
		sliderOf("Sampling steps", 20, 1, 150, 1),
		{Label: "Sampling method", Value: first(samplers), Choices: samplers},
		{Label: "Schedule type", Value: first(schedulers), Choices: schedulers},
	}
}

// Seed is modules/processing_scripts/seed.py ("Seed"): seed, the "Extra"
// checkbox, variation seed and strength, resize seed from width and
// height. Its setup is for the UI only (see above).
type Seed struct{ alwaysOn }

// Title implements processing.Script.
func (Seed) Title() string { return "Seed" }

// Args implements processing.Script. gr.Number has no minimum, maximum or
// step to report.
func (Seed) Args(processing.Mode) []processing.ArgInfo {
	return []processing.ArgInfo{
		{Label: "Seed", Value: -1},
		checkbox("Extra", false),
		{Label: "Variation seed", Value: -1},
		sliderOf("Variation strength", 0.0, 0, 1, 0.01),
		sliderOf("Resize seed from width", 0, 0, 2048, 8),
		sliderOf("Resize seed from height", 0, 0, 2048, 8),
	}
}
