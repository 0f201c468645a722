package scripts

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"math"
	"strings"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/upscale"
)

// SDUpscale is A1111's scripts/sd_upscale.py ("SD upscale", img2img
// only): the first init image is upscaled by scale_factor with the chosen
// upscaler, split into tiles of width×height overlapping by overlap
// pixels, every tile goes through img2img (batch_size tiles per Process
// call), and the results are blended back together (images.combine_grid).
// n_iter repeats the whole upscale with the next seed.
type SDUpscale struct {
	// Upscalers is shared.sd_upscalers; nil is the built-in ones.
	Upscalers *upscale.Registry
}

var _ processing.SelectableScript = SDUpscale{}

// Title implements processing.Script.
func (SDUpscale) Title() string { return "SD upscale" }

// Show implements processing.Script: img2img only.
func (SDUpscale) Show(mode processing.Mode) bool { return mode == processing.Img2Img }

// AlwaysOn implements processing.Script.
func (SDUpscale) AlwaysOn() bool { return false }

func (s SDUpscale) upscalers() []upscale.Upscaler {
	if s.Upscalers == nil {
		return upscale.Builtin()
	}
	return s.Upscalers.List()
}

// Args implements processing.Script.
func (s SDUpscale) Args(processing.Mode) []processing.ArgInfo {
	ups := s.upscalers()
	names := make([]string, len(ups))
	for i, u := range ups {
		names[i] = u.Name
	}
	return []processing.ArgInfo{
		{Label: "", Value: "<p style=\"margin-bottom:0.75em\">Will upscale the image by the selected scale factor; use width and height sliders to set tile size</p>"},
		slider("Tile overlap", 64, 0, 256, 16),
		{Label: "Upscaler", Value: names[0], Choices: names},
		slider("Scale Factor", 2.0, 1.0, 4.0, 0.05),
	}
}

// upscaler resolves the upscaler argument: an index (A1111's radio is
// type="index") or a name, matched case-insensitively.
func (s SDUpscale) upscaler(v any) (upscale.Upscaler, error) {
	ups := s.upscalers()
	switch x := v.(type) {
	case string:
		for _, u := range ups {
			if strings.EqualFold(u.Name, x) {
				return u, nil
			}
		}
		return upscale.Upscaler{}, apierr.Invalid("", "sd upscale: %q is not in list", x)
	case float64:
		i := int(x)
		if float64(i) == x && i >= 0 && i < len(ups) {
			return ups[i], nil
		}
	}
	return upscale.Upscaler{}, apierr.Invalid("", "sd upscale: upscaler index %v out of range", v)
}

// sdUpscaleArgs are SD upscale's script_args by name, in the order of
// A1111's Script.run; the first, the info text, is ignored.
type sdUpscaleArgs struct {
	overlap int
	// up is upscaler_index: the request gives an index into the upscaler
	// list or a name, matched case-insensitively.
	up    upscale.Upscaler
	scale float64 // scale_factor
}

func (s SDUpscale) parseArgs(args []any) (sdUpscaleArgs, error) {
	var a sdUpscaleArgs
	var err error
	if a.overlap, err = argInt(args, 1, "overlap"); err != nil {
		return a, err
	}
	if a.up, err = s.upscaler(at(args, 2)); err != nil {
		return a, err
	}
	if a.scale, err = argFloat(args, 3, "scale_factor"); err != nil {
		return a, err
	}
	return a, nil
}

