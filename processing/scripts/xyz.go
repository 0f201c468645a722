package scripts

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strings"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing"
)

// XYZPlot is A1111's scripts/xyz_grid.py ("X/Y/Z plot"): one Process call
// per cell of up to three axes of values, then a grid per Z value and a
// grid of those grids.
//
// Args (A1111 1.10's order): x_type, x_values, x_values_dropdown, y_type,
// y_values, y_values_dropdown, z_type, z_values, z_values_dropdown,
// draw_legend, include_lone_images, include_sub_grids, no_fixed_seeds,
// vary_seeds_x, vary_seeds_y, vary_seeds_z, margin_size, csv_mode. The
// types index the axes shown in the mode (see AxisLabels). Values are
// text (CSV, with the ranges "1-5", "1-10 (+2)", "1-10 [5]" for int and
// float axes) or, for axes with choices and csv_mode false, the dropdown
// list.
//
// The result is the main grid (always, as A1111 returns it whatever
// save_images and return_grid say), then the Z sub-grids with
// include_sub_grids, then every cell's first image with
// include_lone_images. A cell whose Process call fails is a black image,
// as A1111 draws it; the job fails only when no cell succeeds.
type XYZPlot struct{}

var _ processing.SelectableScript = XYZPlot{}

// Title implements processing.Script.
func (XYZPlot) Title() string { return "X/Y/Z plot" }

// Show implements processing.Script: both modes.
func (XYZPlot) Show(processing.Mode) bool { return true }

// AlwaysOn implements processing.Script.
func (XYZPlot) AlwaysOn() bool { return false }

// AxisLabels lists the axis types of mode, in x_type index order.
func AxisLabels(mode processing.Mode) []string {
	axes := axesFor(mode)
	out := make([]string, len(axes))
	for i, a := range axes {
		out[i] = a.Label
	}
	return out
}

// Args implements processing.Script.
func (XYZPlot) Args(mode processing.Mode) []processing.ArgInfo {
	labels := AxisLabels(mode)
	axis := func(name, value string) []processing.ArgInfo {
		return []processing.ArgInfo{
			{Label: name + " type", Value: value, Choices: labels},
			textbox(name + " values"),
			{Label: name + " values", Value: []any{}, Choices: []string{}},
		}
	}
	var args []processing.ArgInfo
	args = append(args, axis("X", labels[1])...)
	args = append(args, axis("Y", labels[0])...)
	args = append(args, axis("Z", labels[0])...)
	return append(args,
		checkbox("Draw legend", true),
		checkbox("Include Sub Images", false),
		checkbox("Include Sub Grids", false),
		checkbox("Keep -1 for seeds", false),
		checkbox("Vary seeds for X", false),
		checkbox("Vary seeds for Y", false),
		checkbox("Vary seeds for Z", false),
		slider("Grid margins (px)", 0, 0, 500, 2),
		checkbox("Use text inputs instead of dropdowns", false),
	)
}

// axisArg resolves an axis type argument: an index into the mode's axes
// (what the UI and API send), or a label.
func axisArg(axes []Axis, v any) (Axis, error) {
	switch x := v.(type) {
	case nil:
		return axes[0], nil
	case float64:
		i := int(x)
		if float64(i) == x && i >= 0 && i < len(axes) {
			return axes[i], nil
		}
	case string:
		for _, a := range axes {
			if a.Label == x {
				return a, nil
			}
		}
	}
	return Axis{}, apierr.Invalid("", "X/Y/Z plot: unknown axis type %v", v)
}

type xyzAxis struct {
	opt  Axis
	text string
	vals []any
}

// xyzArgs are x/y/z plot's script_args by name, in the order of A1111's
// Script.run: per axis (X, Y, Z) its type, values and dropdown values, then
// draw_legend (9), include_lone_images, include_sub_grids, no_fixed_seeds,
// vary_seeds_x/y/z, margin_size (16) and csv_mode. The legend and margin
// are not drawn here, so they are not read.
type xyzArgs struct {
	axes                         [3]xyzAxisArgs
	includeLone, includeSubGrids bool
	noFixedSeeds                 bool
	varySeeds                    [3]bool
	csvMode                      bool
}

type xyzAxisArgs struct {
	typ      any // an index into the mode's axes, or a label
	values   string
	dropdown []string
}

