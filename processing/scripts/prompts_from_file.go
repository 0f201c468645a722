package scripts

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strconv"
	"strings"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/runner/sampling"
)

// PromptsFromFile is A1111's scripts/prompts_from_file.py ("Prompts from
// file or textbox"): one job per non-empty line of prompt_txt. A line
// containing "--" is parsed as command-line options (--prompt "...",
// --steps 10, ...; see LineArgs); a line that fails to parse, or has no
// "--", is a prompt, which is joined to the request's prompt at
// prompt_position ("start" or "end").
type PromptsFromFile struct{}

var _ processing.SelectableScript = PromptsFromFile{}

// Title implements processing.Script.
func (PromptsFromFile) Title() string { return "Prompts from file or textbox" }

// Show implements processing.Script: both modes.
func (PromptsFromFile) Show(processing.Mode) bool { return true }

// AlwaysOn implements processing.Script.
func (PromptsFromFile) AlwaysOn() bool { return false }

// Args implements processing.Script.
func (PromptsFromFile) Args(processing.Mode) []processing.ArgInfo {
	return []processing.ArgInfo{
		checkbox("Iterate seed every line", false),
		checkbox("Use same random seed for all lines", false),
		radio("Insert prompts at the", "start", "start", "end"),
		textbox("List of prompt inputs"),
	}
}

// LineArgs are the options of one line, as A1111's cmdargs returns them:
// only the keys the line set are present. Values are string, int, float64
// or bool according to the tag (prompt_tags).
type LineArgs map[string]any

// lineTag is the conversion of one of A1111's prompt_tags.
type lineTag func(string) (any, error)

func tagString(s string) (any, error) { return s, nil }
func tagInt(s string) (any, error) {
	v, err := strconv.Atoi(strings.TrimSpace(s))
	return v, err
}
func tagFloat(s string) (any, error) {
	return processing.ParseFinite(s)
}
func tagBool(s string) (any, error) { return s == "true", nil }

// promptTags is A1111's prompt_tags.
var promptTags = map[string]lineTag{
	"sd_model":            tagString,
	"outpath_samples":     tagString,
	"outpath_grids":       tagString,
	"prompt_for_display":  tagString,
	"prompt":              tagString,
	"negative_prompt":     tagString,
	"styles":              tagString,
	"seed":                tagInt,
	"subseed_strength":    tagFloat,
	"subseed":             tagInt,
	"seed_resize_from_h":  tagInt,
	"seed_resize_from_w":  tagInt,
	"sampler_index":       tagInt,
	"sampler_name":        tagString,
	"scheduler":           tagString,
	"batch_size":          tagInt,
	"n_iter":              tagInt,
	"steps":               tagInt,
	"cfg_scale":           tagFloat,
	"width":               tagInt,
	"height":              tagInt,
	"restore_faces":       tagBool,
	"tiling":              tagBool,
	"do_not_save_samples": tagBool,
	"do_not_save_grid":    tagBool,
}

// ParseLine is A1111's cmdargs: the line is split as shlex.split does,
// every option starts with "--" and takes one value, except --prompt and
// --negative_prompt, which take every word up to the next "--" option
// joined with spaces. --sampler_name is resolved by name or alias, case
// insensitively (None when unknown, as samplers_map.get).
func ParseLine(line string) (LineArgs, error) {
	words, err := shlexSplit(line)
	if err != nil {
		return nil, err
	}
	res := LineArgs{}
	for pos := 0; pos < len(words); {
		arg := words[pos]
		if !strings.HasPrefix(arg, "--") {
			return nil, fmt.Errorf("must start with \"--\": %s", arg)
		}
		if pos+1 >= len(words) {
			return nil, fmt.Errorf("missing argument for command line option %s", arg)
		}
		tag := arg[2:]
		if tag == "prompt" || tag == "negative_prompt" {
			pos++
			prompt := words[pos]
			pos++
			for pos < len(words) && !strings.HasPrefix(words[pos], "--") {
				prompt += " " + words[pos]
				pos++
			}
			res[tag] = prompt
			continue
		}
		conv, ok := promptTags[tag]
		if !ok {
			return nil, fmt.Errorf("unknown commandline option: %s", arg)
		}
		val := words[pos+1]
		if tag == "sampler_name" {
			if sm, ok := sampling.LookupSampler(val); ok {
				res[tag] = sm.Name
			} else {
				res[tag] = nil
			}
			pos += 2
			continue
		}
		v, err := conv(val)
		if err != nil {
			return nil, fmt.Errorf("option %s: %w", arg, err)
		}
		res[tag] = v
		pos += 2
	}
	return res, nil
}

// errNoClosingQuotation is shlex's "No closing quotation".
var errNoClosingQuotation = errors.New("no closing quotation")

// shlexSplit is Python's shlex.split(s) (POSIX mode, no comments).
func shlexSplit(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\\':
			inWord = true
			if i+1 >= len(rs) {
				return nil, errors.New("no escaped character")
			}
			i++
			cur.WriteRune(rs[i])
		case c == '\'':
			inWord = true
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				cur.WriteRune(rs[j])
				j++
			}
			if j >= len(rs) {
				return nil, errNoClosingQuotation
			}
			i = j
		case c == '"':
			inWord = true
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				if rs[j] == '\\' && j+1 < len(rs) && (rs[j+1] == '"' || rs[j+1] == '\\') {
					j++
				}
				cur.WriteRune(rs[j])
			}
			if j >= len(rs) {
				return nil, errNoClosingQuotation
			}
			i = j
		default:
			inWord = true
			cur.WriteRune(c)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// apply sets the line's options on p, as setattr(copy_p, k, v) does.
