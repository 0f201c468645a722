package processing

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// Limits bound what one job may ask of the runner, so that a request the
// machine cannot serve is refused up front with a clear error instead of
// exhausting memory halfway through sampling. A1111 has no such limits;
// they are the server's own. A zero field means no limit.
type Limits struct {
	// MaxPixels bounds width×height of the images of every sampling pass:
	// the first pass and the hires fix's target. Memory grows with the
	// square of an image's size (its UNet attention maps); a batch runs in
	// sub-batches that fit, so batch_size does not count.
	MaxPixels int64
	// MaxPixelsFlag names the setting that raises MaxPixels, for the
	// messages ("--max-pixels"); "" names none.
	MaxPixelsFlag string
	// MaxSteps bounds steps and hr_second_pass_steps.
	MaxSteps int
	// MaxPromptChars bounds each prompt (prompt, negative_prompt,
	// hr_prompt, hr_negative_prompt and each entry of a prompt list), in
	// Unicode code points as Python's len counts them.
	MaxPromptChars int
	// MaxImages bounds the images one request makes: batch_size×n_iter of
	// a job, and the sum over every job a script runs (prompt matrix and
	// x/y/z plot multiply them). Every image is held, raw and encoded,
	// until the response is written.
	MaxImages int
}

// LimitKind says what a LimitError measured, so the server can word it as
// pydantic words the matching constraint.
type LimitKind int

const (
	// LimitValue is a number over its maximum (steps, pixels).
	LimitValue LimitKind = iota
	// LimitLength is a string over its maximum length in characters.
	LimitLength
	// LimitItems is a list with more items than allowed.
	LimitItems
	// LimitMin is a number under its minimum (LimitError.Min).
	LimitMin
)

// LimitError is a request over one of the server's limits. Its kind is
// apierr.KindInvalid: for a client it is an invalid request like any
// other, which it can fix by asking for less; it carries the limit for
// the 422's ctx.
type LimitError struct {
	// Loc is the request field at fault as the API names it ({"steps"},
	// {"init_images", 2}); nil when several fields together exceed it
	// (width×height).
	Loc   []any
	Kind  LimitKind
	Limit int64
	// Min is the smallest value allowed, for LimitMin.
	Min float64
	// Msg says what was measured and against which limit, naming the
	// fields.
	Msg string
}

func (e *LimitError) Error() string { return e.Msg }

// Unwrap gives the kind: errors.Is(err, ErrInvalid) holds.
func (e *LimitError) Unwrap() error { return ErrInvalid }

// Check reports the first limit p exceeds, as a *LimitError, or nil. It
// looks at the request's own fields only, so it is cheap: Prepare runs it
// before any image is decoded or the job is queued, and the jobs of a
// script that rewrites Params (X/Y/Z plot's Size and Steps axes) are
// checked on every Process they call.
func (l Limits) Check(p Params) error {
	if err := l.checkPrompts(p); err != nil {
		return err
	}
	if err := l.checkImages(p, 0); err != nil {
		return err
	}
	if l.MaxSteps > 0 {
		if p.Steps > l.MaxSteps {
			return stepsError("steps", p.Steps, l.MaxSteps)
		}
		if p.Mode == Txt2Img && p.EnableHR && p.HRSecondPassSteps > l.MaxSteps {
			return stepsError("hr_second_pass_steps", p.HRSecondPassSteps, l.MaxSteps)
		}
		if p.Mode == Txt2Img && p.EnableHR && p.DenoisingStrength != nil {
			steps := p.Steps
			if p.HRSecondPassSteps != 0 {
				steps = p.HRSecondPassSteps
			}
			if err := l.CheckExactSteps("denoising_strength", steps, *p.DenoisingStrength); err != nil {
				return err
			}
		}
	}
	if l.MaxPixels <= 0 {
		return nil
	}
	if err := l.checkPass("width×height", nil, float64(p.Width), float64(p.Height)); err != nil {
		return err
	}
	if p.Mode != Txt2Img {
		return nil
	}
	if p.FirstphaseWidth != 0 || p.FirstphaseHeight != 0 {
		// Legacy firstphase_width/height replace the first pass's size
		// (StableDiffusionProcessingTxt2Img.__post_init__).
		if err := l.checkPass("firstphase_width×firstphase_height", nil, float64(p.FirstphaseWidth), float64(p.FirstphaseHeight)); err != nil {
			return err
		}
	}
	if p.EnableHR {
		x, y, loc := hiresTarget(p)
		what := fmt.Sprintf("the hires fix target (%s) width×height", loc[0])
		if err := l.checkPass(what, loc, x, y); err != nil {
			return err
		}
	}
	return nil
}

