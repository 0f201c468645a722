package processing

import (
	"image"
	"image/color"
	"image/draw"
	"math"
)

// GridLayout holds the options A1111's images.image_grid reads when it is
// given no row count: n_rows (-1 by default) and grid_prevent_empty_spots.
type GridLayout struct {
	NRows             int
	PreventEmptySpots bool
}

// Rows is image_grid's row count for n images of a batch of batchSize:
// n_rows when positive, batch_size when 0, else the largest divisor of n
// not above √n with grid_prevent_empty_spots, else round(√n); never more
// rows than images.
func (g GridLayout) Rows(n, batchSize int) int {
	var rows int
	switch {
	case g.NRows > 0:
		rows = g.NRows
	case g.NRows == 0:
		rows = batchSize
	case g.PreventEmptySpots:
		rows = int(math.Floor(math.Sqrt(float64(n))))
		for rows > 1 && n%rows != 0 {
			rows--
		}
	default:
		rows = int(math.RoundToEven(math.Sqrt(float64(n)))) // Python's round
	}
	return max(min(rows, n), 1)
}

// ImageGrid is images.image_grid with the row count given: ceil(n/rows)
// columns, every cell the size of the largest image, smaller images
// centred, on grid_background_color's default white. One image is its
// own grid, returned as is.
func ImageGrid(imgs []image.Image, rows int) image.Image {
	if len(imgs) == 1 {
		return imgs[0]
	}
	rows = max(min(rows, len(imgs)), 1)
	cols := int(math.Ceil(float64(len(imgs)) / float64(rows)))
	w, h := 0, 0
	for _, img := range imgs {
		w = max(w, img.Bounds().Dx())
		h = max(h, img.Bounds().Dy())
	}
	grid := image.NewRGBA(image.Rect(0, 0, cols*w, rows*h))
	draw.Draw(grid, grid.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	for i, img := range imgs {
		b := img.Bounds()
		x := i%cols*w + (w-b.Dx())/2
		y := i/cols*h + (h-b.Dy())/2
		draw.Draw(grid, image.Rect(x, y, x+b.Dx(), y+b.Dy()), img, b.Min, draw.Src)
	}
	return grid
}
