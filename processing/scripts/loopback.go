package scripts

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"strconv"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing"
)

// Loopback is A1111's scripts/loopback.py ("Loopback", img2img only):
// each of n_iter batches runs loops img2img jobs of one image, every job
// starting from the previous job's image with the next seed, while the
// denoising strength moves from the request's towards the final one
// along the chosen curve.
//
// The result is, with more than one image and return_grid, a one-row
// grid of them first; then every loop's image (n_iter 1) or every batch's
// last image (n_iter > 1). All carry the first job's infotext.
type Loopback struct{}

var _ processing.SelectableScript = Loopback{}

// Title implements processing.Script.
func (Loopback) Title() string { return "Loopback" }

// Show implements processing.Script: img2img only.
func (Loopback) Show(mode processing.Mode) bool { return mode == processing.Img2Img }

// AlwaysOn implements processing.Script.
func (Loopback) AlwaysOn() bool { return false }

// Args implements processing.Script.
func (Loopback) Args(processing.Mode) []processing.ArgInfo {
	return []processing.ArgInfo{
		sliderOf("Loops", 4, 1, 32, 1),
		sliderOf("Final denoising strength", 0.5, 0, 1, 0.01),
		{Label: "Denoising strength curve", Value: "Linear", Choices: []string{"Aggressive", "Linear", "Lazy"}},
		{Label: "Append interrogated prompt at each iteration", Value: "None", Choices: []string{"None", "CLIP", "DeepBooru"}},
	}
}

// loopbackStrength is calculate_denoising_strength for loop (1-based
// after the first job).
func loopbackStrength(initial, final float64, loops, loop int, curve string) float64 {
	if loops == 1 {
		return initial
	}
	progress := float64(loop) / float64(loops-1)
	var strength float64
	switch curve {
	case "Aggressive":
		strength = math.Sin(progress * math.Pi * 0.5)
	case "Lazy":
		strength = 1 - math.Cos(progress*math.Pi*0.5)
	default:
		strength = progress
	}
	return initial + (final-initial)*strength
}

// loopbackArgs are Loopback's script_args by name, in the order of
// A1111's Script.run.
type loopbackArgs struct {
	loops int
	final float64 // final_denoising_strength
	curve string  // denoising_curve: "Aggressive", "Linear" or "Lazy"
	// interrogate is append_interrogation: "None"; "CLIP" and "DeepBooru"
	// need an interrogation model this server has not, and are refused.
	interrogate string
}

func parseLoopbackArgs(args []any) (loopbackArgs, error) {
	var a loopbackArgs
	var err error
	if a.loops, err = argInt(args, 0, "loops"); err != nil {
		return a, err
	}
	if a.final, err = argFloat(args, 1, "final_denoising_strength"); err != nil {
		return a, err
	}
	a.curve, a.interrogate = argString(args, 2), argString(args, 3)
	return a, nil
}

// Run implements processing.SelectableScript.
func (Loopback) Run(ctx context.Context, env processing.ScriptEnv, p processing.Params, rawArgs []any) (*processing.Processed, error) {
	args, err := parseLoopbackArgs(rawArgs)
	if err != nil {
		return nil, err
	}
	if args.interrogate != "None" {
		return nil, apierr.Unsupported("loopback: append interrogated prompt %q needs an interrogation model, which this server has not", args.interrogate)
	}
	if len(p.InitImages) == 0 {
		return nil, apierr.Invalid("", "loopback needs an init image")
	}
	if args.loops < 1 {
		// range(loops) runs nothing, and Processed over no image fails.
		return nil, apierr.Invalid("", "loopback: loops %d, want at least 1", args.loops)
	}
	if err := env.CheckImages([]any{"script_args", 0}, fmt.Sprintf("loopback's %d loops ×%d batches", args.loops, max(p.NIter, 1)), float64(args.loops)*float64(max(p.NIter, 1))); err != nil {
		return nil, err
	}
	p.Seed = env.FixSeed(p.Seed)
	p.Subseed = env.FixSeed(p.Subseed)
	batchCount := p.NIter
	p.BatchSize, p.NIter = 1, 1
	p.DoNotSaveGrid = true
	initialStrength := 0.75
	if p.DenoisingStrength != nil {
		initialStrength = *p.DenoisingStrength
	}
	originalInit, originalFill := p.InitImages, p.InpaintingFill

	// first is the first finished job; last the last job run, the
	// template of the result even when an interrupt discarded its image.
	var first, last *processing.Processed
	var history, all []image.Image
	interrupted := false
	for n := 0; n < batchCount && !interrupted; n++ {
		p.InitImages = originalInit
		p.DenoisingStrength = ptr(initialStrength)
		var lastImage image.Image
		for i := range args.loops {
			res, err := env.Process(ctx, p)
			if err != nil {
				return nil, err
			}
			last = res
			if env.Interrupted() { // the interrupted job's image is dropped
				interrupted = true
				break
			}
			if first == nil {
				first = res
			}
			p.Seed = res.Seed + 1
			p.DenoisingStrength = ptr(loopbackStrength(initialStrength, args.final, args.loops, i+1, args.curve))
			if len(res.Raw) == 0 {
				return nil, errors.New("loopback: a job returned no image")
			}
			lastImage = res.Raw[0]
			p.InitImages = []image.Image{lastImage}
			p.InpaintingFill = 1 // "original" for the next loop
			if batchCount == 1 {
				history = append(history, lastImage)
				all = append(all, lastImage)
			}
		}
		if batchCount > 1 && !interrupted {
			history = append(history, lastImage)
			all = append(all, lastImage)
		}
		p.InpaintingFill = originalFill
	}
	if last == nil {
		return nil, errors.New("loopback: no job ran")
	}
	if len(history) > 1 && env.Bool("return_grid", true) {
		all = append([]image.Image{processing.ImageGrid(history, 1)}, all...)
	}

	// Processed(p, all_images, initial_seed, initial_info): the first
	// job's seed and infotext for every image, the last job's prompts and
	// seeds, p's final denoising strength.
	out := *last
	info, seed := "", int64(-1) // Processed's for initial_seed None
	if first != nil {
		extra := [][2]string{{"Final denoising strength", strconv.FormatFloat(args.final, 'f', -1, 64)}, {"Denoising curve", args.curve}}
		info, seed = addInfotextParams(at(first.Infotexts, 0), extra), first.Seed
	}
	out.Raw = all
	out.Seed = seed
	out.Infotexts = make([]string, len(all))
	for i := range all {
		out.Infotexts[i] = info
	}
	out.IndexOfFirstImage = 0
	out.DenoisingStrength = p.DenoisingStrength
	if ep := out.ExtraGenerationParams; ep != nil {
		ep.Set("Final denoising strength", args.final)
		ep.Set("Denoising curve", args.curve)
	}
	return &out, nil
}
