package upscale

import (
	"context"
	"image"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/internal/imgconv"
)

// The resize modes of A1111's images.resize_image (img2img's resize_mode).
const (
	ResizeJust       = 0 // stretch to the target size
	ResizeCropResize = 1 // keep the aspect ratio, fill the target, crop the excess
	ResizeResizeFill = 2 // keep the aspect ratio, fit inside, fill with stretched edges
)

// ResizeImage is ResizeImageContext without cancellation.
func ResizeImage(mode int, img image.Image, w, h int, up Upscaler) (image.Image, error) {
	return ResizeImageContext(context.Background(), mode, img, w, h, up)
}

// ResizeImageContext is A1111's images.resize_image(mode, im, w, h,
// upscaler_name). Every step is a Pillow resize with LANCZOS, except that
// an image that must grow goes through up first (A1111's Upscaler.upscale)
// when up is not "None"; a grayscale image always takes the plain Lanczos
// path, as mode "L" does in A1111. Modes 1 and 2 return an opaque RGB
// canvas of w×h. Mode 2 fills the margins with Pillow's BICUBIC resize of
// a zero-height (or zero-width) box at the edge, which is how A1111
// stretches the edge rows. It returns an error wrapping ErrInvalid for a
// non-positive size or an unknown mode.
func ResizeImageContext(ctx context.Context, mode int, img image.Image, w, h int, up Upscaler) (image.Image, error) {
	if w <= 0 || h <= 0 {
		return nil, apierr.Invalid("", "target size %dx%d", w, h)
	}
	gray := isGray(img)
	im := imgconv.ToNRGBA(img)
	resize := func(w, h int) (*image.NRGBA, error) {
		if w <= 0 || h <= 0 {
			return nil, apierr.Invalid("", "intermediate size %dx%d", w, h)
		}
		if up.IsNone() || gray {
			return resizeBox(im, w, h, Lanczos, fullBox(im)), nil
		}
		cur := im
		scale := max(float64(w)/float64(im.Rect.Dx()), float64(h)/float64(im.Rect.Dy()))
		if scale > 1 {
			var err error
			if cur, err = up.Upscale(ctx, cur, scale); err != nil {
				return nil, err
			}
		}
		if cur.Rect.Dx() != w || cur.Rect.Dy() != h {
			cur = resizeBox(cur, w, h, Lanczos, fullBox(cur))
		}
		if cur == im {
			cur = cloneNRGBA(cur)
		}
		return cur, nil
	}

	imW, imH := im.Rect.Dx(), im.Rect.Dy()
	ratio := float64(w) / float64(h)
	srcRatio := float64(imW) / float64(imH)
	switch mode {
	case ResizeJust:
		return resize(w, h)
	case ResizeCropResize:
		srcW, srcH := imW*h/imH, imH*w/imW
		if ratio > srcRatio {
			srcW = w
		}
		if ratio <= srcRatio {
			srcH = h
		}
		resized, err := resize(srcW, srcH)
		if err != nil {
			return nil, err
		}
		res := newBlack(w, h)
		pasteRGB(res, resized, w/2-srcW/2, h/2-srcH/2)
		return res, nil
	case ResizeResizeFill:
		srcW := imW * h / imH
		if ratio < srcRatio {
			srcW = w
		}
		srcH := imH * w / imW
		if ratio >= srcRatio {
			srcH = h
		}
		resized, err := resize(srcW, srcH)
		if err != nil {
			return nil, err
		}
		res := newBlack(w, h)
		pasteRGB(res, resized, w/2-srcW/2, h/2-srcH/2)
		rw, rh := float32(resized.Rect.Dx()), float32(resized.Rect.Dy())
		switch {
		case ratio < srcRatio:
			fill := h/2 - srcH/2
			// A1111 raises (Pillow's "height and width must be > 0") when
			// the margin rounds to zero rows; the margin is left as is here.
			if fill > 0 {
				pasteRGB(res, resizeBox(resized, w, fill, Bicubic, [4]float32{0, 0, float32(w), 0}), 0, 0)
				pasteRGB(res, resizeBox(resized, w, fill, Bicubic, [4]float32{0, rh, float32(w), rh}), 0, fill+srcH)
			}
		case ratio > srcRatio:
			fill := w/2 - srcW/2
			if fill > 0 {
				pasteRGB(res, resizeBox(resized, fill, h, Bicubic, [4]float32{0, 0, 0, float32(h)}), 0, 0)
				pasteRGB(res, resizeBox(resized, fill, h, Bicubic, [4]float32{rw, 0, rw, float32(h)}), fill+srcW, 0)
			}
		}
		return res, nil
	}
	return nil, apierr.Invalid("", "resize mode %d", mode)
}
