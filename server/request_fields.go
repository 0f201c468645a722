package server

import (
	"github.com/sdapi/sdapi/processing"
)

// The fields of A1111 1.10's request models (modules/api/models.py), in
// the models' field order: PydanticModelGenerator merges the __init__
// signatures of the processing class's MRO (the dataclass order, base
// fields first, a redeclared field in its base position), then appends
// the additional_fields that are new. Pydantic validates, reports errors
// and vars(request) lists the fields in this order.
//
// optional is Optional[...] in the model: every field generated from the
// class signature is, and so is an additional field with default None;
// the other additional fields (sampler_index: str = "Euler", ...) refuse
// null. def is the model's default as Python holds it (int64 for an int,
// float64 for a float: subseed_strength's default is the int 0).
//
// TestRequestFieldsMatchSpec keeps openapi/sdapi.yaml's request schemas
// equal to this table: names, types, nullable and defaults.

type kind int

const (
	kStr     kind = iota // str
	kInt                 // int
	kFloat               // float
	kBool                // bool
	kStrList             // list[str]
	kList                // list
	kDict                // dict
	kStrDict             // dict[str, Any]
)

// field is one request field: how pydantic validates it and where the
// value goes.
type field struct {
	name     string
	kind     kind
	optional bool
	def      any
	// set stores a validated, non-null value (see the value kinds of
	// validate); nil for fields Params does not take.
	set func(*genRequest, any)
}

// genRequest is a decoded txt2img or img2img body.
type genRequest struct {
	p processing.Params
	// params is vars(request): every field, in field order.
	params *pyDict
	// sendImages is send_images: the response carries the images.
	sendImages bool
	// The image fields, decoded by the handler in A1111's order.
	initImages     []any // nil: None
	mask           string
	firstpassImage string
	latentMask     string
}

type params = processing.Params

func bindStr(dst func(*params) *string) func(*genRequest, any) {
	return func(r *genRequest, v any) { *dst(&r.p) = v.(string) }
}

func bindStrPtr(dst func(*params) **string) func(*genRequest, any) {
	return func(r *genRequest, v any) { s := v.(string); *dst(&r.p) = &s }
}

func bindInt(dst func(*params) *int) func(*genRequest, any) {
	return func(r *genRequest, v any) { *dst(&r.p) = int(v.(int64)) }
}

func bindInt64(dst func(*params) *int64) func(*genRequest, any) {
	return func(r *genRequest, v any) { *dst(&r.p) = v.(int64) }
}

func bindIntPtr(dst func(*params) **int) func(*genRequest, any) {
	return func(r *genRequest, v any) { n := int(v.(int64)); *dst(&r.p) = &n }
}

func bindFloat(dst func(*params) *float64) func(*genRequest, any) {
	return func(r *genRequest, v any) { *dst(&r.p) = v.(float64) }
}

func bindFloatPtr(dst func(*params) **float64) func(*genRequest, any) {
	return func(r *genRequest, v any) { f := v.(float64); *dst(&r.p) = &f }
}

func bindBool(dst func(*params) *bool) func(*genRequest, any) {
	return func(r *genRequest, v any) { *dst(&r.p) = v.(bool) }
}

func bindBoolPtr(dst func(*params) **bool) func(*genRequest, any) {
	return func(r *genRequest, v any) { b := v.(bool); *dst(&r.p) = &b }
}

func bindStrList(dst func(*params) *[]string) func(*genRequest, any) {
	return func(r *genRequest, v any) { *dst(&r.p) = v.([]string) }
}

func bindList(dst func(*params) *[]any) func(*genRequest, any) {
	return func(r *genRequest, v any) { *dst(&r.p) = plainValue(v).([]any) }
}

func bindDict(dst func(*params) *map[string]any) func(*genRequest, any) {
	return func(r *genRequest, v any) { *dst(&r.p) = plainValue(v).(map[string]any) }
}

// image keeps an image field's string for the handler to decode.
func bindImage(dst func(*genRequest) *string) func(*genRequest, any) {
	return func(r *genRequest, v any) { *dst(r) = v.(string) }
}

