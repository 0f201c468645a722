package processing

import (
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/internal/pyfmt"
	"github.com/sdapi/sdapi/processing/infotext"
	"github.com/sdapi/sdapi/processing/options"
	"github.com/sdapi/sdapi/runner/sampling"
)

// pasteField is one of A1111's infotext_utils.PasteField entries with an
// api name: the request field it fills and how its value is read from the
// parsed infotext.
type pasteField struct {
	api   string
	label string                                 // parsed key, when value is nil
	value func(d *infotext.Params) any           // computed value (nil result: skip)
	set   func(p *Params, v string) (any, error) // parse the value into the field; the value set
	modes []Mode                                 // nil: both
}

// ApplyInfotext is A1111 1.10's Api.apply_infotext: text is parsed with
// parse_generation_parameters, and every paste field whose request key is
// not in p.Set gets the infotext's value; then the infotext's settings
// (Clip skip, ENSD, RNG, Eta, ...) that differ from store's current values
// join override_settings unless the request overrides them already. A nil
// store, or an option the store does not define, adds no settings.
//
// Fields handled (txt2img and img2img paste fields plus the seed, sampler
// and steps scripts' infotext_fields): Prompt, Negative prompt, Steps,
// Sampler / Schedule type (through get_sampler_and_scheduler), CFG scale,
// Seed, Size-1/Size-2, Batch size, Variation seed, Variation seed
// strength, Seed resize from-1/-2, Denoising strength; for txt2img
// enable_hr (A1111's "Denoising strength and a Hires key" rule), Hires
// upscale, Hires upscaler, Hires steps, Hires resize-1/-2, Hires
// checkpoint, Hires sampler / Hires schedule type, Hires prompt, Hires
// negative prompt; for img2img Image CFG scale, Mask blur, Resize mode is
// not pasted by A1111. Not handled: Styles array (opts.infotext_styles),
// refiner fields, script-specific fields of extensions.
//
// It returns the request fields it set, by API name, with their new
// values (override_settings whole when it grew): apply_infotext sets them
// on the request, so vars(request) shows them.
func (p *Params) ApplyInfotext(text string, store *options.Store) (map[string]any, error) {
	pasted := map[string]any{}
	if text == "" {
		return pasted, nil
	}
	d := infotext.Parse(text)
	for _, f := range pasteFields {
		if f.modes != nil && !hasMode(f.modes, p.Mode) || p.isSet(f.api) {
			continue
		}
		var v any
		if f.value != nil {
			v = f.value(&d)
		} else {
			var ok bool
			if v, ok = d.Get(f.label); !ok {
				continue
			}
		}
		if v == nil {
			continue
		}
		val, err := f.set(p, fmt.Sprint(pyValueString(v)))
		if err != nil {
			return nil, apierr.Invalid("infotext", "infotext %s: %w", f.api, err)
		}
		pasted[f.api] = val
	}
	settingsPasted := false
	for _, m := range infotextSettings {
		v, ok := d.Get(m.label)
		if !ok || v == nil {
			continue
		}
		if p.OverrideSettings != nil {
			if _, ok := p.OverrideSettings[m.setting]; ok {
				continue
			}
		}
		if store == nil {
			continue
		}
		cur, ok := store.Get(m.setting)
		if !ok {
			continue // an option this server does not define
		}
		cast, ok := castLike(cur, pyValueString(v))
		if !ok || cast == cur {
			continue
		}
		if p.OverrideSettings == nil {
			p.OverrideSettings = map[string]any{}
		}
		p.OverrideSettings[m.setting] = cast
		settingsPasted = true
	}
	if settingsPasted {
		pasted["override_settings"] = maps.Clone(p.OverrideSettings)
	}
	return pasted, nil
}

func hasMode(ms []Mode, m Mode) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

// pyValueString renders a parsed value as Python's str() would before
// the target type's constructor reads it.
func pyValueString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		return pyfmt.Float(x)
	}
	return fmt.Sprint(v)
}

// castLike is opts.cast_value: the infotext string converted to the type
// of the option's current value.
func castLike(cur any, s string) (any, bool) {
	switch cur.(type) {
	case bool:
		switch s {
		case "True", "true":
			return true, true
		case "False", "false":
			return false, true
		}
		return nil, false
	case float64, int:
		f, err := ParseFinite(s)
		if err != nil {
			return nil, false
		}
		return f, true
	case string:
		return s, true
	}
	return nil, false
}

