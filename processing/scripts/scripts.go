// Package scripts holds A1111 1.10's built-in selectable scripts (Prompt
// matrix, X/Y/Z plot, Prompts from file or textbox, SD upscale) for the
// processing.Scripts registry. Each script reaches the runner only through
// processing.ScriptEnv.Process.
//
// Grids are drawn as A1111's images.image_grid does, but without
// annotations: no legend text and no margins (draw_grid_annotations and
// draw_prompt_matrix need font rendering, which this package does not do).
// Script-made images are not written to disk (A1111 saves prompt matrix
// and X/Y/Z grids when grid_save is on, and SD upscale results when
// samples_save is on); the samples Process writes are saved as usual.
package scripts

import (
	"fmt"
	"image"
	"strconv"
	"strings"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/infotext"
	"github.com/sdapi/sdapi/processing/upscale"
)

// Builtin returns the built-in scripts in A1111 1.10.1's order
// (ScriptRunner.scripts): scripts/ by file name, then the scripts of the
// default extensions-builtin by extension directory, then
// modules/processing_scripts by file name. ups is the upscaler registry SD
// upscale looks its upscaler up in; checkpoints lists the checkpoint
// titles for the Refiner's dropdown (nil: none).
//
// scripts/img2imgalt.py ("img2img alternative test") is not among them:
// it inverts the sampler through the model's own UNet (find_noise_for_image),
// which the runner does not expose.
func Builtin(ups *upscale.Registry, checkpoints func() []string) []processing.Script {
	return []processing.Script{
		Loopback{},
		OutpaintingMk2{},
		PoorMansOutpainting{},
		PromptMatrix{},
		PromptsFromFile{},
		SDUpscale{Upscalers: ups},
		XYZPlot{},
		ExtraOptions{},
		Hypertile{},
		SoftInpainting{},
		Comments{},
		Refiner{Checkpoints: checkpoints},
		Sampler{},
		Seed{},
	}
}

// argInfo builders, mirroring the gradio controls' attributes.

func checkbox(label string, value bool) processing.ArgInfo {
	return processing.ArgInfo{Label: label, Value: value}
}

func radio(label string, value string, choices ...string) processing.ArgInfo {
	return processing.ArgInfo{Label: label, Value: value, Choices: choices}
}

func slider(label string, value, minimum, maximum, step float64) processing.ArgInfo {
	return processing.ArgInfo{Label: label, Value: value, Minimum: minimum, Maximum: maximum, Step: step}
}

// sliderOf is slider with the values' own types: gradio keeps an int a
// Python int.
func sliderOf(label string, value, minimum, maximum, step any) processing.ArgInfo {
	return processing.ArgInfo{Label: label, Value: value, Minimum: minimum, Maximum: maximum, Step: step}
}

func textbox(label string) processing.ArgInfo {
	return processing.ArgInfo{Label: label, Value: ""}
}

// Argument conversion: script_args arrive as decoded JSON.

// truthy is Python's bool(v) for JSON values.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0
	case int:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

func argString(args []any, i int) string {
	if i >= len(args) || args[i] == nil {
		return ""
	}
	switch x := args[i].(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(args[i])
}

func argFloat(args []any, i int, name string) (float64, error) {
	if i >= len(args) {
		return 0, apierr.Invalid("", "missing argument %s", name)
	}
	switch x := args[i].(type) {
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case string:
		f, err := processing.ParseFinite(x)
		if err == nil {
			return f, nil
		}
	}
	return 0, apierr.Invalid("", "argument %s: %v is not a number", name, args[i])
}

func argInt(args []any, i int, name string) (int, error) {
	f, err := argFloat(args, i, name)
	return int(f), err
}

func argStrings(args []any, i int) []string {
	if i >= len(args) {
		return nil
	}
	list, _ := args[i].([]any)
	out := make([]string, 0, len(list))
	for _, v := range list {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

// blank is Image.new(mode, size): a black image.
func blank(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, max(w, 1), max(h, 1)))
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	return img
}

// addInfotextParams adds key: value pairs to an infotext's parameter line,
// before "Version" where present, as create_infotext places
// extra_generation_params before it.
func addInfotextParams(text string, kvs [][2]string) string {
	if text == "" || len(kvs) == 0 {
		return text
	}
	var b strings.Builder
	for _, kv := range kvs {
		b.WriteString(", ")
		b.WriteString(kv[0])
		b.WriteString(": ")
		b.WriteString(infotext.Quote(kv[1]))
	}
	last := strings.LastIndex(text, "\n") + 1
	if i := strings.LastIndex(text[last:], ", Version: "); i >= 0 {
		at := last + i
		return text[:at] + b.String() + text[at:]
	}
	return text + b.String()
}

// insert returns s with v inserted at i.
func insert[T any](s []T, i int, v T) []T {
	s = append(s, v)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

func argBool(args []any, i int) bool {
	return i < len(args) && truthy(args[i])
}