// baseFields are StableDiffusionProcessing's API fields up to comments;
// denoising is the mode's denoising_strength, declared in its base place.
func baseFields(denoising field) []field {
	return []field{
		{"prompt", kStr, true, "", bindStr(func(p *params) *string { return &p.Prompt })},
		{"negative_prompt", kStr, true, "", bindStr(func(p *params) *string { return &p.NegativePrompt })},
		{"styles", kStrList, true, nil, bindStrList(func(p *params) *[]string { return &p.Styles })},
		{"seed", kInt, true, int64(-1), bindInt64(func(p *params) *int64 { return &p.Seed })},
		{"subseed", kInt, true, int64(-1), bindInt64(func(p *params) *int64 { return &p.Subseed })},
		{"subseed_strength", kFloat, true, int64(0), bindFloat(func(p *params) *float64 { return &p.SubseedStrength })},
		{"seed_resize_from_h", kInt, true, int64(-1), bindInt(func(p *params) *int { return &p.SeedResizeFromH })},
		{"seed_resize_from_w", kInt, true, int64(-1), bindInt(func(p *params) *int { return &p.SeedResizeFromW })},
		{"sampler_name", kStr, true, nil, bindStrPtr(func(p *params) **string { return &p.SamplerName })},
		{"scheduler", kStr, true, nil, bindStrPtr(func(p *params) **string { return &p.Scheduler })},
		{"batch_size", kInt, true, int64(1), bindInt(func(p *params) *int { return &p.BatchSize })},
		{"n_iter", kInt, true, int64(1), bindInt(func(p *params) *int { return &p.NIter })},
		{"steps", kInt, true, int64(50), bindInt(func(p *params) *int { return &p.Steps })},
		{"cfg_scale", kFloat, true, 7.0, bindFloat(func(p *params) *float64 { return &p.CFGScale })},
		{"width", kInt, true, int64(512), bindInt(func(p *params) *int { return &p.Width })},
		{"height", kInt, true, int64(512), bindInt(func(p *params) *int { return &p.Height })},
		{"restore_faces", kBool, true, nil, bindBoolPtr(func(p *params) **bool { return &p.RestoreFaces })},
		{"tiling", kBool, true, nil, bindBoolPtr(func(p *params) **bool { return &p.Tiling })},
		// The API sets both from save_images.
		{"do_not_save_samples", kBool, true, false, nil},
		{"do_not_save_grid", kBool, true, false, nil},
		{"eta", kFloat, true, nil, bindFloatPtr(func(p *params) **float64 { return &p.Eta })},
		denoising,
		{"s_min_uncond", kFloat, true, nil, bindFloatPtr(func(p *params) **float64 { return &p.SMinUncond })},
		{"s_churn", kFloat, true, nil, bindFloatPtr(func(p *params) **float64 { return &p.SChurn })},
		{"s_tmax", kFloat, true, nil, bindFloatPtr(func(p *params) **float64 { return &p.STmax })},
		{"s_tmin", kFloat, true, nil, bindFloatPtr(func(p *params) **float64 { return &p.STmin })},
		{"s_noise", kFloat, true, nil, bindFloatPtr(func(p *params) **float64 { return &p.SNoise })},
		{"override_settings", kStrDict, true, nil, bindDict(func(p *params) *map[string]any { return &p.OverrideSettings })},
		{"override_settings_restore_afterwards", kBool, true, true, bindBool(func(p *params) *bool { return &p.OverrideSettingsRestoreAfterwards })},
		{"refiner_checkpoint", kStr, true, nil, bindStrPtr(func(p *params) **string { return &p.RefinerCheckpoint })},
		{"refiner_switch_at", kFloat, true, nil, bindFloatPtr(func(p *params) **float64 { return &p.RefinerSwitchAt })},
		{"disable_extra_networks", kBool, true, false, bindBool(func(p *params) *bool { return &p.DisableExtraNetworks })},
		{"firstpass_image", kStr, true, nil, bindImage(func(r *genRequest) *string { return &r.firstpassImage })},
		{"comments", kDict, true, nil, bindDict(func(p *params) *map[string]any { return &p.Comments })},
	}
}

var forceTaskID = field{"force_task_id", kStr, true, nil, bindStrPtr(func(p *params) **string { return &p.ForceTaskID })}

// apiFields are the additional_fields both models append after the class
// fields (force_task_id is a class field already and keeps its place).
func apiFields(img2img bool) []field {
	out := []field{{"sampler_index", kStr, false, "Euler", bindStr(func(p *params) *string { return &p.SamplerIndex })}}
	if img2img {
		out = append(out, field{"include_init_images", kBool, false, false, bindBool(func(p *params) *bool { return &p.IncludeInitImages })})
	}
	return append(out,
		field{"script_name", kStr, true, nil, bindStrPtr(func(p *params) **string { return &p.ScriptName })},
		field{"script_args", kList, false, []any{}, bindList(func(p *params) *[]any { return &p.ScriptArgs })},
		field{"send_images", kBool, false, true, func(r *genRequest, v any) { r.sendImages = v.(bool) }},
		field{"save_images", kBool, false, false, bindBool(func(p *params) *bool { return &p.SaveImages })},
		field{"alwayson_scripts", kDict, false, map[string]any{}, bindDict(func(p *params) *map[string]any { return &p.AlwaysonScripts })},
		field{"infotext", kStr, true, nil, bindStrPtr(func(p *params) **string { return &p.Infotext })},
	)
}