// infotextSettings is infotext_to_setting_name_mapping plus the options
// that declare an infotext label (OptionInfo(infotext=...)), restricted to
// options this server uses. "Model hash" is left out: A1111 skips it while
// disable_weights_auto_swap is on (the default).
var infotextSettings = []struct{ label, setting string }{
	{"Clip skip", "CLIP_stop_at_last_layers"},
	{"Conditional mask weight", "inpainting_mask_weight"},
	{"ENSD", "eta_noise_seed_delta"},
	{"Schedule max sigma", "sigma_max"},
	{"Schedule min sigma", "sigma_min"},
	{"Schedule rho", "rho"},
	{"Beta schedule alpha", "beta_dist_alpha"},
	{"Beta schedule beta", "beta_dist_beta"},
	{"Noise multiplier", "initial_noise_multiplier"},
	{"Eta", "eta_ancestral"},
	{"Eta DDIM", "eta_ddim"},
	{"Sigma churn", "s_churn"},
	{"Sigma tmin", "s_tmin"},
	{"Sigma tmax", "s_tmax"},
	{"Sigma noise", "s_noise"},
	{"Discard penultimate sigma", "always_discard_next_to_last_sigma"},
	{"UniPC variant", "uni_pc_variant"},
	{"RNG", "randn_source"},
	{"NGMS", "s_min_uncond"},
	{"Emphasis", "emphasis"},
}

// ParseFinite is strconv.ParseFloat of the trimmed s that also refuses
// nan and inf, which Python's float() would take: no field of a generation
// is meaningful at either, and a NaN slips past every range check written
// as x < lo || x > hi. Every text-to-number parse of a request goes
// through it (infotext, script arguments).
func ParseFinite(s string) (float64, error) {
	s = strings.TrimSpace(s)
	f, err := strconv.ParseFloat(s, 64)
	if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return 0, fmt.Errorf("%q is not a finite number", s)
	}
	return f, err
}

// setField parses v and stores it through dst. It returns the value stored,
// for vars(request).
func setField[T any](parse func(string) (T, error), dst func(*Params) *T) func(*Params, string) (any, error) {
	return func(p *Params, v string) (any, error) {
		x, err := parse(v)
		if err != nil {
			return nil, err
		}
		*dst(p) = x
		return x, nil
	}
}

// setFieldPtr is setField for an optional field.
func setFieldPtr[T any](parse func(string) (T, error), dst func(*Params) **T) func(*Params, string) (any, error) {
	return func(p *Params, v string) (any, error) {
		x, err := parse(v)
		if err != nil {
			return nil, err
		}
		*dst(p) = &x
		return x, nil
	}
}

func parseString(v string) (string, error) { return v, nil }
func parseInt(v string) (int, error)       { return strconv.Atoi(strings.TrimSpace(v)) }
func parseInt64(v string) (int64, error)   { return strconv.ParseInt(strings.TrimSpace(v), 10, 64) }

func setString(dst func(*Params) *string) func(*Params, string) (any, error) {
	return setField(parseString, dst)
}
func setStringPtr(dst func(*Params) **string) func(*Params, string) (any, error) {
	return setFieldPtr(parseString, dst)
}
func setInt(dst func(*Params) *int) func(*Params, string) (any, error) {
	return setField(parseInt, dst)
}
func setInt64(dst func(*Params) *int64) func(*Params, string) (any, error) {
	return setField(parseInt64, dst)
}
func setFloat(dst func(*Params) *float64) func(*Params, string) (any, error) {
	return setField(ParseFinite, dst)
}
func setFloatPtr(dst func(*Params) **float64) func(*Params, string) (any, error) {
	return setFieldPtr(ParseFinite, dst)
}

var (
	txt2imgOnly = []Mode{Txt2Img}
	img2imgOnly = []Mode{Img2Img}
)

