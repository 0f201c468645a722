package scripts

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"slices"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing"
)

// OutpaintingMk2 is A1111's scripts/outpainting_mk_2.py ("Outpainting
// mk2", img2img only): the init image is extended by pixels in each chosen
// direction, one direction per Process call (left, right, up, down), each
// time over a canvas rounded up to 64 whose new part is filled with
// matched noise (matchedNoise: FFT-shaped, histogram-matched) and
// inpainted with "original" masked content, a mask blurred by 4×mask_blur
// and a latent mask inset by 2×mask_blur.
//
// The result is every batch's extended images, after a grid of them when
// return_grid (and there are two or more, unless grid_only_if_multiple is
// off); all carry the first job's infotext.
type OutpaintingMk2 struct{}

var _ processing.SelectableScript = OutpaintingMk2{}

// Title implements processing.Script.
func (OutpaintingMk2) Title() string { return "Outpainting mk2" }

// Show implements processing.Script: img2img only.
func (OutpaintingMk2) Show(mode processing.Mode) bool { return mode == processing.Img2Img }

// AlwaysOn implements processing.Script.
func (OutpaintingMk2) AlwaysOn() bool { return false }

var directions = []string{"left", "right", "up", "down"}

// Args implements processing.Script.
func (OutpaintingMk2) Args(processing.Mode) []processing.ArgInfo {
	return []processing.ArgInfo{
		{Label: "", Value: "<p style=\"margin-bottom:0.75em\">Recommended settings: Sampling Steps: 80-100, Sampler: Euler a, Denoising strength: 0.8</p>"},
		sliderOf("Pixels to expand", 128, 8, 256, 8),
		sliderOf("Mask blur", 8, 0, 64, 1),
		{Label: "Outpainting direction", Value: []any{"left", "right", "up", "down"}, Choices: directions},
		sliderOf("Fall-off exponent (lower=higher detail)", 1.0, 0.0, 4.0, 0.01),
		sliderOf("Color variation", 0.05, 0.0, 1.0, 0.01),
	}
}

// outpaintMargins is the shared start of both outpainting scripts: the
// pixels added on each side, spread so that the canvas is a multiple of
// 64 (target_w, target_h).
func outpaintMargins(w, h, pixels int, dirs []string) (left, right, up, down, targetW, targetH int) {
	on := func(d string) int {
		if slices.Contains(dirs, d) {
			return pixels
		}
		return 0
	}
	left, right, up, down = on("left"), on("right"), on("up"), on("down")
	targetW = int(math.Ceil(float64(w+left+right)/64)) * 64
	targetH = int(math.Ceil(float64(h+up+down)/64)) * 64
	if left > 0 {
		left = pyFloorDiv(left*(targetW-w), left+right)
	}
	if right > 0 {
		right = targetW - w - left
	}
	if up > 0 {
		up = pyFloorDiv(up*(targetH-h), up+down)
	}
	if down > 0 {
		down = targetH - h - up
	}
	return
}

func pyFloorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// outpaintingMk2Args are Outpainting mk2's script_args by name, in the
// order of A1111's Script.run; the first, the info HTML, is ignored.
type outpaintingMk2Args struct {
	pixels, maskBlur int
	dirs             []string // direction: a list of "left", "right", "up", "down"
	noiseQ           float64
	colorVariation   float64
}

func parseOutpaintingMk2Args(args []any) (outpaintingMk2Args, error) {
	var a outpaintingMk2Args
	var err error
	if a.pixels, err = argInt(args, 1, "pixels"); err != nil {
		return a, err
	}
	if a.maskBlur, err = argInt(args, 2, "mask_blur"); err != nil {
		return a, err
	}
	a.dirs = argStrings(args, 3)
	if a.noiseQ, err = argFloat(args, 4, "noise_q"); err != nil {
		return a, err
	}
	if a.colorVariation, err = argFloat(args, 5, "color_variation"); err != nil {
		return a, err
	}
	return a, nil
}

