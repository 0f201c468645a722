package processing

import (
	"image"
	"image/color"
	"testing"
)

// Rows follows images.image_grid: n_rows, batch_size for 0, the divisor
// rule with grid_prevent_empty_spots, else round(√n) (Python's round).
func TestGridRows(t *testing.T) {
	for _, tc := range []struct {
		g              GridLayout
		n, batch, want int
	}{
		{GridLayout{NRows: -1}, 4, 1, 2}, {GridLayout{NRows: -1}, 6, 1, 2}, {GridLayout{NRows: -1}, 7, 1, 3},
		{GridLayout{NRows: -1}, 2, 1, 1}, {GridLayout{NRows: -1}, 1, 1, 1},
		{GridLayout{NRows: 0}, 6, 3, 3}, {GridLayout{NRows: 5}, 3, 1, 3}, {GridLayout{NRows: 2}, 6, 1, 2},
		{GridLayout{NRows: -1, PreventEmptySpots: true}, 6, 1, 2}, {GridLayout{NRows: -1, PreventEmptySpots: true}, 7, 1, 1},
	} {
		if got := tc.g.Rows(tc.n, tc.batch); got != tc.want {
			t.Errorf("%+v.Rows(%d, %d) = %d, want %d", tc.g, tc.n, tc.batch, got, tc.want)
		}
	}
}

// Smaller images are centred in cells the size of the largest, on white.
func TestImageGridCentresOnWhite(t *testing.T) {
	big := image.NewRGBA(image.Rect(0, 0, 4, 4))
	small := image.NewRGBA(image.Rect(0, 0, 2, 2)) // transparent black
	g := ImageGrid([]image.Image{big, small}, 1)
	if b := g.Bounds(); b.Dx() != 8 || b.Dy() != 4 {
		t.Fatalf("grid %v, want 8×4", b)
	}
	if c := color.RGBAModel.Convert(g.At(4, 0)).(color.RGBA); c != (color.RGBA{255, 255, 255, 255}) {
		t.Errorf("cell margin %v, want white", c)
	}
	if c := color.RGBAModel.Convert(g.At(5, 1)).(color.RGBA); c != (color.RGBA{}) {
		t.Errorf("centred small image %v, want its own pixel", c)
	}
}
