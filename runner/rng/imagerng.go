package rng

import (
	"fmt"
	"math"
)

// Shape is the per-image latent noise shape (channels, height, width), as
// A1111 passes (opt_C, height // opt_f, width // opt_f) to rng.ImageRNG.
type Shape struct {
	C, H, W int
}

// Numel returns the number of elements, C·H·W.
func (s Shape) Numel() int { return s.C * s.H * s.W }

// Option configures an ImageRNG.
type Option func(*ImageRNG)

// WithEtaNoiseSeedDelta sets A1111's eta_noise_seed_delta (ENSD) option.
// When it is non-zero, the first Next call is unchanged, and the
// generators for later calls (the sampler's noise) are re-created from
// seed+delta, as A1111's ImageRNG.first does.
func WithEtaNoiseSeedDelta(delta int64) Option {
	return func(r *ImageRNG) { r.ensd = delta }
}

// ImageRNG is A1111's modules/rng.py ImageRNG: one generator per image,
// variation seeds (subseeds) blended with slerp, and noise generated at a
// different resolution pasted at the centre ("seed resize"). An ImageRNG is
// not safe for concurrent use.
type ImageRNG struct {
	src             Source
	shape           Shape
	seeds           []int64
	subseeds        []int64
	subseedStrength float64
	resizeH         int
	resizeW         int
	ensd            int64

	generators []Generator
	started    bool
}

// Batch is the seeds of one batch, with the meaning of A1111's request
// fields.
type Batch struct {
	// Seeds has one entry per image.
	Seeds []int64
	// Subseeds and SubseedStrength are the variation: a nil Subseeds
	// disables it; as in A1111, an image without an entry in a non-nil
	// Subseeds uses subseed 0.
	Subseeds        []int64
	SubseedStrength float64
	// ResizeFromH and ResizeFromW are seed_resize_from_h and
	// seed_resize_from_w, in pixels; 0 or less disables resizing.
	ResizeFromH, ResizeFromW int
}

// New returns an ImageRNG for batch b: len(b.Seeds) images of the given
// per-image shape. Errors wrap ErrUnknownSource or ErrInvalidShape.
func New(src Source, shape Shape, b Batch, opts ...Option) (*ImageRNG, error) {
	if shape.C <= 0 || shape.H <= 0 || shape.W <= 0 || len(b.Seeds) == 0 {
		return nil, fmt.Errorf("%w: %d images of %dx%dx%d", ErrInvalidShape, len(b.Seeds), shape.C, shape.H, shape.W)
	}
	r := &ImageRNG{
		src:             src,
		shape:           shape,
		seeds:           b.Seeds,
		subseeds:        b.Subseeds,
		subseedStrength: b.SubseedStrength,
		resizeH:         b.ResizeFromH,
		resizeW:         b.ResizeFromW,
	}
	for _, o := range opts {
		o(r)
	}
	gens, err := r.newGenerators(0)
	if err != nil {
		return nil, err
	}
	r.generators = gens
	return r, nil
}

// Shape returns the per-image noise shape.
func (r *ImageRNG) Shape() Shape { return r.shape }

// Next returns the next noise for the whole batch, len(seeds)·C·H·W values
// in NCHW order. The first call gives the initial latent noise (A1111's
// ImageRNG.first); later calls give each image's next draw from its own
// generator, as the k-diffusion samplers' randn_like does.
func (r *ImageRNG) Next() []float32 {
	if !r.started {
		r.started = true
		return r.first()
	}
	n := r.shape.Numel()
	out := make([]float32, len(r.generators)*n)
	for i, g := range r.generators {
		g.Randn(out[i*n : (i+1)*n])
	}
	return out
}

func (r *ImageRNG) newGenerators(delta int64) ([]Generator, error) {
	gens := make([]Generator, len(r.seeds))
	for i, seed := range r.seeds {
		g, err := NewGenerator(r.src, seed+delta)
		if err != nil {
			return nil, err
		}
		gens[i] = g
	}
	return gens, nil
}