// txt2imgFields is StableDiffusionTxt2ImgProcessingAPI. Its
// denoising_strength has the base class's default, None: the merge keeps
// the last class's signature entry (models.py merge_class_params).
var txt2imgFields = concat(
	baseFields(field{"denoising_strength", kFloat, true, nil, bindFloatPtr(func(p *params) **float64 { return &p.DenoisingStrength })}),
	[]field{
		{"enable_hr", kBool, true, false, bindBool(func(p *params) *bool { return &p.EnableHR })},
		{"firstphase_width", kInt, true, int64(0), bindInt(func(p *params) *int { return &p.FirstphaseWidth })},
		{"firstphase_height", kInt, true, int64(0), bindInt(func(p *params) *int { return &p.FirstphaseHeight })},
		{"hr_scale", kFloat, true, 2.0, bindFloat(func(p *params) *float64 { return &p.HRScale })},
		{"hr_upscaler", kStr, true, nil, bindStrPtr(func(p *params) **string { return &p.HRUpscaler })},
		{"hr_second_pass_steps", kInt, true, int64(0), bindInt(func(p *params) *int { return &p.HRSecondPassSteps })},
		{"hr_resize_x", kInt, true, int64(0), bindInt(func(p *params) *int { return &p.HRResizeX })},
		{"hr_resize_y", kInt, true, int64(0), bindInt(func(p *params) *int { return &p.HRResizeY })},
		{"hr_checkpoint_name", kStr, true, nil, bindStrPtr(func(p *params) **string { return &p.HRCheckpointName })},
		{"hr_sampler_name", kStr, true, nil, bindStrPtr(func(p *params) **string { return &p.HRSamplerName })},
		{"hr_scheduler", kStr, true, nil, bindStrPtr(func(p *params) **string { return &p.HRScheduler })},
		{"hr_prompt", kStr, true, "", bindStr(func(p *params) *string { return &p.HRPrompt })},
		{"hr_negative_prompt", kStr, true, "", bindStr(func(p *params) *string { return &p.HRNegativePrompt })},
		forceTaskID,
	},
	apiFields(false),
)

// img2imgFields is StableDiffusionImg2ImgProcessingAPI. The additional
// fields init_images (list = None), denoising_strength (float = 0.75) and
// mask (str = None) replace the class's entries in place, so
// denoising_strength refuses null here.
var img2imgFields = concat(
	baseFields(field{"denoising_strength", kFloat, false, 0.75, bindFloatPtr(func(p *params) **float64 { return &p.DenoisingStrength })}),
	[]field{
		{"init_images", kList, true, nil, func(r *genRequest, v any) { r.initImages = v.([]any) }},
		{"resize_mode", kInt, true, int64(0), bindInt(func(p *params) *int { return &p.ResizeMode })},
		{"image_cfg_scale", kFloat, true, nil, bindFloatPtr(func(p *params) **float64 { return &p.ImageCFGScale })},
		{"mask", kStr, true, nil, bindImage(func(r *genRequest) *string { return &r.mask })},
		{"mask_blur_x", kInt, true, int64(4), bindInt(func(p *params) *int { return &p.MaskBlurX })},
		{"mask_blur_y", kInt, true, int64(4), bindInt(func(p *params) *int { return &p.MaskBlurY })},
		{"mask_blur", kInt, true, nil, bindIntPtr(func(p *params) **int { return &p.MaskBlur })},
		{"mask_round", kBool, true, true, bindBool(func(p *params) *bool { return &p.MaskRound })},
		{"inpainting_fill", kInt, true, int64(0), bindInt(func(p *params) *int { return &p.InpaintingFill })},
		{"inpaint_full_res", kBool, true, true, bindBool(func(p *params) *bool { return &p.InpaintFullRes })},
		{"inpaint_full_res_padding", kInt, true, int64(0), bindInt(func(p *params) *int { return &p.InpaintFullResPadding })},
		{"inpainting_mask_invert", kInt, true, int64(0), bindInt(func(p *params) *int { return &p.InpaintingMaskInvert })},
		{"initial_noise_multiplier", kFloat, true, nil, bindFloatPtr(func(p *params) **float64 { return &p.InitialNoiseMultiplier })},
		{"latent_mask", kStr, true, nil, bindImage(func(r *genRequest) *string { return &r.latentMask })},
		forceTaskID,
	},
	apiFields(true),
)

func concat(parts ...[]field) []field {
	var out []field
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// requestFields returns the fields of mode's request model.
func requestFields(mode processing.Mode) []field {
	if mode == processing.Img2Img {
		return img2imgFields
	}
	return txt2imgFields
}
