package clip

import "fmt"

// Emphasis is A1111's opts.emphasis (modules/sd_emphasis.py).
type Emphasis string

// The emphasis modes of A1111 1.10.
const (
	// EmphasisNone disables the mechanism: (, [, : and BREAK stay literal text.
	EmphasisNone Emphasis = "None"
	// EmphasisIgnore parses the syntax but applies no multipliers.
	EmphasisIgnore Emphasis = "Ignore"
	// EmphasisOriginal multiplies z by the weights, then restores the mean of z.
	EmphasisOriginal Emphasis = "Original"
	// EmphasisNoNorm multiplies z by the weights without restoring the mean.
	EmphasisNoNorm Emphasis = "No norm"
)

// ParseEmphasis maps an opts.emphasis value to a mode; like A1111's
// get_current_option, unknown names fall back to Original.
func ParseEmphasis(name string) Emphasis {
	switch e := Emphasis(name); e {
	case EmphasisNone, EmphasisIgnore, EmphasisOriginal, EmphasisNoNorm:
		return e
	}
	return EmphasisOriginal
}

// ApplyEmphasis applies mode to the text encoder output z in place, as A1111's
// Emphasis.after_transformers does. z holds shape[0] rows of shape[1] floats (one row
// per token: [seq, dim], or [batch·seq, dim] for a batch) and multipliers has one
// value per row. Original computes the mean over all of z, so pass exactly the rows
// A1111 would batch together (one chunk of every text in the batch). When the scaled
// mean is 0, the rescale is skipped (torch would produce Inf/NaN).
func ApplyEmphasis(mode Emphasis, z []float32, shape [2]int, multipliers []float32) error {
	rows, dim := shape[0], shape[1]
	if rows < 0 || dim < 0 || rows*dim != len(z) {
		return fmt.Errorf("clip: emphasis: z has %d values, shape %v", len(z), shape)
	}
	if len(multipliers) != rows {
		return fmt.Errorf("clip: emphasis: %d multipliers for %d rows", len(multipliers), rows)
	}
	if mode != EmphasisOriginal && mode != EmphasisNoNorm {
		return nil
	}
	var before, after float64
	for r := range rows {
		m := multipliers[r]
		row := z[r*dim : (r+1)*dim]
		for i, v := range row {
			before += float64(v)
			row[i] = v * m
			after += float64(row[i])
		}
	}
	if mode == EmphasisNoNorm || len(z) == 0 || after == 0 {
		return nil
	}
	// z * (original_mean / new_mean); the element count cancels.
	scale := float32((before / float64(len(z))) / (after / float64(len(z))))
	for i := range z {
		z[i] *= scale
	}
	return nil
}