// exactScheduleFactor bounds an exact-steps pass's schedule as a multiple
// of MaxSteps.
const exactScheduleFactor = 100

// CheckExactSteps refuses an exact-steps pass (the hires fix's second pass,
// img2img with img2img_fix_steps) whose denoising strength is so small
// that its schedule would not fit: A1111's setup_img2img_steps builds a
// schedule of steps/min(strength, 0.999) entries to sample its last steps
// ones, so a strength of 1e-9 asks for billions of sigmas before the first
// UNet call. The schedule is bounded by 100×MaxSteps; field names the
// strength's field. A strength of 0 or less runs no step and is let
// through.
func (l Limits) CheckExactSteps(field string, steps int, strength float64) error {
	if l.MaxSteps <= 0 || !(strength > 0) {
		return nil
	}
	limit := float64(exactScheduleFactor * l.MaxSteps)
	// Truncated as A1111's int() and the runner truncate it, so that the
	// least strength the message names passes.
	if total := math.Floor(float64(steps) / math.Min(strength, 0.999)); total <= limit {
		return nil
	}
	least := float64(steps) / limit
	return &LimitError{Loc: []any{field}, Kind: LimitMin, Limit: int64(limit), Min: least,
		Msg: fmt.Sprintf("%s %g with exact steps needs a schedule of %d/%g steps, over this server's limit of %d (%d×the steps limit); use at least %g",
			field, strength, steps, strength, int64(limit), exactScheduleFactor, least)}
}

// MaxUpscaleFactor bounds an upscale outside sampling (extras, SD
// upscale): its result may have at most MaxUpscaleFactor² × MaxPixels
// pixels, an input at the limit upscaled 4× per side (the largest
// built-in ESRGAN factor).
const MaxUpscaleFactor = 4

// CheckUpscale refuses an upscale of a w×h image by scale whose result
// would have more than MaxUpscaleFactor² × MaxPixels pixels, before any
// pixel is allocated. loc is the field that sets scale and by says how in
// the message ("upscaling_resize 8"). A scale that is not a positive
// number cannot be measured against a limit; it is the upscaler's own
// error to report, and it is let through.
func (l Limits) CheckUpscale(loc []any, by string, w, h int, scale float64) error {
	if l.MaxPixels <= 0 {
		return nil
	}
	limit := float64(l.MaxPixels) * MaxUpscaleFactor * MaxUpscaleFactor
	px := float64(w) * float64(h) * scale * scale
	if px <= limit || !(scale > 0) {
		return nil
	}
	return &LimitError{Loc: loc, Kind: LimitValue, Limit: int64(limit),
		Msg: fmt.Sprintf("%s upscales a %d×%d image by %g to %.0f pixels, over this server's limit of %d pixels (%d× the per-image limit)%s",
			by, w, h, scale, px, int64(limit), MaxUpscaleFactor*MaxUpscaleFactor, l.RaisePixels())}
}

// CheckImages refuses n images made outside a job's own batch_size×n_iter
// (SD upscale's tiles, counted before they are cut), over MaxImages. loc
// is the field that makes them many.
func (l Limits) CheckImages(loc []any, what string, n float64) error {
	if l.MaxImages <= 0 || n <= float64(l.MaxImages) {
		return nil
	}
	return &LimitError{Loc: loc, Kind: LimitValue, Limit: int64(l.MaxImages),
		Msg: fmt.Sprintf("%s make %s images, over this server's limit of %d per request", what, num(n), l.MaxImages)}
}

// checkImages refuses a job whose batch_size×n_iter images, after made
// images of earlier jobs of the same request, would pass MaxImages.
func (l Limits) checkImages(p Params, made int) error {
	if l.MaxImages <= 0 {
		return nil
	}
	n := float64(max(p.BatchSize, 1)) * float64(max(p.NIter, 1))
	if float64(made)+n <= float64(l.MaxImages) {
		return nil
	}
	msg := fmt.Sprintf("batch_size×n_iter is %.0f images, over this server's limit of %d per request", n, l.MaxImages)
	if made > 0 {
		msg = fmt.Sprintf("the script's jobs make %.0f images, over this server's limit of %d per request", float64(made)+n, l.MaxImages)
	}
	return &LimitError{Kind: LimitValue, Limit: int64(l.MaxImages), Msg: msg}
}