// Run implements processing.SelectableScript.
func (s SDUpscale) Run(ctx context.Context, env processing.ScriptEnv, p processing.Params, rawArgs []any) (*processing.Processed, error) {
	p.Seed = env.FixSeed(p.Seed)
	p.Subseed = env.FixSeed(p.Subseed)
	args, err := s.parseArgs(rawArgs)
	if err != nil {
		return nil, err
	}
	if len(p.InitImages) == 0 {
		return nil, apierr.Invalid("", "sd upscale needs an init image")
	}
	img := p.InitImages[0]
	if !args.up.IsNone() {
		if !(args.scale > 0) || math.IsInf(args.scale, 0) {
			return nil, apierr.Invalid("", "sd upscale: scale_factor %g is not a positive number", args.scale)
		}
		// The upscale runs before any job that Process would check.
		b := img.Bounds()
		if err := env.CheckUpscale([]any{"script_args", 3}, fmt.Sprintf("SD upscale's scale_factor %g", args.scale), b.Dx(), b.Dy(), args.scale); err != nil {
			return nil, err
		}
		if img, err = args.up.Upscale(ctx, img, args.scale); err != nil {
			return nil, fmt.Errorf("sd upscale: %w", err)
		}
	}
	// Every tile is cut before the first job: count them first, so that a
	// large overlap cannot allocate millions of tiles.
	b := img.Bounds()
	rows, cols, err := GridSize(b.Dx(), b.Dy(), p.Width, p.Height, args.overlap)
	if err != nil {
		return nil, err
	}
	tiles := float64(rows) * float64(cols) * float64(max(p.NIter, 1))
	if err := env.CheckImages([]any{"script_args", 1}, fmt.Sprintf("SD upscale's %d×%d tiles overlapping by %d, ×%d iterations,", cols, rows, args.overlap, max(p.NIter, 1)), tiles); err != nil {
		return nil, err
	}
	grid, err := SplitGrid(img, p.Width, p.Height, args.overlap)
	if err != nil {
		return nil, err
	}
	var work []*Tile
	for r := range grid.Rows {
		for c := range grid.Rows[r].Tiles {
			work = append(work, &grid.Rows[r].Tiles[c])
		}
	}
	batchSize, upscaleCount, seed := p.BatchSize, p.NIter, p.Seed
	p.NIter = 1
	p.DoNotSaveGrid = true
	p.DoNotSaveSamples = true

	var out *processing.Processed
	var results []image.Image
	var initialInfo string
	interrupted := false
	for n := 0; n < upscaleCount && !interrupted; n++ {
		p.Seed = seed + int64(n)
		var done []image.Image
		for i := 0; i < len(work); i += batchSize {
			if out != nil && env.Interrupted() {
				interrupted = true
				break
			}
			p.InitImages = nil
			for _, t := range work[i:min(i+batchSize, len(work))] {
				p.InitImages = append(p.InitImages, t.Image)
			}
			res, err := env.Process(ctx, p)
			if err != nil {
				return nil, err
			}
			if out == nil {
				out = res
				initialInfo = at(res.Infotexts, 0)
			}
			p.Seed = res.Seed + 1
			done = append(done, res.Raw...)
		}
		for i, t := range work {
			if i < len(done) {
				t.Image = done[i]
			} else {
				t.Image = blank(p.Width, p.Height)
			}
		}
		results = append(results, CombineGrid(grid))
	}
	if out == nil {
		return nil, errors.New("sd upscale: no tiles")
	}
	// Processed(p, result_images, seed, initial_info): one infotext per
	// combined image, the first tile batch's.
	out.Raw = results
	out.Seed = seed
	out.Infotexts = make([]string, len(results))
	for i := range results {
		out.Infotexts[i] = addInfotextParams(initialInfo, [][2]string{
			{"SD upscale overlap", fmt.Sprint(args.overlap)},
			{"SD upscale upscaler", args.up.Name},
		})
	}
	out.IndexOfFirstImage = 0
	if ep := out.ExtraGenerationParams; ep != nil {
		ep.Set("SD upscale overlap", args.overlap)
		ep.Set("SD upscale upscaler", args.up.Name)
	}
	if b := results[0].Bounds(); b.Dx() > 0 {
		out.Width, out.Height = b.Dx(), b.Dy()
	}
	return out, nil
}

// Tile is one tile of a Grid: its left edge, width and image.
type Tile struct {
	X, W  int
	Image image.Image
}

// GridRow is one row of tiles: its top edge and height.
type GridRow struct {
	Y, H  int
	Tiles []Tile
}

// Grid is A1111's images.Grid: an image split into overlapping tiles.
type Grid struct {
	Rows                         []GridRow
	TileW, TileH, ImageW, ImageH int
	Overlap                      int
}

// GridSize is the rows and columns SplitGrid cuts a w×h image into.
func GridSize(w, h, tileW, tileH, overlap int) (rows, cols int, err error) {
	if overlap < 0 || tileW-overlap <= 0 || tileH-overlap <= 0 {
		return 0, 0, apierr.Invalid("", "sd upscale: overlap %d needs tiles larger than %dx%d", overlap, tileW, tileH)
	}
	cols = int(math.Ceil(float64(w-overlap) / float64(tileW-overlap)))
	rows = int(math.Ceil(float64(h-overlap) / float64(tileH-overlap)))
	if cols < 1 || rows < 1 {
		return 0, 0, apierr.Invalid("", "sd upscale: image %dx%d is within the %d pixel overlap", w, h, overlap)
	}
	return rows, cols, nil
}

