package ort

import (
	"context"
	"fmt"
	"image"
	"math"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// Tile defaults, A1111's ESRGAN_tile and ESRGAN_tile_overlap options.
const (
	defaultTile    = 192
	defaultOverlap = 8
)

// tiled runs the model over px (planar 3×h×w) and returns the planar
// 3×(h·s)×(w·s) result.
//
// Tiling follows A1111's upscale_with_model: images.split_grid cuts tiles
// of Tile×Tile overlapping by Overlap, spread evenly with the last one
// flush against the far edge; combine_grid pastes each tile over the one
// before it with a linear ramp across the overlap, first along a row of
// tiles, then row under row. Bounded tiles keep memory and a single run's
// latency bounded on large images. Differences from A1111: an image
// narrower than a tile runs as one tile of its own size (A1111 pads it
// with black), except for models with a fixed input size, whose tiles are
// padded by repeating edge pixels and cropped after the run; and the ramp
// is float (A1111 quantises it to 8 bits).
func (u *Upscaler) tiled(ctx context.Context, ro *onnxruntime.RunOptions, px []float32, w, h int) ([]float32, error) {
	tw, th := u.tileSize(w, h)
	overlap := u.cfg.Overlap
	if overlap <= 0 {
		overlap = defaultOverlap
	}
	ox, oy := min(overlap, tw-1), min(overlap, th-1)
	s := u.scale
	W := w * s
	src := planar{px: px, w: w, h: h}
	out := newPlanar(W, h*s)
	tile := newPlanar(tw, th)
	for _, y := range tilePositions(h, th, oy) {
		vh := min(th, h-y) // rows of this tile inside the image
		row := newPlanar(W, vh*s)
		for _, x := range tilePositions(w, tw, ox) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			vw := min(tw, w-x)
			cutTile(tile, src, x, y)
			up, ow, oh, err := u.run(ro, tile.px, tw, th)
			if err != nil {
				return nil, err
			}
			if ow != tw*s || oh != th*s {
				return nil, fmt.Errorf("tile %dx%d gave %dx%d, want %dx scale", tw, th, ow, oh, s)
			}
			blend(row, planar{px: up, w: ow, h: oh}, image.Rect(x*s, 0, (x+vw)*s, vh*s), seam{overlap: ox * s, horizontal: true, first: x == 0})
		}
		blend(out, row, image.Rect(0, y*s, W, (y+vh)*s), seam{overlap: oy * s, first: y == 0})
	}
	return out.px, nil
}

// planar is a three-channel image stored plane after plane: 3×h×w.
type planar struct {
	px   []float32
	w, h int
}

func newPlanar(w, h int) planar { return planar{px: make([]float32, 3*w*h), w: w, h: h} }

// tileSize is the model's input size per run.
func (u *Upscaler) tileSize(w, h int) (int, int) {
	switch {
	case u.fixedW > 0:
		return u.fixedW, u.fixedH
	case u.cfg.Tile < 0:
		return w, h
	}
	t := u.cfg.Tile
	if t == 0 {
		t = defaultTile
	}
	return min(t, w), min(t, h)
}

// tilePositions is split_grid along one axis: the start of each tile of
// length t over n with overlap o.
func tilePositions(n, t, o int) []int {
	if n <= t {
		return []int{0}
	}
	count := int(math.Ceil(float64(n-o) / float64(t-o)))
	d := float64(n-t) / float64(count-1)
	pos := make([]int, count)
	for i := range pos {
		p := int(float64(i) * d)
		if p+t >= n {
			p = n - t
		}
		pos[i] = p
	}
	return pos
}

// cutTile fills dst with the dst.w×dst.h tile of src at (x, y),
// repeating edge pixels where the tile leaves the image.
func cutTile(dst, src planar, x, y int) {
	tw, th := dst.w, dst.h
	for c := range 3 {
		for ty := range th {
			sy := min(y+ty, src.h-1)
			for tx := range tw {
				sx := min(x+tx, src.w-1)
				dst.px[c*tw*th+ty*tw+tx] = src.px[c*src.w*src.h+sy*src.w+sx]
			}
		}
	}
}

// seam is how a pasted tile meets what is already there: unless first,
// the first overlap columns (horizontal) or rows of the paste are mixed
// with it, the new weight rising linearly from 0, as combine_grid's masks.
type seam struct {
	overlap           int
	horizontal, first bool
}

// blend pastes the top-left r.Dx()×r.Dy() of src into dst at r, across
// the seam s.
func blend(dst, src planar, r image.Rectangle, s seam) {
	x, y, vw, vh := r.Min.X, r.Min.Y, r.Dx(), r.Dy()
	for c := range 3 {
		d, sp := dst.px[c*dst.w*dst.h:], src.px[c*src.w*src.h:]
		for j := range vh {
			for i := range vw {
				v := sp[j*src.w+i]
				k := j
				if s.horizontal {
					k = i
				}
				at := (y+j)*dst.w + x + i
				if !s.first && k < s.overlap {
					a := float32(k) / float32(s.overlap)
					v = d[at]*(1-a) + v*a
				}
				d[at] = v
			}
		}
	}
}