// outpaintSide is one call of the script's expand(): the pixels to add
// and the side to add them on.
type outpaintSide struct {
	pixels                   int
	left, right, top, bottom bool
}

// Run implements processing.SelectableScript.
func (OutpaintingMk2) Run(ctx context.Context, env processing.ScriptEnv, p processing.Params, rawArgs []any) (*processing.Processed, error) {
	args, err := parseOutpaintingMk2Args(rawArgs)
	if err != nil {
		return nil, err
	}
	if len(p.InitImages) == 0 {
		return nil, apierr.Invalid("", "outpainting mk2 needs an init image")
	}
	if args.pixels < 0 {
		return nil, apierr.Invalid("", "outpainting mk2: pixels %d is negative", args.pixels)
	}
	processW, processH := p.Width, p.Height
	p.InpaintFullRes = false
	p.InpaintingFill = 1
	p.DoNotSaveSamples, p.DoNotSaveGrid = true, true

	initImg := p.InitImages[0]
	ib := initImg.Bounds()
	left, right, up, down, targetW, targetH := outpaintMargins(ib.Dx(), ib.Dy(), args.pixels, args.dirs)
	var blurX, blurY int
	if left > 0 || right > 0 {
		blurX = args.maskBlur
	}
	if up > 0 || down > 0 {
		blurY = args.maskBlur
	}
	p.MaskBlur = nil // mask_blur_x/y below are the script's
	p.MaskBlurX, p.MaskBlurY = blurX*4, blurY*4
	passes := 0
	for _, v := range []int{left, right, up, down} {
		if v > 0 {
			passes++
		}
	}
	batchCount, batchSize := p.NIter, p.BatchSize
	p.NIter = 1
	if err := env.CheckImages([]any{"script_args", 3}, fmt.Sprintf("outpainting mk2's %d directions ×%d batches of %d", passes, batchCount, batchSize), float64(passes*batchCount*batchSize)); err != nil {
		return nil, err
	}
	if err := env.CheckUpscale([]any{"script_args", 1}, fmt.Sprintf("outpainting mk2's %d pixels", args.pixels), ib.Dx(), ib.Dy(), math.Max(float64(targetW)/float64(max(ib.Dx(), 1)), float64(targetH)/float64(max(ib.Dy(), 1)))); err != nil {
		return nil, err
	}

	var first *processing.Processed
	// expand is the script's expand(): one direction for the batch.
	expand := func(init []image.Image, side outpaintSide) ([]image.Image, error) {
		isHoriz, isVert := side.left || side.right, side.top || side.bottom
		pixelsHoriz, pixelsVert := 0, 0
		if isHoriz {
			pixelsHoriz = side.pixels
		}
		if isVert {
			pixelsVert = side.pixels
		}
		var toProcess []image.Image
		outputs := make([]*image.NRGBA, len(init))
		var mask *image.NRGBA
		var resW, resH int
		for n, im := range init {
			b := im.Bounds()
			resW, resH = b.Dx()+pixelsHoriz, b.Dy()+pixelsVert
			procW := int(math.Ceil(float64(resW)/64)) * 64
			procH := int(math.Ceil(float64(resH)/64)) * 64
			canvas := newRGB(procW, procH, false)
			px, py := 0, 0
			if side.left {
				px = pixelsHoriz
			}
			if side.top {
				py = pixelsVert
			}
			paste(canvas, im, px, py)
			mask = newRGB(procW, procH, true)
			x0, y0, x1, y1 := 0, 0, resW, resH
			if side.left {
				x0 = side.pixels + blurX
			}
			if side.top {
				y0 = side.pixels + blurY
			}
			if side.right {
				x1 = procW - side.pixels - blurX
			}
			if side.bottom {
				y1 = procH - side.pixels - blurY
			}
			fillRect(mask, x0, y0, x1, y1)
			noised, err := matchedNoise(toArray(canvas), toArray(mask), args.noiseQ, args.colorVariation)
			if err != nil {
				return nil, err
			}
			outputs[n] = fromArray(noised)

			targetWidth, targetHeight := canvas.Rect.Dx(), canvas.Rect.Dy()
			if isHoriz {
				targetWidth = min(processW, b.Dx()+pixelsHoriz)
			}
			if isVert {
				targetHeight = min(processH, b.Dy()+pixelsVert)
			}
			p.Width, p.Height = targetWidth, targetHeight
			ow, oh := outputs[n].Rect.Dx(), outputs[n].Rect.Dy()
			cx0, cy0, cx1, cy1 := ow-targetWidth, oh-targetHeight, ow, oh
			if side.left {
				cx0, cx1 = 0, targetWidth
			}
			if side.top {
				cy0, cy1 = 0, targetHeight
			}
			mask = crop(mask, cx0, cy0, cx1, cy1)
			toProcess = append(toProcess, crop(outputs[n], cx0, cy0, cx1, cy1))
		}
		p.Mask = mask
		p.InitImages = toProcess
		latent := newRGB(p.Width, p.Height, true)
		x0, y0, x1, y1 := 0, 0, resW, resH
		if side.left {
			x0 = side.pixels + blurX*2
		}
		if side.top {
			y0 = side.pixels + blurY*2
		}
		if side.right {
			x1 = mask.Rect.Dx() - side.pixels - blurX*2
		}
		if side.bottom {
			y1 = mask.Rect.Dy() - side.pixels - blurY*2
		}
		fillRect(latent, x0, y0, x1, y1)
		p.LatentMask = latent

		proc, err := env.Process(ctx, p)
		if err != nil {
			return nil, err
		}
		if first == nil {
			first = proc
		}
		out := make([]image.Image, len(init))
		for n := range init {
			if n >= len(proc.Raw) {
				return nil, errors.New("outpainting mk2: a job returned fewer images than its batch")
			}
			pb := proc.Raw[n].Bounds()
			x, y := 0, 0
			if !side.left {
				x = outputs[n].Rect.Dx() - pb.Dx()
			}
			if !side.top {
				y = outputs[n].Rect.Dy() - pb.Dy()
			}
			paste(outputs[n], proc.Raw[n], x, y)
			out[n] = crop(outputs[n], 0, 0, resW, resH)
		}
		return out, nil
	}

	var all []image.Image
	for i := 0; i < batchCount; i++ {
		if i > 0 && env.Interrupted() {
			break
		}
		imgs := make([]image.Image, batchSize)
		for k := range imgs {
			imgs[k] = initImg
		}
		for _, side := range []outpaintSide{{pixels: left, left: true}, {pixels: right, right: true}, {pixels: up, top: true}, {pixels: down, bottom: true}} {
			if side.pixels <= 0 {
				continue
			}
			if imgs, err = expand(imgs, side); err != nil {
				return nil, err
			}
		}
		all = append(all, imgs...)
	}
	if first == nil {
		return nil, apierr.Invalid("", "outpainting mk2: no direction to expand")
	}
	images := all
	unwanted := len(all) < 2 && env.Bool("grid_only_if_multiple", true)
	if env.Bool("return_grid", true) && !unwanted {
		images = append([]image.Image{processing.ImageGrid(all, defaultGridRows(env, len(all), 1))}, all...)
	}
	return processedOf(first, images), nil
}

// processedOf is Processed(p, images, initial_seed, initial_info) over the
// first job's result: every image with the first job's infotext, index
// of first image 0.
func processedOf(first *processing.Processed, images []image.Image) *processing.Processed {
	out := *first
	out.Raw = images
	info := at(first.Infotexts, 0)
	out.Infotexts = make([]string, len(images))
	for i := range images {
		out.Infotexts[i] = info
	}
	out.IndexOfFirstImage = 0
	return &out
}

// defaultGridRows is image_grid's rows when none is given, from the options.
func defaultGridRows(env processing.ScriptEnv, n, batchSize int) int {
	g := processing.GridLayout{NRows: int(env.Number("n_rows", -1)), PreventEmptySpots: env.Bool("grid_prevent_empty_spots", false)}
	return g.Rows(n, batchSize)
}
