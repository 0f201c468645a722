package scripts

import (
	"maps"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/runner/sampling"
)

// axisType is an AxisOption's value type.
type axisType int

const (
	axisStr axisType = iota
	axisInt
	axisFloat
	axisPermutations // str_permutations
)

// axisMode limits an axis to one tab (AxisOptionTxt2Img/AxisOptionImg2Img).
type axisMode int

const (
	bothModes axisMode = iota
	txt2imgOnly
	img2imgOnly
)

// Axis is one of X/Y/Z plot's axis_options.
type Axis struct {
	Label string
	typ   axisType
	mode  axisMode
	// apply sets the value on p; xs are all the axis's values.
	apply func(p *processing.Params, x any, xs []any) error
	// applyEnv, when set, is apply for axes that look something up.
	applyEnv func(env processing.ScriptEnv, p *processing.Params, x any) error
	// confirm checks every value before any image is made (A1111's
	// confirm, and this server's refusal of values it cannot apply).
	confirm func(env processing.ScriptEnv, xs []any) error
	// hasChoices is true for axes with a dropdown (choices is not None).
	hasChoices bool
	cost       float64
}

func applyField(set func(p *processing.Params, x any)) func(*processing.Params, any, []any) error {
	return func(p *processing.Params, x any, _ []any) error { set(p, x); return nil }
}

func applyOverride(key string) func(*processing.Params, any, []any) error {
	return func(p *processing.Params, x any, _ []any) error {
		p.OverrideSettings = withOverride(p.OverrideSettings, key, x)
		return nil
	}
}

func applyOverrideBool(key string) func(*processing.Params, any, []any) error {
	return func(p *processing.Params, x any, _ []any) error {
		p.OverrideSettings = withOverride(p.OverrideSettings, key, strings.ToLower(x.(string)) == "true")
		return nil
	}
}

func withOverride(m map[string]any, key string, v any) map[string]any {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]any{}
	}
	out[key] = v
	return out
}

// onlyNoop is the confirm of an axis whose setting this server does not
// apply: it refuses every value but the one with which A1111 would not
// change the image either (noop reports it), so that no grid claims values
// it ignored.
func onlyNoop(label, what string, noop func(x any) bool) func(processing.ScriptEnv, []any) error {
	return func(_ processing.ScriptEnv, xs []any) error {
		for _, x := range xs {
			if !noop(x) {
				return apierr.Unsupported("X/Y/Z plot axis %s: value %v: this server does not apply %s", label, x, what)
			}
		}
		return nil
	}
}

func floatIs(v float64) func(any) bool { return func(x any) bool { return x.(float64) == v } }

// confirmCheckpoints is confirm_checkpoints: every value names a known
// checkpoint.
func confirmCheckpoints(env processing.ScriptEnv, xs []any) error {
	for _, x := range xs {
		if _, ok := env.ClosestCheckpoint(x.(string)); !ok {
			return apierr.Invalid("", "Unknown checkpoint: %s", x)
		}
	}
	return nil
}

// applyCheckpoint is apply_checkpoint: the closest checkpoint's model
// name into override_settings.
func applyCheckpoint(env processing.ScriptEnv, p *processing.Params, x any) error {
	name, ok := env.ClosestCheckpoint(x.(string))
	if !ok {
		return apierr.Invalid("", "Unknown checkpoint: %s", x)
	}
	p.OverrideSettings = withOverride(p.OverrideSettings, "sd_model_checkpoint", name)
	return nil
}

func noneCheckpoint(x any) bool {
	switch x.(string) {
	case "", "None", "none":
		return true
	}
	return false
}

// confirmRefiners is confirm_checkpoints_or_none; each value then runs as
// the request's refiner_checkpoint.
func confirmRefiners(env processing.ScriptEnv, xs []any) error {
	for _, x := range xs {
		if _, ok := env.ClosestCheckpoint(x.(string)); !noneCheckpoint(x) && !ok {
			return apierr.Invalid("", "Unknown checkpoint: %s", x)
		}
	}
	return nil
}

// faceRestoreOn is apply_face_restore's is_active.
func faceRestoreOn(x string) bool {
	switch strings.ToLower(x) {
	case "codeformer", "gfpgan", "true", "yes", "y", "1":
		return true
	}
	return false
}