// pasteFields lists the fields in A1111's paste order (ui.py's
// txt2img_paste_fields / img2img_paste_fields, then the scripts').
var pasteFields = []pasteField{
	{api: "prompt", label: "Prompt", set: setString(func(p *Params) *string { return &p.Prompt })},
	{api: "negative_prompt", label: "Negative prompt", set: setString(func(p *Params) *string { return &p.NegativePrompt })},
	{api: "cfg_scale", label: "CFG scale", set: setFloat(func(p *Params) *float64 { return &p.CFGScale })},
	{api: "image_cfg_scale", label: "Image CFG scale", modes: img2imgOnly, set: setFloatPtr(func(p *Params) **float64 { return &p.ImageCFGScale })},
	{api: "width", label: "Size-1", set: setInt(func(p *Params) *int { return &p.Width })},
	{api: "height", label: "Size-2", set: setInt(func(p *Params) *int { return &p.Height })},
	{api: "batch_size", label: "Batch size", set: setInt(func(p *Params) *int { return &p.BatchSize })},
	{api: "mask_blur", label: "Mask blur", modes: img2imgOnly, set: setFieldPtr(parseInt, func(p *Params) **int { return &p.MaskBlur })},
	{api: "denoising_strength", label: "Denoising strength", set: setFloatPtr(func(p *Params) **float64 { return &p.DenoisingStrength })},
	{api: "enable_hr", modes: txt2imgOnly, value: func(d *infotext.Params) any {
		return d.Has("Denoising strength") && (d.Has("Hires upscale") || d.Has("Hires upscaler") || d.Has("Hires resize-1"))
	}, set: setField(func(v string) (bool, error) { return v == "True", nil }, func(p *Params) *bool { return &p.EnableHR })},
	{api: "hr_scale", label: "Hires upscale", modes: txt2imgOnly, set: setFloat(func(p *Params) *float64 { return &p.HRScale })},
	{api: "hr_upscaler", label: "Hires upscaler", modes: txt2imgOnly, set: setStringPtr(func(p *Params) **string { return &p.HRUpscaler })},
	{api: "hr_second_pass_steps", label: "Hires steps", modes: txt2imgOnly, set: setInt(func(p *Params) *int { return &p.HRSecondPassSteps })},
	{api: "hr_resize_x", label: "Hires resize-1", modes: txt2imgOnly, set: setInt(func(p *Params) *int { return &p.HRResizeX })},
	{api: "hr_resize_y", label: "Hires resize-2", modes: txt2imgOnly, set: setInt(func(p *Params) *int { return &p.HRResizeY })},
	{api: "hr_checkpoint_name", label: "Hires checkpoint", modes: txt2imgOnly, set: setStringPtr(func(p *Params) **string { return &p.HRCheckpointName })},
	{api: "hr_sampler_name", modes: txt2imgOnly, value: func(d *infotext.Params) any { s, _ := hrSamplerFromInfotext(d); return s },
		set: setStringPtr(func(p *Params) **string { return &p.HRSamplerName })},
	{api: "hr_scheduler", modes: txt2imgOnly, value: func(d *infotext.Params) any { _, s := hrSamplerFromInfotext(d); return s },
		set: setStringPtr(func(p *Params) **string { return &p.HRScheduler })},
	{api: "hr_prompt", label: "Hires prompt", modes: txt2imgOnly, set: setString(func(p *Params) *string { return &p.HRPrompt })},
	{api: "hr_negative_prompt", label: "Hires negative prompt", modes: txt2imgOnly, set: setString(func(p *Params) *string { return &p.HRNegativePrompt })},
	// Seed script.
	{api: "seed", label: "Seed", set: setInt64(func(p *Params) *int64 { return &p.Seed })},
	{api: "subseed", label: "Variation seed", set: setInt64(func(p *Params) *int64 { return &p.Subseed })},
	{api: "subseed_strength", label: "Variation seed strength", set: setFloat(func(p *Params) *float64 { return &p.SubseedStrength })},
	{api: "seed_resize_from_w", label: "Seed resize from-1", set: setInt(func(p *Params) *int { return &p.SeedResizeFromW })},
	{api: "seed_resize_from_h", label: "Seed resize from-2", set: setInt(func(p *Params) *int { return &p.SeedResizeFromH })},
	// Sampler script.
	{api: "steps", label: "Steps", set: setInt(func(p *Params) *int { return &p.Steps })},
	{api: "sampler_name", value: func(d *infotext.Params) any {
		s, _ := sampling.ResolveSamplerScheduler(d.String("Sampler"), d.String("Schedule type"))
		return s
	}, set: setStringPtr(func(p *Params) **string { return &p.SamplerName })},
	{api: "scheduler", value: func(d *infotext.Params) any {
		_, s := sampling.ResolveSamplerScheduler(d.String("Sampler"), d.String("Schedule type"))
		return s
	}, set: setStringPtr(func(p *Params) **string { return &p.Scheduler })},
}

// hrSamplerFromInfotext is sd_samplers.get_hr_sampler_and_scheduler.
func hrSamplerFromInfotext(d *infotext.Params) (string, string) {
	hrSampler := "Use same sampler"
	if d.Has("Hires sampler") {
		hrSampler = d.String("Hires sampler")
	}
	sampler := hrSampler
	if hrSampler == "Use same sampler" {
		sampler = d.String("Sampler")
	}
	hrScheduler := "Use same scheduler"
	if d.Has("Hires schedule type") {
		hrScheduler = d.String("Hires schedule type")
	}
	scheduler := hrScheduler
	if hrScheduler == "Use same scheduler" {
		scheduler = d.String("Schedule type")
	}
	sampler, scheduler = sampling.ResolveSamplerScheduler(sampler, scheduler)
	if sampler == d.String("Sampler") {
		sampler = "Use same sampler"
	}
	if scheduler == d.String("Schedule type") {
		scheduler = "Use same scheduler"
	}
	return sampler, scheduler
}
