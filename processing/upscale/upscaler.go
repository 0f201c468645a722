package upscale

import (
	"cmp"
	"context"
	"fmt"
	"image"
	"math"
	"slices"
	"strings"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/internal/imgconv"
)

// ModelUpscaler is an upscaling model (ESRGAN-like, run through ONNX
// Runtime for instance). Upscale returns img enlarged by Scale() in both
// dimensions; it returns ctx.Err() when ctx ends first. A1111 calls it
// repeatedly until the requested scale is reached and then resizes to the
// exact size with Lanczos (see Upscaler.Upscale).
type ModelUpscaler interface {
	Upscale(ctx context.Context, img image.Image) (image.Image, error)
	Scale() int
}

// Upscaler is one entry of A1111's shared.sd_upscalers, with the fields
// /sdapi/v1/upscalers reports. The built-in entries have nil ModelName,
// ModelPath and ModelURL and Scale 4, as A1111's UpscalerData defaults.
// The zero Upscaler behaves as "None".
type Upscaler struct {
	Name      string
	ModelName *string
	ModelPath *string
	ModelURL  *string
	Scale     float64

	kind  upscalerKind
	model ModelUpscaler
}

type upscalerKind int

const (
	kindNone upscalerKind = iota
	kindLanczos
	kindNearest
	kindModel
)

// Builtin returns A1111's three built-in upscalers, in A1111's order:
// None, Lanczos, Nearest.
func Builtin() []Upscaler {
	return []Upscaler{
		{Name: "None", Scale: 4, kind: kindNone},
		{Name: "Lanczos", Scale: 4, kind: kindLanczos},
		{Name: "Nearest", Scale: 4, kind: kindNearest},
	}
}

// NewModelUpscaler describes a model upscaler for the registry. name is
// what requests select (A1111 uses the model file's base name), modelName
// the family ("ESRGAN", "RealESRGAN", …) and path the model file.
func NewModelUpscaler(name, modelName, path string, m ModelUpscaler) Upscaler {
	return Upscaler{
		Name:      name,
		ModelName: &modelName,
		ModelPath: &path,
		Scale:     float64(m.Scale()),
		kind:      kindModel,
		model:     m,
	}
}

// IsNone reports whether u is the "None" upscaler (or the zero Upscaler).
func (u Upscaler) IsNone() bool { return u.kind == kindNone }

// doUpscale is A1111's do_upscale: one step of the upscaler. scale is the
// total scale requested, which the PIL upscalers apply at every step.
func (u Upscaler) doUpscale(ctx context.Context, img *image.NRGBA, scale float64) (*image.NRGBA, error) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	switch u.kind {
	case kindLanczos, kindNearest:
		nw, nh := int(float64(w)*scale), int(float64(h)*scale)
		if nw <= 0 || nh <= 0 {
			return nil, apierr.Invalid("", "%s upscale of %dx%d by %v gives %dx%d", u.Name, w, h, scale, nw, nh)
		}
		f := Lanczos
		if u.kind == kindNearest {
			f = Nearest
		}
		return resizeBox(img, nw, nh, f, fullBox(img)), nil
	case kindModel:
		out, err := u.model.Upscale(ctx, img)
		if err != nil {
			return nil, fmt.Errorf("upscaler %s: %w", u.Name, err)
		}
		return imgconv.ToNRGBA(out), nil
	}
	return img, nil
}

// Upscale is A1111's Upscaler.upscale: the target is (w*scale)//8*8 by
// (h*scale)//8*8; do_upscale runs up to three times until the image
// reaches it (or stops growing), then a Lanczos resize gives the exact
// size. It returns ErrInvalid if the target is empty and ctx.Err() if ctx
// ends between steps (A1111 stops on interrupt).
func (u Upscaler) Upscale(ctx context.Context, img image.Image, scale float64) (*image.NRGBA, error) {
	cur := imgconv.ToNRGBA(img)
	w, h := cur.Rect.Dx(), cur.Rect.Dy()
	destW := int(math.Floor(float64(w)*scale/8) * 8)
	destH := int(math.Floor(float64(h)*scale/8) * 8)
	if destW <= 0 || destH <= 0 {
		return nil, apierr.Invalid("", "upscaling %dx%d by %v gives %dx%d", w, h, scale, destW, destH)
	}
	for i := 0; i < 3; i++ {
		cw, ch := cur.Rect.Dx(), cur.Rect.Dy()
		if cw >= destW && ch >= destH && (i > 0 || scale != 1) {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		next, err := u.doUpscale(ctx, cur, scale)
		if err != nil {
			return nil, err
		}
		cur = next
		if cur.Rect.Dx() == cw && cur.Rect.Dy() == ch {
			break
		}
	}
	if cur.Rect.Dx() != destW || cur.Rect.Dy() != destH {
		cur = resizeBox(cur, destW, destH, Lanczos, fullBox(cur))
	}
	if cur == img {
		cur = cloneNRGBA(cur)
	}
	return cur, nil
}

func fullBox(img *image.NRGBA) [4]float32 {
	return [4]float32{0, 0, float32(img.Rect.Dx()), float32(img.Rect.Dy())}
}

// Registry is the server's shared.sd_upscalers: the built-in upscalers and
// the model upscalers found at start-up. It is read-only after creation
// and safe for concurrent use.
type Registry struct {
	list []Upscaler
}

// NewRegistry lists the built-in upscalers first and then models sorted
// by lower-cased name, as A1111's load_upscalers sorts them. A model whose
// name repeats an earlier entry is still listed, but lookups find the
// first, as A1111's do.
func NewRegistry(models ...Upscaler) *Registry {
	sorted := slices.Clone(models)
	slices.SortStableFunc(sorted, func(a, b Upscaler) int {
		return cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return &Registry{list: append(Builtin(), sorted...)}
}

// List returns the upscalers in /sdapi/v1/upscalers order.
func (r *Registry) List() []Upscaler { return slices.Clone(r.list) }

// Lookup finds an upscaler by exact name, as A1111 does. It returns an
// error wrapping ErrUpscalerNotFound with A1111's message otherwise.
func (r *Registry) Lookup(name string) (Upscaler, error) {
	for _, u := range r.list {
		if u.Name == name {
			return u, nil
		}
	}
	return Upscaler{}, apierr.NotFound("could not find upscaler named %s", name)
}
