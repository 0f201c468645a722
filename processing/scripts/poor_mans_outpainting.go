package scripts

import (
	"context"
	"fmt"
	"image"
	"math"
	"strings"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing"
)

// PoorMansOutpainting is A1111's scripts/poor_mans_outpainting.py ("Poor
// man's outpainting", img2img only): the init image is placed on a black
// canvas grown by pixels in the chosen directions (rounded up to 64), the
// canvas is split into width×height tiles overlapping by pixels, every
// tile that reaches into the new border is inpainted on its own (one image
// per Process call, the seed going up by one each time) with a mask
// inset by 2×mask_blur and a latent mask inset by mask_blur/2, and the
// tiles are blended back together (images.combine_grid).
type PoorMansOutpainting struct{}

var _ processing.SelectableScript = PoorMansOutpainting{}

// Title implements processing.Script.
func (PoorMansOutpainting) Title() string { return "Poor man's outpainting" }

// Show implements processing.Script: img2img only.
func (PoorMansOutpainting) Show(mode processing.Mode) bool { return mode == processing.Img2Img }

// AlwaysOn implements processing.Script.
func (PoorMansOutpainting) AlwaysOn() bool { return false }

var fillChoices = []string{"fill", "original", "latent noise", "latent nothing"}

// Args implements processing.Script.
func (PoorMansOutpainting) Args(processing.Mode) []processing.ArgInfo {
	return []processing.ArgInfo{
		sliderOf("Pixels to expand", 128, 8, 256, 8),
		sliderOf("Mask blur", 4, 0, 64, 1),
		{Label: "Masked content", Value: "fill", Choices: fillChoices},
		{Label: "Outpainting direction", Value: []any{"left", "right", "up", "down"}, Choices: directions},
	}
}

// fillArg reads the gr.Radio(type="index") argument: its index, or (the
// default the API fills in is the radio's value) its name.
func fillArg(args []any, i int) (int, error) {
	if i < len(args) {
		if s, ok := args[i].(string); ok {
			for k, c := range fillChoices {
				if strings.EqualFold(c, s) {
					return k, nil
				}
			}
			return 0, apierr.Invalid("", "poor man's outpainting: masked content %q is not one of %q", s, fillChoices)
		}
	}
	k, err := argInt(args, i, "inpainting_fill")
	if err == nil && (k < 0 || k > 3) {
		err = apierr.Invalid("", "poor man's outpainting: masked content %d outside 0..3", k)
	}
	return k, err
}

// poorMansArgs are Poor man's outpainting's script_args by name, in the
// order of A1111's Script.run.
type poorMansArgs struct {
	pixels, maskBlur int
	// fill is inpainting_fill: 0 fill, 1 original, 2 latent noise, 3
	// latent nothing; the request gives the index or the name.
	fill int
	dirs []string // direction: a list of "left", "right", "up", "down"
}

func parsePoorMansArgs(args []any) (poorMansArgs, error) {
	var a poorMansArgs
	var err error
	if a.pixels, err = argInt(args, 0, "pixels"); err != nil {
		return a, err
	}
	if a.maskBlur, err = argInt(args, 1, "mask_blur"); err != nil {
		return a, err
	}
	if a.fill, err = fillArg(args, 2); err != nil {
		return a, err
	}
	a.dirs = argStrings(args, 3)
	return a, nil
}

