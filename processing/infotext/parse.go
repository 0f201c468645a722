// Package infotext reads and writes A1111's "generation parameters" text
// (the infotext): the prompt, an optional "Negative prompt:" section and a
// last line of "Key: value" pairs. It mirrors parse_generation_parameters,
// quote, unquote (modules/infotext_utils.py) and create_infotext
// (modules/processing.py) of AUTOMATIC1111 stable-diffusion-webui v1.10.
//
// The options parse_generation_parameters reads (infotext_styles with the
// prompt styles, infotext_skip_pasting) come in ParseOptions. Left out on
// purpose: the NovelAI conversion (done by images.read_info_from_image,
// not here) and use_old_hires_fix_width_height (off by default).
package infotext

import (
	"math"
	"regexp"
	"strings"
	"unicode"

	"github.com/sdapi/sdapi/processing/styles"
	"github.com/sdapi/sdapi/runner/clip"
)

// Python's re treats \s and \w as Unicode classes for str patterns; RE2's
// are ASCII-only, so both are spelled out. pyWS is str.isspace(); pyWord is
// str.isalnum() or '_' (approximated by the L and N categories).
const (
	pyWS   = `\t\n\v\f\r\x{1c}-\x{1f} \x{85}\p{Z}`
	pyWord = `\p{L}\p{N}_`
)

var (
	// reParam is re_param_code:
	//   \s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)
	// RE2's leftmost-first matching picks the same submatches as Python's
	// backtracking engine for this pattern, and it can never match empty, so
	// FindAll and re.findall agree.
	reParam = regexp.MustCompile(`[` + pyWS + `]*([` + pyWord + `][` + pyWord + ` \-/]+):[` + pyWS + `]*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)`)

	// reImageSize is ^(\d+)x(\d+)$; Python's $ also matches before one
	// trailing newline, hence \n?.
	reImageSize = regexp.MustCompile(`^(\p{Nd}+)x(\p{Nd}+)\n?$`)
)

// ParseOptions are the A1111 options and state parse_generation_parameters
// depends on. The zero value is A1111's defaults with no styles defined.
type ParseOptions struct {
	// InfotextStyles is opts.infotext_styles: "Ignore", "Apply", "Discard"
	// or "Apply if any" (the default, also used for "").
	InfotextStyles string
	// Styles are shared.prompt_styles, in styles.csv order.
	Styles []styles.Style
	// SkipFields is opts.infotext_skip_pasting: keys removed at the end.
	SkipFields []string
}

// Parse implements A1111's parse_generation_parameters with default options
// and no prompt styles. It never fails: text that has no parameters line is
// all prompt.
func Parse(text string) Params { return ParseWith(text, ParseOptions{}) }

// ParseWith implements A1111 1.10's parse_generation_parameters with the
// given options.
func ParseWith(text string, o ParseOptions) Params {
	var res Params

	lines := strings.Split(pyStrip(text), "\n")
	last := lines[len(lines)-1]
	lines = lines[:len(lines)-1]
	if len(reParam.FindAllStringSubmatch(last, -1)) < 3 {
		lines = append(lines, last)
		last = ""
	}

	var prompt, negative string
	doneWithPrompt := false
	for _, line := range lines {
		line = pyStrip(line)
		if strings.HasPrefix(line, "Negative prompt:") {
			doneWithPrompt = true
			line = pyStrip(line[len("Negative prompt:"):])
		}
		if doneWithPrompt {
			negative = joinLine(negative, line)
		} else {
			prompt = joinLine(prompt, line)
		}
	}
	for _, m := range reParam.FindAllStringSubmatch(last, -1) {
		k, v := m[1], m[2]
		if v == "" {
			// A1111 indexes v[0] inside try/except and so drops the key.
			continue
		}
		if v[0] == '"' && v[len(v)-1] == '"' {
			v = Unquote(v)
		}
		if sz := reImageSize.FindStringSubmatch(v); sz != nil {
			res.Set(k+"-1", sz[1])
			res.Set(k+"-2", sz[2])
		} else {
			res.Set(k, v)
		}
	}

	// As in 1.10, the prompts are stored after the parameters (so a
	// "Prompt" key on the last line keeps its place but not its value),
	// once styles are taken out of them.
	prompt, negative = extractInfotextStyles(&res, prompt, negative, o)
	res.Set("Prompt", prompt)
	res.Set("Negative prompt", negative)

	fillDefaults(&res)
	if !res.Has("Emphasis") && usesEmphasis(prompt, negative) {
		res.Set("Emphasis", "Original")
	}
	res.setDefault("Refiner switch by sampling steps", false)
	backcompat(&res)
	for _, k := range o.SkipFields {
		res.Delete(k)
	}
	return res
}

// usesEmphasis is A1111's prompt_uses_emphasis: some run of either prompt,
// other than BREAK, has a weight other than 1. A prompt A1111's parser
// fails on (an unparsable weight) counts as none here; A1111 raises.
func usesEmphasis(prompts ...string) bool {
	for _, p := range prompts {
		runs, err := clip.ParseAttention(p)
		if err != nil {
			continue
		}
		for _, r := range runs {
			if r.Weight != 1 && r.Text != "BREAK" {
				return true
			}
		}
	}
	return false
}

