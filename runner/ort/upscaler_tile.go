package ort

import (
	"context"
	"fmt"
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
	out := make([]float32, 3*W*h*s)
	tile := make([]float32, 3*tw*th)
	for _, y := range tilePositions(h, th, oy) {
		vh := min(th, h-y) // rows of this tile inside the image
		row := make([]float32, 3*W*vh*s)
		for _, x := range tilePositions(w, tw, ox) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			vw := min(tw, w-x)
			cutTile(tile, px, w, h, x, y, tw, th)
			up, ow, oh, err := u.run(ro, tile, tw, th)
			if err != nil {
				return nil, err
			}
			if ow != tw*s || oh != th*s {
				return nil, fmt.Errorf("tile %dx%d gave %dx%d, want %dx scale", tw, th, ow, oh, s)
			}
			blend(row, W, vh*s, up, ow, oh, x*s, 0, vw*s, vh*s, ox*s, true, x == 0)
		}
		blend(out, W, h*s, row, W, vh*s, 0, y*s, W, vh*s, oy*s, false, y == 0)
	}
	return out, nil
}

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

// cutTile copies the tw×th tile at (x, y) of the planar 3×h×w image src
// into dst, repeating edge pixels where the tile leaves the image.
func cutTile(dst, src []float32, w, h, x, y, tw, th int) {
	for c := range 3 {
		for ty := range th {
			sy := min(y+ty, h-1)
			for tx := range tw {
				sx := min(x+tx, w-1)
				dst[c*tw*th+ty*tw+tx] = src[c*w*h+sy*w+sx]
			}
		}
	}
}

// blend pastes the top-left vw×vh of the planar 3×sh×sw image src into
// the planar 3×dh×dw image dst at (x, y). Unless first, the first o
// columns (horizontal) or rows of the paste are mixed with what dst holds
// there, the new weight rising linearly from 0, as combine_grid's masks.
func blend(dst []float32, dw, dh int, src []float32, sw, sh int, x, y, vw, vh, o int, horizontal, first bool) {
	for c := range 3 {
		d, s := dst[c*dw*dh:], src[c*sw*sh:]
		for j := range vh {
			for i := range vw {
				v := s[j*sw+i]
				k := j
				if horizontal {
					k = i
				}
				at := (y+j)*dw + x + i
				if !first && k < o {
					a := float32(k) / float32(o)
					v = d[at]*(1-a) + v*a
				}
				d[at] = v
			}
		}
	}
}