// first follows ImageRNG.first in modules/rng.py.
func (r *ImageRNG) first() []float32 {
	noiseShape := r.shape
	if r.resizeH > 0 && r.resizeW > 0 {
		noiseShape = Shape{C: r.shape.C, H: r.resizeH / 8, W: r.resizeW / 8}
	}
	resized := noiseShape != r.shape
	n := r.shape.Numel()
	out := make([]float32, len(r.seeds)*n)
	for i, seed := range r.seeds {
		var subnoise []float32
		if r.subseeds != nil && r.subseedStrength != 0 {
			var subseed int64
			if i < len(r.subseeds) {
				subseed = r.subseeds[i]
			}
			subnoise = r.fresh(subseed, noiseShape.Numel())
		}
		var noise []float32
		if resized {
			noise = r.fresh(seed, noiseShape.Numel())
		} else {
			noise = make([]float32, n)
			r.generators[i].Randn(noise)
		}
		if subnoise != nil {
			noise = slerp(r.subseedStrength, noise, subnoise, noiseShape)
		}
		dst := out[i*n : (i+1)*n]
		if resized {
			r.generators[i].Randn(dst)
			paste(dst, r.shape, noise, noiseShape)
		} else {
			copy(dst, noise)
		}
	}
	if r.ensd != 0 {
		// NewGenerator cannot fail here: New already built generators for src.
		gens, _ := r.newGenerators(r.ensd)
		r.generators = gens
	}
	return out
}

// fresh is A1111's rng.randn(seed, shape): the first draw of a newly seeded
// generator.
func (r *ImageRNG) fresh(seed int64, n int) []float32 {
	g, _ := NewGenerator(r.src, seed) // src was validated by New
	out := make([]float32, n)
	g.Randn(out)
	return out
}

// paste copies the centre of src (shape ss) into dst (shape ds), or src into
// the centre of dst, as ImageRNG.first does for seed_resize_from_w/h,
// including Python's floor division for odd differences.
func paste(dst []float32, ds Shape, src []float32, ss Shape) {
	dx := floorDiv(ds.W-ss.W, 2)
	dy := floorDiv(ds.H-ss.H, 2)
	w, h := ss.W, ss.H
	if dx < 0 {
		w = ss.W + 2*dx
	}
	if dy < 0 {
		h = ss.H + 2*dy
	}
	tx, ty := max(dx, 0), max(dy, 0)
	sx, sy := max(-dx, 0), max(-dy, 0)
	// The ranges above always fit both tensors; the clamp is defensive.
	w = min(w, ds.W-tx, ss.W-sx)
	h = min(h, ds.H-ty, ss.H-sy)
	if w <= 0 || h <= 0 {
		return
	}
	for c := 0; c < ds.C; c++ {
		for y := 0; y < h; y++ {
			d := dst[(c*ds.H+ty+y)*ds.W+tx:]
			s := src[(c*ss.H+sy+y)*ss.W+sx:]
			copy(d[:w], s[:w])
		}
	}
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// slerp is A1111's rng.slerp(val, low, high) on one image of shape s. As in
// A1111 (torch.norm(…, dim=1) on a C×H×W tensor), the vectors are the
// columns along H: one angle per (channel, x). When the mean cosine exceeds
// 0.9995 A1111 falls back to low·val + high·(1−val), with the weights the
// other way round from the slerp; that is kept. Cosines are clamped to
// [−1, 1] where float rounding pushes them out (A1111 would give NaN there).
func slerp(val float64, low, high []float32, s Shape) []float32 {
	cols := s.C * s.W
	dots := make([]float64, cols)
	var sum float64
	for c := 0; c < s.C; c++ {
		for x := 0; x < s.W; x++ {
			var ll, hh, lh float64
			for y := 0; y < s.H; y++ {
				i := (c*s.H+y)*s.W + x
				l, h := float64(low[i]), float64(high[i])
				ll += l * l
				hh += h * h
				lh += l * h
			}
			d := lh / (math.Sqrt(ll) * math.Sqrt(hh))
			dots[c*s.W+x] = d
			sum += d
		}
	}
	out := make([]float32, len(low))
	if cols > 0 && sum/float64(cols) > 0.9995 {
		for i := range out {
			out[i] = float32(float64(low[i])*val + float64(high[i])*(1-val))
		}
		return out
	}
	for c := 0; c < s.C; c++ {
		for x := 0; x < s.W; x++ {
			omega := math.Acos(max(-1, min(1, dots[c*s.W+x])))
			so := math.Sin(omega)
			a := math.Sin((1-val)*omega) / so
			b := math.Sin(val*omega) / so
			for y := 0; y < s.H; y++ {
				i := (c*s.H+y)*s.W + x
				out[i] = float32(a*float64(low[i]) + b*float64(high[i]))
			}
		}
	}
	return out
}