// SplitGrid is images.split_grid: ceil((w-overlap)/(tile_w-overlap))
// columns spread evenly over the image (the last flush with its right
// edge), rows likewise; a tile reaching outside a small image is padded
// with black, as image.crop does. It returns ErrInvalid when overlap is
// not below the tile size or leaves no tile.
func SplitGrid(img image.Image, tileW, tileH, overlap int) (*Grid, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	rows, cols, err := GridSize(w, h, tileW, tileH, overlap)
	if err != nil {
		return nil, err
	}
	var dx, dy float64
	if cols > 1 {
		dx = float64(w-tileW) / float64(cols-1)
	}
	if rows > 1 {
		dy = float64(h-tileH) / float64(rows-1)
	}
	g := &Grid{TileW: tileW, TileH: tileH, ImageW: w, ImageH: h, Overlap: overlap}
	for r := range rows {
		y := int(float64(r) * dy)
		if y+tileH >= h {
			y = h - tileH
		}
		row := GridRow{Y: y, H: tileH}
		for c := range cols {
			x := int(float64(c) * dx)
			if x+tileW >= w {
				x = w - tileW
			}
			// image.crop: black where the box leaves the image.
			tile := blank(tileW, tileH).(*image.RGBA)
			draw.Draw(tile, tile.Bounds(), img, b.Min.Add(image.Pt(x, y)), draw.Over)
			row.Tiles = append(row.Tiles, Tile{X: x, W: tileW, Image: tile})
		}
		g.Rows = append(g.Rows, row)
	}
	return g, nil
}

// CombineGrid is images.combine_grid: tiles pasted left to right and rows
// top to bottom, the overlap of each with the previous blended through a
// linear ramp mask (uint8(i*255/overlap)) with Pillow's paste-with-mask
// arithmetic.
func CombineGrid(g *Grid) image.Image {
	out := image.NewRGBA(image.Rect(0, 0, g.ImageW, g.ImageH))
	ramp := make([]uint8, g.Overlap)
	for i := range ramp {
		ramp[i] = uint8(float32(i) * 255 / float32(g.Overlap))
	}
	for _, row := range g.Rows {
		line := image.NewRGBA(image.Rect(0, 0, g.ImageW, row.H))
		for _, t := range row.Tiles {
			src := toRGBA(t.Image)
			for y := range row.H {
				for x := range t.W {
					dx := t.X + x
					if dx < 0 || dx >= g.ImageW || x >= src.Rect.Dx() || y >= src.Rect.Dy() {
						continue
					}
					m := uint8(255)
					if t.X != 0 && x < g.Overlap {
						m = ramp[x]
					}
					blendPixel(line, dx, y, src, x, y, m)
				}
			}
		}
		for y := range row.H {
			oy := row.Y + y
			if oy < 0 || oy >= g.ImageH {
				continue
			}
			m := uint8(255)
			if row.Y != 0 && y < g.Overlap {
				m = ramp[y]
			}
			for x := range g.ImageW {
				blendPixel(out, x, oy, line, x, y, m)
			}
		}
	}
	return out
}

// blendPixel is Pillow's paste with an L mask for RGB images:
// out = (in*m + out*(255-m)) / 255 with Pillow's rounding.
func blendPixel(dst *image.RGBA, dx, dy int, src *image.RGBA, sx, sy int, m uint8) {
	do, so := dst.PixOffset(dx, dy), src.PixOffset(sx, sy)
	for c := range 3 {
		if m == 255 {
			dst.Pix[do+c] = src.Pix[so+c]
			continue
		}
		tmp := uint32(src.Pix[so+c])*uint32(m) + uint32(dst.Pix[do+c])*uint32(255-m) + 128
		dst.Pix[do+c] = uint8((tmp + (tmp >> 8)) >> 8)
	}
	dst.Pix[do+3] = 255
}

func toRGBA(img image.Image) *image.RGBA {
	if r, ok := img.(*image.RGBA); ok && r.Rect.Min == (image.Point{}) {
		return r
	}
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
	return dst
}