func ptr[T any](v T) *T { return &v }

func confirmSamplers(_ processing.ScriptEnv, xs []any) error {
	for _, x := range xs {
		if _, ok := sampling.LookupSampler(x.(string)); !ok {
			return apierr.Invalid("", "unknown sampler: %s", x)
		}
	}
	return nil
}

// axisOptions is A1111 1.10's axis_options, in order: x_type, y_type and
// z_type index the ones shown in the request's mode. Axes this server
// cannot apply answer ErrUnsupported when used.
var axisOptions = []Axis{
	{Label: "Nothing", typ: axisStr, apply: applyField(func(*processing.Params, any) {})},
	{Label: "Seed", typ: axisInt, apply: applyField(func(p *processing.Params, x any) { p.Seed, p.Seeds = int64(x.(int)), nil })},
	{Label: "Var. seed", typ: axisInt, apply: applyField(func(p *processing.Params, x any) { p.Subseed = int64(x.(int)) })},
	{Label: "Var. strength", typ: axisFloat, apply: applyField(func(p *processing.Params, x any) { p.SubseedStrength = x.(float64) })},
	{Label: "Steps", typ: axisInt, apply: applyField(func(p *processing.Params, x any) { p.Steps = x.(int) })},
	{Label: "Hires steps", typ: axisInt, mode: txt2imgOnly, apply: applyField(func(p *processing.Params, x any) { p.HRSecondPassSteps = x.(int) })},
	{Label: "CFG Scale", typ: axisFloat, apply: applyField(func(p *processing.Params, x any) { p.CFGScale = x.(float64) })},
	{Label: "Image CFG Scale", typ: axisFloat, mode: img2imgOnly, apply: applyField(func(p *processing.Params, x any) { p.ImageCFGScale = ptr(x.(float64)) })},
	{Label: "Prompt S/R", typ: axisStr, apply: applyPromptSR},
	{Label: "Prompt order", typ: axisPermutations, apply: applyOrder},
	{Label: "Sampler", typ: axisStr, mode: txt2imgOnly, apply: applyField(func(p *processing.Params, x any) { p.SamplerName = ptr(x.(string)) }), confirm: confirmSamplers, hasChoices: true},
	{Label: "Hires sampler", typ: axisStr, mode: txt2imgOnly, apply: applyField(func(p *processing.Params, x any) { p.HRSamplerName = ptr(x.(string)) }), confirm: confirmSamplers, hasChoices: true},
	{Label: "Sampler", typ: axisStr, mode: img2imgOnly, apply: applyField(func(p *processing.Params, x any) { p.SamplerName = ptr(x.(string)) }), confirm: confirmSamplers, hasChoices: true},
	{Label: "Checkpoint name", typ: axisStr, applyEnv: applyCheckpoint, confirm: confirmCheckpoints, hasChoices: true, cost: 1.0},
	{Label: "Negative Guidance minimum sigma", typ: axisFloat, apply: applyField(func(p *processing.Params, x any) { p.SMinUncond = ptr(x.(float64)) })},
	{Label: "Sigma Churn", typ: axisFloat, apply: applyField(func(p *processing.Params, x any) { p.SChurn = ptr(x.(float64)) })},
	{Label: "Sigma min", typ: axisFloat, apply: applyField(func(p *processing.Params, x any) { p.STmin = ptr(x.(float64)) })},
	{Label: "Sigma max", typ: axisFloat, apply: applyField(func(p *processing.Params, x any) { p.STmax = ptr(x.(float64)) })},
	{Label: "Sigma noise", typ: axisFloat, apply: applyField(func(p *processing.Params, x any) { p.SNoise = ptr(x.(float64)) })},
	{Label: "Schedule type", typ: axisStr, apply: applyField(func(p *processing.Params, x any) { p.Scheduler = ptr(x.(string)) }), hasChoices: true},
	// 0 is "the model's own" for sigma_min, sigma_max and rho.
	{Label: "Schedule min sigma", typ: axisFloat, apply: applyOverride("sigma_min"), confirm: onlyNoop("Schedule min sigma", "the sigma_min option", floatIs(0))},
	{Label: "Schedule max sigma", typ: axisFloat, apply: applyOverride("sigma_max"), confirm: onlyNoop("Schedule max sigma", "the sigma_max option", floatIs(0))},
	{Label: "Schedule rho", typ: axisFloat, apply: applyOverride("rho"), confirm: onlyNoop("Schedule rho", "the rho option", floatIs(0))},
	{Label: "Beta schedule alpha", typ: axisFloat, apply: applyOverride("beta_dist_alpha"), confirm: onlyNoop("Beta schedule alpha", "the beta_dist_alpha option", floatIs(0.6))},
	{Label: "Beta schedule beta", typ: axisFloat, apply: applyOverride("beta_dist_beta"), confirm: onlyNoop("Beta schedule beta", "the beta_dist_beta option", floatIs(0.6))},
	{Label: "Eta", typ: axisFloat, apply: applyField(func(p *processing.Params, x any) { p.Eta = ptr(x.(float64)) })},
	{Label: "Clip skip", typ: axisInt, apply: applyOverride("CLIP_stop_at_last_layers")},
	{Label: "Denoising", typ: axisFloat, apply: applyField(func(p *processing.Params, x any) { p.DenoisingStrength = ptr(x.(float64)) })},
	{Label: "Initial noise multiplier", typ: axisFloat, apply: applyField(func(p *processing.Params, x any) { p.InitialNoiseMultiplier = ptr(x.(float64)) })},
	{Label: "Extra noise", typ: axisFloat, apply: applyOverride("img2img_extra_noise"), confirm: onlyNoop("Extra noise", "the img2img_extra_noise option", floatIs(0))},
	{Label: "Hires upscaler", typ: axisStr, mode: txt2imgOnly, apply: applyField(func(p *processing.Params, x any) { p.HRUpscaler = ptr(x.(string)) }), hasChoices: true},
	// inpainting_mask_weight conditions inpainting models only, at 1.0 here.
	{Label: "Cond. Image Mask Weight", typ: axisFloat, mode: img2imgOnly, apply: applyField(func(*processing.Params, any) {}), confirm: onlyNoop("Cond. Image Mask Weight", "inpainting_mask_weight", floatIs(1))},
	{Label: "VAE", typ: axisStr, applyEnv: applyVAE, hasChoices: true, cost: 0.7},
	{Label: "Styles", typ: axisStr, apply: applyField(func(p *processing.Params, x any) { p.Styles = append(p.Styles, strings.Split(x.(string), ",")...) }), hasChoices: true},
	{Label: "UniPC Order", typ: axisInt, apply: func(p *processing.Params, x any, _ []any) error {
		p.OverrideSettings = withOverride(p.OverrideSettings, "uni_pc_order", min(x.(int), p.Steps-1))
		return nil
	}, confirm: onlyNoop("UniPC Order", "the uni_pc_order option (UniPC runs at order 3)", func(x any) bool { return x.(int) == 3 }), cost: 0.5},
	{Label: "Face restore", typ: axisStr, apply: applyField(func(p *processing.Params, x any) {
		p.RestoreFaces = ptr(faceRestoreOn(x.(string)))
	}), confirm: onlyNoop("Face restore", "face restoration (no face-restoration model is installed)", func(x any) bool { return !faceRestoreOn(x.(string)) })},
	{Label: "Token merging ratio", typ: axisFloat, apply: applyOverride("token_merging_ratio"), confirm: onlyNoop("Token merging ratio", "token merging", floatIs(0))},
	{Label: "Token merging ratio high-res", typ: axisFloat, apply: applyOverride("token_merging_ratio_hr"), confirm: onlyNoop("Token merging ratio high-res", "token merging", floatIs(0))},
	{Label: "Always discard next-to-last sigma", typ: axisStr, apply: applyOverrideBool("always_discard_next_to_last_sigma"), hasChoices: true},
	{Label: "SGM noise multiplier", typ: axisStr, apply: applyOverrideBool("sgm_noise_multiplier"), confirm: onlyNoop("SGM noise multiplier", "the sgm_noise_multiplier option", func(x any) bool { return strings.ToLower(x.(string)) != "true" }), hasChoices: true},
	{Label: "Refiner checkpoint", typ: axisStr, apply: applyField(func(p *processing.Params, x any) { p.RefinerCheckpoint = ptr(x.(string)) }), confirm: confirmRefiners, hasChoices: true, cost: 1.0},
	{Label: "Refiner switch at", typ: axisFloat, apply: applyField(func(p *processing.Params, x any) { p.RefinerSwitchAt = ptr(x.(float64)) })},
	{Label: "RNG source", typ: axisStr, apply: applyOverride("randn_source"), hasChoices: true},
	{Label: "FP8 mode", typ: axisStr, apply: applyOverride("fp8_storage"), confirm: onlyNoop("FP8 mode", "FP8 weight storage", func(x any) bool { return x.(string) == "Disable" }), hasChoices: true, cost: 0.9},
	{Label: "Size", typ: axisStr, apply: applySize},
}