// Run implements processing.SelectableScript.
func (PoorMansOutpainting) Run(ctx context.Context, env processing.ScriptEnv, p processing.Params, rawArgs []any) (*processing.Processed, error) {
	args, err := parsePoorMansArgs(rawArgs)
	if err != nil {
		return nil, err
	}
	if len(p.InitImages) == 0 {
		return nil, apierr.Invalid("", "poor man's outpainting needs an init image")
	}
	if args.pixels < 0 {
		return nil, apierr.Invalid("", "poor man's outpainting: pixels %d is negative", args.pixels)
	}
	p.MaskBlur = nil
	p.MaskBlurX, p.MaskBlurY = args.maskBlur*2, args.maskBlur*2
	p.InpaintingFill = args.fill
	p.InpaintFullRes = false

	initImg := p.InitImages[0]
	ib := initImg.Bounds()
	left, right, up, down, targetW, targetH := outpaintMargins(ib.Dx(), ib.Dy(), args.pixels, args.dirs)
	if err := env.CheckUpscale([]any{"script_args", 0}, fmt.Sprintf("poor man's outpainting's %d pixels", args.pixels), ib.Dx(), ib.Dy(), math.Max(float64(targetW)/float64(max(ib.Dx(), 1)), float64(targetH)/float64(max(ib.Dy(), 1)))); err != nil {
		return nil, err
	}
	img := newRGB(targetW, targetH, false)
	paste(img, initImg, left, up)

	inset := func(v, by int) int {
		if v > 0 {
			return by
		}
		return 0
	}
	mask := newRGB(targetW, targetH, true)
	fillRect(mask, left+inset(left, args.maskBlur*2), up+inset(up, args.maskBlur*2),
		targetW-right-inset(right, args.maskBlur*2), targetH-down-inset(down, args.maskBlur*2))
	latentMask := newRGB(targetW, targetH, true)
	fillRect(latentMask, left+inset(left, args.maskBlur/2), up+inset(up, args.maskBlur/2),
		targetW-right-inset(right, args.maskBlur/2), targetH-down-inset(down, args.maskBlur/2))

	rows, cols, err := GridSize(targetW, targetH, p.Width, p.Height, args.pixels)
	if err != nil {
		return nil, err
	}
	if err := env.CheckImages([]any{"script_args", 0}, fmt.Sprintf("poor man's outpainting's %d×%d tiles", cols, rows), float64(rows*cols)); err != nil {
		return nil, err
	}
	grid, err := SplitGrid(img, p.Width, p.Height, args.pixels)
	if err != nil {
		return nil, err
	}
	gridMask, err := SplitGrid(mask, p.Width, p.Height, args.pixels)
	if err != nil {
		return nil, err
	}
	gridLatent, err := SplitGrid(latentMask, p.Width, p.Height, args.pixels)
	if err != nil {
		return nil, err
	}
	inside := func(y, h, x, w int) bool {
		return x >= left && x+w <= targetW-right && y >= up && y+h <= targetH-down
	}
	var work []*Tile
	var workMask, workLatent []image.Image
	for r, row := range grid.Rows {
		for c, t := range row.Tiles {
			if inside(row.Y, row.H, t.X, t.W) {
				continue
			}
			work = append(work, &grid.Rows[r].Tiles[c])
			workMask = append(workMask, gridMask.Rows[r].Tiles[c].Image)
			workLatent = append(workLatent, gridLatent.Rows[r].Tiles[c].Image)
		}
	}

	p.NIter, p.BatchSize = 1, 1
	p.DoNotSaveGrid, p.DoNotSaveSamples = true, true
	var first *processing.Processed
	var results []image.Image
	for i, t := range work {
		if i > 0 && env.Interrupted() {
			break
		}
		p.InitImages = []image.Image{t.Image}
		p.Mask = workMask[i]
		p.LatentMask = workLatent[i]
		res, err := env.Process(ctx, p)
		if err != nil {
			return nil, err
		}
		if first == nil {
			first = res
		}
		p.Seed = res.Seed + 1
		results = append(results, res.Raw...)
	}
	for i, t := range work {
		if i < len(results) {
			t.Image = results[i]
		} else {
			t.Image = blank(p.Width, p.Height)
		}
	}
	combined := CombineGrid(grid)
	if first == nil {
		// No tile reaches a new border (no direction): A1111 returns the
		// bare canvas without running a job; without a job there is no
		// result here to report it with.
		return nil, apierr.Invalid("", "poor man's outpainting: no tile reaches a new border (no direction chosen)")
	}
	return processedOf(first, []image.Image{combined}), nil
}