func parseXYZArgs(args []any) xyzArgs {
	a := xyzArgs{
		includeLone:     argBool(args, 10),
		includeSubGrids: argBool(args, 11),
		noFixedSeeds:    argBool(args, 12),
		varySeeds:       [3]bool{argBool(args, 13), argBool(args, 14), argBool(args, 15)},
		csvMode:         argBool(args, 17),
	}
	for i := range a.axes {
		a.axes[i] = xyzAxisArgs{typ: at(args, 3*i), values: argString(args, 3*i+1), dropdown: argStrings(args, 3*i+2)}
	}
	return a
}

// Run implements processing.SelectableScript.
func (XYZPlot) Run(ctx context.Context, env processing.ScriptEnv, p processing.Params, rawArgs []any) (*processing.Processed, error) {
	args := parseXYZArgs(rawArgs)
	if !args.noFixedSeeds {
		p.Seed = env.FixSeed(p.Seed)
		p.Subseed = env.FixSeed(p.Subseed)
	}
	if !env.Bool("return_grid", true) {
		p.BatchSize = 1
	}
	axes := axesFor(p.Mode)
	var ax [3]xyzAxis
	for i := range ax {
		opt, err := axisArg(axes, args.axes[i].typ)
		if err != nil {
			return nil, err
		}
		text, dropdown := args.axes[i].values, args.axes[i].dropdown
		if opt.hasChoices && !args.csvMode {
			text = csvJoin(dropdown)
		}
		vals, err := AxisValues(opt, text, dropdown, args.csvMode)
		if err != nil {
			return nil, err
		}
		if err := opt.Confirm(env, vals); err != nil {
			return nil, err
		}
		if !args.noFixedSeeds && (opt.Label == "Seed" || opt.Label == "Var. seed") {
			for j, v := range vals {
				if v == -1 {
					vals[j] = int(env.FixSeed(-1))
				}
			}
		}
		ax[i] = xyzAxis{opt: opt, text: text, vals: vals}
	}
	xs, ys, zs := ax[0].vals, ax[1].vals, ax[2].vals
	cells := len(xs) * len(ys) * len(zs)
	if cells == 0 {
		return nil, apierr.Invalid("", "X/Y/Z plot: an axis has no values")
	}
	maxMP := env.Number("img_max_size_mp", 200)
	if mp := float64(cells*p.Width*p.Height) / 1e6; mp+0.5 >= maxMP {
		return nil, apierr.Invalid("", "resulting grid would be too large (%.0f MPixels) (max configured size is %v MPixels)", mp, maxMP)
	}

	type cellResult struct {
		img      image.Image
		prompt   string
		seed     int64
		infotext string
	}
	results := make([]cellResult, cells)
	index := func(ix, iy, iz int) int { return ix + iy*len(xs) + iz*len(xs)*len(ys) }
	var template *processing.Processed
	var firstErr error
	var subgridInfo = make([]string, len(zs))
	var mainInfo string
	calls := 0

	cell := func(ix, iy, iz int) error {
		if calls > 0 && env.Interrupted() {
			return nil
		}
		calls++
		pc := p
		pc.Styles = append([]string(nil), p.Styles...)
		for i, v := range []any{xs[ix], ys[iy], zs[iz]} {
			if err := ax[i].opt.applyTo(env, &pc, v, ax[i].vals); err != nil {
				return err
			}
		}
		xdim, ydim := 1, 1
		if args.varySeeds[0] {
			xdim = len(xs)
			pc.Seed += int64(ix)
		}
		if args.varySeeds[1] {
			ydim = len(ys)
			pc.Seed += int64(iy * xdim)
		}
		if args.varySeeds[2] {
			pc.Seed += int64(iz * xdim * ydim)
		}
		res, err := env.Process(ctx, pc)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			if firstErr == nil {
				firstErr = err
			}
			return nil
		}
		if template == nil {
			template = res
		}
		if len(res.Raw) > 0 {
			results[index(ix, iy, iz)] = cellResult{res.Raw[0], at(res.AllPrompts, 0), res.Seed, at(res.Infotexts, 0)}
		}
		if ix == 0 && iy == 0 && subgridInfo[iz] == "" {
			kv := [][2]string{{"Script", "X/Y/Z plot"}}
			for i, name := range []string{"X", "Y"} {
				if ax[i].opt.Label == "Nothing" {
					continue
				}
				kv = append(kv, [2]string{name + " Type", ax[i].opt.Label}, [2]string{name + " Values", ax[i].text})
				if (ax[i].opt.Label == "Seed" || ax[i].opt.Label == "Var. seed") && !args.noFixedSeeds {
					kv = append(kv, [2]string{"Fixed " + name + " Values", joinValues(ax[i].vals)})
				}
			}
			subgridInfo[iz] = addInfotextParams(at(res.Infotexts, 0), kv)
			if iz == 0 && mainInfo == "" {
				mkv := kv
				if ax[2].opt.Label != "Nothing" {
					mkv = append(append([][2]string(nil), kv...), [2]string{"Z Type", ax[2].opt.Label}, [2]string{"Z Values", ax[2].text})
					if (ax[2].opt.Label == "Seed" || ax[2].opt.Label == "Var. seed") && !args.noFixedSeeds {
						mkv = append(mkv, [2]string{"Fixed Z Values", joinValues(zs)})
					}
				}
				mainInfo = addInfotextParams(at(res.Infotexts, 0), mkv)
			}
		}
		return nil
	}

	// The costliest axis changes least often; by default Z, then Y, then
	// X innermost.
	order := loopOrder(ax[0].opt.cost, ax[1].opt.cost, ax[2].opt.cost)
	lens := [3]int{len(xs), len(ys), len(zs)}
	var idx [3]int
	for idx[order[0]] = 0; idx[order[0]] < lens[order[0]]; idx[order[0]]++ {
		for idx[order[1]] = 0; idx[order[1]] < lens[order[1]]; idx[order[1]]++ {
			for idx[order[2]] = 0; idx[order[2]] < lens[order[2]]; idx[order[2]]++ {
				if err := cell(idx[0], idx[1], idx[2]); err != nil {
					return nil, err
				}
			}
		}
	}
	if template == nil {
		if firstErr == nil {
			firstErr = errors.New("X/Y/Z plot made no image")
		}
		return nil, firstErr
	}

	// draw_xyz_grid: missing cells are black, one grid per Z value, then
	// the grid of those.
	cellW, cellH := template.Width, template.Height
	for _, r := range results {
		if r.img != nil {
			cellW, cellH = r.img.Bounds().Dx(), r.img.Bounds().Dy()
			break
		}
	}
	imgs := make([]image.Image, cells)
	prompts := make([]string, cells)
	seeds := make([]int64, cells)
	infos := make([]string, cells)
	for i, r := range results {
		imgs[i], prompts[i], seeds[i], infos[i] = r.img, r.prompt, r.seed, r.infotext
		if imgs[i] == nil {
			imgs[i] = blank(cellW, cellH)
		}
	}
	per := len(xs) * len(ys)
	for i := range zs {
		start := i*per + i
		grid := processing.ImageGrid(imgs[start:start+per], len(ys))
		imgs = insert(imgs, i, grid)
		prompts = insert(prompts, i, prompts[start])
		seeds = insert(seeds, i, seeds[start])
		infos = insert(infos, i, subgridInfo[i])
	}
	zGrid := processing.ImageGrid(imgs[:len(zs)], 1)
	imgs = insert(imgs, 0, zGrid)
	infos = insert(infos, 0, mainInfo)

	if !args.includeLone {
		imgs = imgs[:len(zs)+1]
	}
	if !args.includeSubGrids {
		for range zs {
			imgs = append(imgs[:1], imgs[2:]...)
			prompts = append(prompts[:1], prompts[2:]...)
			seeds = append(seeds[:1], seeds[2:]...)
			infos = append(infos[:1], infos[2:]...)
		}
	}
	out := template
	out.Raw = imgs
	out.AllPrompts = prompts
	out.AllSeeds = seeds
	out.Infotexts = infos
	out.IndexOfFirstImage = 1
	return out, nil
}

// loopOrder is A1111's first_axes_processed/second_axes_processed: the
// axis indices (0 x, 1 y, 2 z) from the outermost loop to the innermost.
func loopOrder(x, y, z float64) [3]int {
	switch {
	case x > y && x > z:
		if y > z {
			return [3]int{0, 1, 2}
		}
		return [3]int{0, 2, 1}
	case y > x && y > z:
		if x > z {
			return [3]int{1, 0, 2}
		}
		return [3]int{1, 2, 0}
	case z > x && z > y:
		if x > y {
			return [3]int{2, 0, 1}
		}
		return [3]int{2, 1, 0}
	}
	return [3]int{2, 1, 0}
}

func joinValues(vs []any) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, ", ")
}

// csvJoin is list_to_csv_string.
func csvJoin(list []string) string {
	s := make([]string, len(list))
	for i, v := range list {
		if strings.ContainsAny(v, ",\"\r\n") {
			v = `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
		}
		s[i] = v
	}
	return strings.Join(s, ",")
}