// Confirm is the end of process_axis: the axis's confirm over all its
// values, before any image is made.
func (a Axis) Confirm(env processing.ScriptEnv, xs []any) error {
	if a.confirm == nil {
		return nil
	}
	return a.confirm(env, xs)
}

// axesFor is current_axis_options: the axes shown in mode.
func axesFor(mode processing.Mode) []Axis {
	var out []Axis
	for _, a := range axisOptions {
		if a.mode == bothModes || (a.mode == img2imgOnly) == (mode == processing.Img2Img) {
			out = append(out, a)
		}
	}
	return out
}

func applyPromptSR(p *processing.Params, x any, xs []any) error {
	from, to := xs[0].(string), x.(string)
	if !strings.Contains(p.Prompt, from) && !strings.Contains(p.NegativePrompt, from) {
		return apierr.Invalid("", "Prompt S/R did not find %s in prompt or negative prompt", from)
	}
	p.Prompt = strings.ReplaceAll(p.Prompt, from, to)
	p.NegativePrompt = strings.ReplaceAll(p.NegativePrompt, from, to)
	return nil
}

// applyOrder is apply_order: the tokens of x, found in the prompt, are
// put back in x's order.
func applyOrder(p *processing.Params, x any, _ []any) error {
	tokens := x.([]string)
	type pos struct {
		at    int
		token string
	}
	order := make([]pos, len(tokens))
	for i, t := range tokens {
		order[i] = pos{strings.Index(p.Prompt, t), t}
	}
	for i := 1; i < len(order); i++ { // stable insertion sort, as list.sort
		for j := i; j > 0 && order[j].at < order[j-1].at; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	rest := p.Prompt
	var parts []string
	for _, o := range order {
		n := strings.Index(rest, o.token)
		if n < 0 { // Python's find returns -1: rest[0:-1]
			parts = append(parts, rest[:max(len(rest)-1, 0)])
			rest = rest[min(len(rest), max(n+len(o.token), 0)):]
			continue
		}
		parts = append(parts, rest[:n])
		rest = rest[n+len(o.token):]
	}
	var b strings.Builder
	for i, part := range parts {
		b.WriteString(part)
		b.WriteString(tokens[i])
	}
	p.Prompt = b.String() + rest
	return nil
}

// applyVAE is apply_vae with find_vae: "auto"/"automatic" and "none"
// (any case), else the installed VAE of that name ignoring case, else
// "Automatic" (A1111 prints "No VAE found").
func applyVAE(env processing.ScriptEnv, p *processing.Params, x any) error {
	name := strings.ToLower(strings.TrimSpace(x.(string)))
	vae := "Automatic"
	switch name {
	case "auto", "automatic":
	case "none":
		vae = "None"
	default:
		for _, k := range env.VAENames() {
			if strings.ToLower(k) == name {
				vae = k
				break
			}
		}
	}
	p.OverrideSettings = withOverride(p.OverrideSettings, "sd_vae", vae)
	return nil
}

// applyTo applies value x of the axis to p.
func (a Axis) applyTo(env processing.ScriptEnv, p *processing.Params, x any, xs []any) error {
	if a.applyEnv != nil {
		return a.applyEnv(env, p, x)
	}
	return a.apply(p, x, xs)
}

func applySize(p *processing.Params, x any, _ []any) error {
	w, h, _ := strings.Cut(x.(string), "x")
	wi, err1 := strconv.Atoi(strings.TrimSpace(w))
	hi, err2 := strconv.Atoi(strings.TrimSpace(h))
	if err1 != nil || err2 != nil {
		return nil // A1111 prints "Invalid size in XYZ plot" and goes on
	}
	p.Width, p.Height = wi, hi
	return nil
}

// A1111's range syntaxes: "1-5", "1-10 (+2)" and "1-10 [5]".
var (
	reRange           = regexp.MustCompile(`^\s*([+-]?\s*\d+)\s*-\s*([+-]?\s*\d+)(?:\s*\(([+-]\d+)\s*\))?\s*$`)
	reRangeFloat      = regexp.MustCompile(`^\s*([+-]?\s*\d+(?:.\d*)?)\s*-\s*([+-]?\s*\d+(?:.\d*)?)(?:\s*\(([+-]\d+(?:.\d*)?)\s*\))?\s*$`)
	reRangeCount      = regexp.MustCompile(`^\s*([+-]?\s*\d+)\s*-\s*([+-]?\s*\d+)(?:\s*\[(\d+)\s*])?\s*$`)
	reRangeCountFloat = regexp.MustCompile(`^\s*([+-]?\s*\d+(?:.\d*)?)\s*-\s*([+-]?\s*\d+(?:.\d*)?)(?:\s*\[(\d+(?:.\d*)?)\s*])?\s*$`)
)

func pyInt(s string) (int, error) {
	return strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
}

func pyFloat(s string) (float64, error) {
	return processing.ParseFinite(strings.ReplaceAll(s, " ", ""))
}

// linspace is numpy.linspace(start, stop, num).
func linspace(start, stop float64, num int) []float64 {
	if num <= 0 {
		return nil
	}
	if num == 1 {
		return []float64{start}
	}
	out := make([]float64, num)
	step := (stop - start) / float64(num-1)
	for i := range out {
		out[i] = start + float64(i)*step
	}
	out[num-1] = stop
	return out
}

// csvList is csv_string_to_list_strip: every field of every row of
// Python's csv.reader (default dialect: a quote opens a quoted field only
// as its first character, "" is a quote inside one), stripped.
func csvList(s string) ([]string, error) {
	var out []string
	var field strings.Builder
	const (
		startField = iota
		inField
		inQuoted
		quoteInQuoted
	)
	state := startField
	rowEmpty := true
	endField := func() {
		out = append(out, strings.TrimSpace(field.String()))
		field.Reset()
	}
	for _, c := range s {
		switch state {
		case startField, inField:
			switch {
			case c == '"' && state == startField:
				state, rowEmpty = inQuoted, false
			case c == ',':
				endField()
				state, rowEmpty = startField, false
			case c == '\n' || c == '\r':
				if !rowEmpty || state == inField {
					endField()
				}
				state, rowEmpty = startField, true
			default:
				field.WriteRune(c)
				state, rowEmpty = inField, false
			}
		case inQuoted:
			if c == '"' {
				state = quoteInQuoted
			} else {
				field.WriteRune(c)
			}
		case quoteInQuoted:
			switch c {
			case '"':
				field.WriteRune(c)
				state = inQuoted
			case ',':
				endField()
				state = startField
			case '\n', '\r':
				endField()
				state, rowEmpty = startField, true
			default:
				field.WriteRune(c)
				state = inField
			}
		}
	}
	switch {
	case state == inQuoted:
		return nil, apierr.Invalid("", "X/Y/Z values %q: unexpected end of data", s)
	case !rowEmpty:
		endField()
	}
	return out, nil
}

// AxisValues is process_axis without its confirm (see Confirm): the values
// of an axis from its text (or, for axes with choices when csvMode is
// false, from the dropdown list), with int and float ranges expanded and
// every value converted to the axis type (int, float64, string, or
// []string for Prompt order).
func AxisValues(a Axis, text string, dropdown []string, csvMode bool) ([]any, error) {
	if a.Label == "Nothing" {
		return []any{0}, nil
	}
	var list []string
	if a.hasChoices && !csvMode {
		list = dropdown
	} else {
		var err error
		if list, err = csvList(text); err != nil {
			return nil, err
		}
	}
	var out []any
	switch a.typ {
	case axisInt:
		for _, v := range list {
			if m := reRange.FindStringSubmatch(v); m != nil {
				start, end, step, err := rangeArgs(m, 1, pyInt)
				if err != nil {
					return nil, apierr.Invalid("", "%s value %q: %w", a.Label, v, err)
				}
				if step == 0 {
					return nil, apierr.Invalid("", "%s value %q: zero step", a.Label, v)
				}
				for x := start; (step > 0 && x < end+1) || (step < 0 && x > end+1); x += step {
					out = append(out, x)
				}
			} else if m := reRangeCount.FindStringSubmatch(v); m != nil {
				start, end, num, err := rangeArgs(m, 1, pyInt)
				if err != nil {
					return nil, apierr.Invalid("", "%s value %q: %w", a.Label, v, err)
				}
				for _, f := range linspace(float64(start), float64(end), num) {
					out = append(out, int(f))
				}
			} else {
				x, err := pyInt(v)
				if err != nil {
					return nil, apierr.Invalid("", "%s value %q is not an integer", a.Label, v)
				}
				out = append(out, x)
			}
		}
	case axisFloat:
		for _, v := range list {
			if m := reRangeFloat.FindStringSubmatch(v); m != nil {
				start, end, step, err := rangeArgs(m, 1.0, pyFloat)
				if err != nil {
					return nil, apierr.Invalid("", "%s value %q: %w", a.Label, v, err)
				}
				if step == 0 {
					return nil, apierr.Invalid("", "%s value %q: zero step", a.Label, v)
				}
				// numpy.arange(start, end + step, step)
				n := int(math.Ceil((end + step - start) / step))
				for i := range max(n, 0) {
					out = append(out, start+float64(i)*step)
				}
			} else if m := reRangeCountFloat.FindStringSubmatch(v); m != nil {
				start, err1 := pyFloat(m[1])
				end, err2 := pyFloat(m[2])
				num := 1
				var err3 error
				if m[3] != "" {
					num, err3 = pyInt(m[3])
				}
				if err := firstErr(err1, err2, err3); err != nil {
					return nil, apierr.Invalid("", "%s value %q: %w", a.Label, v, err)
				}
				for _, f := range linspace(start, end, num) {
					out = append(out, f)
				}
			} else {
				x, err := pyFloat(v)
				if err != nil {
					return nil, apierr.Invalid("", "%s value %q is not a number", a.Label, v)
				}
				out = append(out, x)
			}
		}
	case axisPermutations:
		if len(list) > 8 {
			return nil, apierr.Invalid("", "%s: %d tokens make too many permutations", a.Label, len(list))
		}
		for _, perm := range permutations(list) {
			out = append(out, perm)
		}
	default:
		for _, v := range list {
			out = append(out, v)
		}
	}
	return out, nil
}

// rangeArgs parses a range match: start m[1], end m[2] and the optional
// step or count m[3] (def when absent), as xyz_grid reads them.
func rangeArgs[T int | float64](m []string, def T, parse func(string) (T, error)) (start, end, third T, err error) {
	start, err1 := parse(m[1])
	end, err2 := parse(m[2])
	third = def
	var err3 error
	if m[3] != "" {
		third, err3 = parse(m[3])
	}
	return start, end, third, firstErr(err1, err2, err3)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// permutations is itertools.permutations(xs) in its order.
func permutations(xs []string) [][]string {
	var out [][]string
	idx := make([]int, len(xs))
	used := make([]bool, len(xs))
	var rec func(k int)
	rec = func(k int) {
		if k == len(xs) {
			perm := make([]string, len(xs))
			for i, j := range idx {
				perm[i] = xs[j]
			}
			out = append(out, perm)
			return
		}
		for j := range xs {
			if !used[j] {
				used[j] = true
				idx[k] = j
				rec(k + 1)
				used[j] = false
			}
		}
	}
	rec(0)
	return out
}

// Axes returns the axis types shown in mode, in x_type index order.
func Axes(mode processing.Mode) []Axis { return axesFor(mode) }