func (l Limits) checkPrompts(p Params) error {
	if l.MaxPromptChars <= 0 {
		return nil
	}
	check := func(loc []any, s string) error {
		// Cheap test first: a string of at most MaxPromptChars bytes
		// cannot have more code points.
		if len(s) <= l.MaxPromptChars {
			return nil
		}
		if n := utf8.RuneCountInString(s); n > l.MaxPromptChars {
			return &LimitError{Loc: loc, Kind: LimitLength, Limit: int64(l.MaxPromptChars),
				Msg: fmt.Sprintf("%s has %d characters, over this server's limit of %d", LocName(loc), n, l.MaxPromptChars)}
		}
		return nil
	}
	fields := []struct {
		name  string
		value string
		list  []string
	}{
		{"prompt", p.Prompt, p.Prompts},
		{"negative_prompt", p.NegativePrompt, p.NegativePrompts},
		{"hr_prompt", p.HRPrompt, nil},
		{"hr_negative_prompt", p.HRNegativePrompt, nil},
	}
	for _, f := range fields {
		if err := check([]any{f.name}, f.value); err != nil {
			return err
		}
		for i, s := range f.list {
			if err := check([]any{f.name, i}, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkPass checks one pass of x×y pixels per image. It works in float64
// with absolute values: sizes come from client JSON and hr_scale, so they
// may be huge, negative or not finite, and a NaN must fail the test, not
// pass it. Nonsense sizes that fit (0, negative) are left to the runner's
// own checks.
func (l Limits) checkPass(what string, loc []any, x, y float64) error {
	px := math.Abs(x) * math.Abs(y)
	if px <= float64(l.MaxPixels) {
		return nil
	}
	return &LimitError{Loc: loc, Kind: LimitValue, Limit: l.MaxPixels,
		Msg: fmt.Sprintf("%s is %s×%s = %s pixels, over this server's limit of %d pixels per image%s",
			what, num(x), num(y), num(px), l.MaxPixels, l.RaisePixels())}
}

// RaisePixels is the end of a pixel limit's message that says how to
// raise it: "; raise it with --max-pixels".
func (l Limits) RaisePixels() string {
	if l.MaxPixelsFlag == "" {
		return ""
	}
	return "; raise it with " + l.MaxPixelsFlag
}

// hiresTarget is the hires fix's target size as planHires computes it
// (calculate_target_resolution), before flooring to the latent grid, and
// the field that sets it.
func hiresTarget(p Params) (x, y float64, loc []any) {
	w, h := float64(p.Width), float64(p.Height)
	if p.FirstphaseWidth != 0 || p.FirstphaseHeight != 0 {
		w, h = float64(p.FirstphaseWidth), float64(p.FirstphaseHeight)
	}
	rx, ry := float64(p.HRResizeX), float64(p.HRResizeY)
	switch {
	case rx == 0 && ry == 0:
		return w * p.HRScale, h * p.HRScale, []any{"hr_scale"}
	case w <= 0 || h <= 0:
		// No aspect ratio to keep: the runner refuses the first pass.
		return rx, ry, []any{"hr_resize_x"}
	case ry == 0:
		return rx, rx * h / w, []any{"hr_resize_x"}
	case rx == 0:
		return ry * w / h, ry, []any{"hr_resize_y"}
	case w/h < rx/ry:
		return rx, rx * h / w, []any{"hr_resize_x"}
	default:
		return ry * w / h, ry, []any{"hr_resize_y"}
	}
}

func stepsError(field string, v, limit int) *LimitError {
	return &LimitError{Loc: []any{field}, Kind: LimitValue, Limit: int64(limit),
		Msg: fmt.Sprintf("%s is %d, over this server's limit of %d", field, v, limit)}
}

// LocName writes a request field's loc as the client wrote the field:
// prompt, prompt[2], imageList[1].data.
func LocName(loc []any) string {
	s := ""
	for i, p := range loc {
		switch p := p.(type) {
		case int:
			s += fmt.Sprintf("[%d]", p)
		default:
			if i > 0 {
				s += "."
			}
			s += fmt.Sprint(p)
		}
	}
	return s
}

// num writes a measured value without exponents where it is an integer.
func num(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e18 {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%g", f)
}