// joinLine appends line to acc with "\n", as A1111 does for multi-line prompts.
func joinLine(acc, line string) string {
	if acc == "" {
		return line
	}
	return acc + "\n" + line
}

// fillDefaults adds what A1111 assumes for missing keys, in A1111's order.
// The int values (0, 32) are ints in A1111 too and reach clients as JSON numbers.
func fillDefaults(res *Params) {
	// Missing Clip skip means it was set to 1.
	res.setDefault("Clip skip", "1")

	if hn, ok := res.Get("Hypernet"); ok {
		strength, ok := res.Get("Hypernet strength")
		if !ok {
			strength = "1.0"
		}
		res.Set("Prompt", res.String("Prompt")+"<hypernet:"+pyStr(hn)+":"+pyStr(strength)+">")
	}

	if !res.Has("Hires resize-1") {
		res.Set("Hires resize-1", 0)
		res.Set("Hires resize-2", 0)
	}
	res.setDefault("Hires sampler", "Use same sampler")
	res.setDefault("Hires schedule type", "Use same scheduler")
	res.setDefault("Hires checkpoint", "Use same checkpoint")
	res.setDefault("Hires prompt", "")
	res.setDefault("Hires negative prompt", "")
	res.setDefault("Mask mode", "Inpaint masked")
	res.setDefault("Masked content", "original")
	res.setDefault("Inpaint area", "Whole picture")
	res.setDefault("Masked area padding", 32)

	restoreOldHiresFixParams(res)

	// Missing RNG means the default, GPU.
	res.setDefault("RNG", "GPU")
	res.setDefault("Schedule type", "Automatic")
	res.setDefault("Schedule max sigma", 0)
	res.setDefault("Schedule min sigma", 0)
	res.setDefault("Schedule rho", 0)
	res.setDefault("VAE Encoder", "Full")
	res.setDefault("VAE Decoder", "Full")
	res.setDefault("FP8 weight", "Disable")
	if fp8, _ := res.Get("FP8 weight"); !res.Has("Cache FP16 weight for LoRA") && fp8 != "Disable" {
		res.Set("Cache FP16 weight for LoRA", false)
	}
}

// restoreOldHiresFixParams mirrors restore_old_hires_fix_params with
// use_old_hires_fix_width_height off: an infotext with "First pass size"
// becomes Size = first pass and Hires resize = the old Size, as ints.
// Where A1111 would raise (int() of a non-number, a zero Size), the
// params are left as they are.
func restoreOldHiresFixParams(res *Params) {
	fwv, ok1 := res.Get("First pass size-1")
	fhv, ok2 := res.Get("First pass size-2")
	if !ok1 || !ok2 {
		return
	}
	fw, ok1 := pyInt(fwv)
	fh, ok2 := pyInt(fhv)
	width, ok3 := pyIntDefault(res, "Size-1", 512)
	height, ok4 := pyIntDefault(res, "Size-2", 512)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return
	}
	if fw == 0 || fh == 0 {
		if width*height == 0 {
			return
		}
		fw, fh = oldHiresFixFirstPassDimensions(width, height)
	}
	res.Set("Size-1", fw)
	res.Set("Size-2", fh)
	res.Set("Hires resize-1", width)
	res.Set("Hires resize-2", height)
}

// oldHiresFixFirstPassDimensions is processing.old_hires_fix_first_pass_dimensions.
func oldHiresFixFirstPassDimensions(width, height int) (int, int) {
	scale := math.Sqrt(float64(512*512) / float64(width*height))
	w := int(math.Ceil(scale*float64(width)/64)) * 64
	h := int(math.Ceil(scale*float64(height)/64)) * 64
	return w, h
}

func pyIntDefault(res *Params, key string, def int) (int, bool) {
	v, ok := res.Get(key)
	if !ok {
		return def, true
	}
	return pyInt(v)
}

// pyInt mirrors Python's int() for the values Parse produces: ints pass
// through; strings may carry surrounding whitespace, a sign, Unicode decimal
// digits and single underscores between digits.
func pyInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case string:
		s := pyStrip(x)
		neg := false
		if s != "" && (s[0] == '+' || s[0] == '-') {
			neg = s[0] == '-'
			s = s[1:]
		}
		if s == "" || strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") || strings.Contains(s, "__") {
			return 0, false
		}
		n := 0
		for _, r := range s {
			if r == '_' {
				continue
			}
			d, ok := decimalValue(r)
			if !ok || n > (math.MaxInt-9)/10 {
				return 0, false
			}
			n = n*10 + d
		}
		if neg {
			n = -n
		}
		return n, true
	}
	return 0, false
}

// decimalValue returns the value of a Unicode Nd digit. Nd digits come in
// runs of ten starting at zero, so the value is the distance to the run start mod 10.
func decimalValue(r rune) (int, bool) {
	if r >= '0' && r <= '9' {
		return int(r - '0'), true
	}
	if !unicode.Is(unicode.Nd, r) {
		return 0, false
	}
	start := r
	for unicode.Is(unicode.Nd, start-1) {
		start--
	}
	return int(r-start) % 10, true
}

// pyIsSpace is Python's str.isspace for one rune.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// pyStrip is Python's str.strip() with no arguments.
func pyStrip(s string) string {
	return strings.TrimFunc(s, pyIsSpace)
}