// sd_model becomes an sd_model_checkpoint override; sampler_index,
// prompt_for_display and the output paths are accepted and have no effect
// (the API ignores sampler_index when sampler_name is set, and paths stay
// inside the server's output directory).
func (a LineArgs) apply(p *processing.Params) {
	for k, v := range a {
		switch k {
		case "sd_model":
			m := make(map[string]any, len(p.OverrideSettings)+1)
			for key, val := range p.OverrideSettings {
				m[key] = val
			}
			m["sd_model_checkpoint"] = v
			p.OverrideSettings = m
		case "prompt":
			p.Prompt, p.Prompts = v.(string), nil
		case "negative_prompt":
			p.NegativePrompt, p.NegativePrompts = v.(string), nil
		case "styles":
			p.Styles = []string{v.(string)}
		case "seed":
			p.Seed, p.Seeds = int64(v.(int)), nil
		case "subseed_strength":
			p.SubseedStrength = v.(float64)
		case "subseed":
			p.Subseed = int64(v.(int))
		case "seed_resize_from_h":
			p.SeedResizeFromH = v.(int)
		case "seed_resize_from_w":
			p.SeedResizeFromW = v.(int)
		case "sampler_name":
			if s, ok := v.(string); ok {
				p.SamplerName = &s
			} else {
				p.SamplerName = nil
			}
		case "scheduler":
			s := v.(string)
			p.Scheduler = &s
		case "batch_size":
			p.BatchSize = v.(int)
		case "n_iter":
			p.NIter = v.(int)
		case "steps":
			p.Steps = v.(int)
		case "cfg_scale":
			p.CFGScale = v.(float64)
		case "width":
			p.Width = v.(int)
		case "height":
			p.Height = v.(int)
		case "restore_faces":
			b := v.(bool)
			p.RestoreFaces = &b
		case "tiling":
			b := v.(bool)
			p.Tiling = &b
		case "do_not_save_samples":
			p.DoNotSaveSamples = v.(bool)
		case "do_not_save_grid":
			p.DoNotSaveGrid = v.(bool)
		}
	}
}

// promptsFromFileArgs are Prompts from file's script_args by name, in
// the order of A1111's Script.run.
type promptsFromFileArgs struct {
	iterate      bool   // checkbox_iterate
	iterateBatch bool   // checkbox_iterate_batch
	position     string // prompt_position: "start" or "end"
	text         string // prompt_txt
}

func parsePromptsFromFileArgs(args []any) promptsFromFileArgs {
	return promptsFromFileArgs{
		iterate:      argBool(args, 0),
		iterateBatch: argBool(args, 1),
		position:     argString(args, 2),
		text:         argString(args, 3),
	}
}

// Run implements processing.SelectableScript.
func (PromptsFromFile) Run(ctx context.Context, env processing.ScriptEnv, p processing.Params, rawArgs []any) (*processing.Processed, error) {
	args := parsePromptsFromFileArgs(rawArgs)

	var jobs []LineArgs
	for _, line := range splitLines(args.text) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		la := LineArgs{"prompt": line}
		if strings.Contains(line, "--") {
			if parsed, err := ParseLine(line); err == nil {
				la = parsed
			}
		}
		jobs = append(jobs, la)
	}
	p.DoNotSaveGrid = true
	if (args.iterate || args.iterateBatch) && p.Seed == -1 {
		p.Seed = env.FixSeed(-1)
	}

	var out *processing.Processed
	var raw []image.Image
	var allPrompts, infotexts []string
	for n, la := range jobs {
		if n > 0 && env.Interrupted() {
			break
		}
		cp := p
		cp.Styles = append([]string(nil), p.Styles...)
		la.apply(&cp)
		if prompt, _ := la["prompt"].(string); prompt != "" && p.Prompt != "" {
			if args.position == "start" {
				cp.Prompt = prompt + " " + p.Prompt
			} else {
				cp.Prompt = p.Prompt + " " + prompt
			}
		}
		if neg, _ := la["negative_prompt"].(string); neg != "" && p.NegativePrompt != "" {
			if args.position == "start" {
				cp.NegativePrompt = neg + " " + p.NegativePrompt
			} else {
				cp.NegativePrompt = p.NegativePrompt + " " + neg
			}
		}
		res, err := env.Process(ctx, cp)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = res
		}
		raw = append(raw, res.Raw...)
		if args.iterate {
			p.Seed += int64(p.BatchSize * p.NIter)
		}
		allPrompts = append(allPrompts, res.AllPrompts...)
		infotexts = append(infotexts, res.Infotexts...)
	}
	if out == nil {
		return nil, apierr.Invalid("", "prompts from file: no prompt lines")
	}
	// Processed(p, images, p.seed, "", all_prompts=..., infotexts=...):
	// the original p's seed, the collected prompts and infotexts.
	out.Raw = raw
	out.AllPrompts = allPrompts
	out.Infotexts = infotexts
	out.Seed = p.Seed
	out.AllSeeds = []int64{p.Seed}
	out.IndexOfFirstImage = 0
	return out, nil
}

// splitLines is Python's str.splitlines for the common line breaks.
func splitLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Split(s, "\n")
}
