package scripts

import (
	"context"
	"strings"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing"
)

// maxMatrixParts bounds the "|" parts of a prompt matrix: 2^(parts-1)
// images. A1111 has no bound and simply runs for ever.
const maxMatrixParts = 13

// PromptMatrix is A1111's scripts/prompt_matrix.py ("Prompt matrix"):
// every combination of the prompt's "|"-separated parts after the first,
// one image each, and a grid of them first.
type PromptMatrix struct{}

var _ processing.SelectableScript = PromptMatrix{}

// Title implements processing.Script.
func (PromptMatrix) Title() string { return "Prompt matrix" }

// Show implements processing.Script: both modes.
func (PromptMatrix) Show(processing.Mode) bool { return true }

// AlwaysOn implements processing.Script.
func (PromptMatrix) AlwaysOn() bool { return false }

// Args implements processing.Script.
func (PromptMatrix) Args(processing.Mode) []processing.ArgInfo {
	return []processing.ArgInfo{
		checkbox("Put variable parts at start of prompt", false),
		checkbox("Use different seed for each picture", false),
		radio("Select prompt", "positive", "positive", "negative"),
		radio("Select joining char", "comma", "comma", "space"),
		slider("Grid margins (px)", 0, 0, 500, 2),
	}
}

// MatrixPrompts returns the prompt matrix's prompts for prompt, in
// A1111's order: combination c takes part n+1 when bit n of c is set.
func MatrixPrompts(prompt string, putAtStart bool, delimiter string) []string {
	parts := strings.Split(prompt, "|")
	count := 1 << (len(parts) - 1)
	out := make([]string, 0, count)
	for c := range count {
		var selected []string
		for n, text := range parts[1:] {
			if c&(1<<n) != 0 {
				selected = append(selected, strings.Trim(strings.TrimSpace(text), ","))
			}
		}
		if putAtStart {
			selected = append(selected, parts[0])
		} else {
			selected = append([]string{parts[0]}, selected...)
		}
		out = append(out, strings.Join(selected, delimiter))
	}
	return out
}

// promptMatrixArgs are Prompt matrix's script_args by name, in the order
// of A1111's Script.run. The last, margin_size, is accepted and not read:
// the grid has no margins (see the package doc).
type promptMatrixArgs struct {
	putAtStart, differentSeeds bool
	promptType                 string // "positive" or "negative"
	delimiterName              string // variations_delimiter: "comma" or "space"
}

func parsePromptMatrixArgs(args []any) promptMatrixArgs {
	return promptMatrixArgs{
		putAtStart:     argBool(args, 0),
		differentSeeds: argBool(args, 1),
		promptType:     argString(args, 2),
		delimiterName:  argString(args, 3),
	}
}

// Run implements processing.SelectableScript.
func (PromptMatrix) Run(ctx context.Context, env processing.ScriptEnv, p processing.Params, rawArgs []any) (*processing.Processed, error) {
	p.Seed = env.FixSeed(p.Seed)
	p.Subseed = env.FixSeed(p.Subseed)
	args := parsePromptMatrixArgs(rawArgs)
	if args.promptType != "positive" && args.promptType != "negative" {
		return nil, apierr.Invalid("", "unknown prompt type %s", args.promptType)
	}
	if args.delimiterName != "comma" && args.delimiterName != "space" {
		return nil, apierr.Invalid("", "unknown variations delimiter %s", args.delimiterName)
	}
	original := first(p.Prompts, p.Prompt)
	if args.promptType == "negative" {
		original = first(p.NegativePrompts, p.NegativePrompt)
	}
	delimiter := ", "
	if args.delimiterName == "space" {
		delimiter = " "
	}
	parts := strings.Count(original, "|") + 1
	if parts > maxMatrixParts {
		return nil, apierr.Invalid("prompt", "prompt matrix of %d parts would make %d images", parts, 1<<(parts-1))
	}
	all := MatrixPrompts(original, args.putAtStart, delimiter)

	p.NIter = (len(all) + p.BatchSize - 1) / p.BatchSize
	p.DoNotSaveGrid = true
	if args.promptType == "positive" {
		p.Prompts = all
	} else {
		p.NegativePrompts = all
	}
	p.Seeds = make([]int64, len(all))
	for i := range all {
		p.Seeds[i] = p.Seed
		if args.differentSeeds {
			p.Seeds[i] += int64(i)
		}
	}
	res, err := env.Process(ctx, p)
	if err != nil {
		return nil, err
	}
	if len(res.Raw) == 0 {
		return res, nil
	}
	grid := processing.ImageGrid(res.Raw, 1<<((parts-1)/2))
	res.Raw = insert(res.Raw, 0, grid)
	res.IndexOfFirstImage = 1
	res.Infotexts = insert(res.Infotexts, 0, at(res.Infotexts, 0))
	return res, nil
}

func first(list []string, s string) string {
	if list != nil {
		return at(list, 0)
	}
	return s
}

func at[T any](xs []T, i int) T {
	var zero T
	if i < 0 || i >= len(xs) {
		return zero
	}
	return xs[i]
}
