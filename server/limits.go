package server

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/upscale"
)

// Limits bound what one request may ask for. A1111 has none: there, a
// request for 4096×4096 at batch size 8 runs until the GPU or the machine
// runs out of memory. Here it is refused before any work: the body before
// it is read (413), the rest before images are decoded or the job queues
// (422 naming the field and the limit).
type Limits struct {
	// MaxBodyBytes bounds a request body; more is 413.
	MaxBodyBytes int64
	// MaxPixels bounds width×height of the images of each sampling pass
	// (the first pass and the hires fix's target; a batch runs in
	// sub-batches sized to memory, so batch_size does not count), and of
	// each image a request sends (init images, mask, extras images),
	// checked from the image header before it is decoded.
	MaxPixels int64
	// MaxSteps bounds steps and hr_second_pass_steps.
	MaxSteps int
	// MaxPromptChars bounds each prompt, in characters.
	MaxPromptChars int
	// MaxBatchImages bounds the images of one request: imageList of
	// extra-batch-images and init_images of img2img.
	MaxBatchImages int
	// MaxImages bounds the images one generation request makes
	// (batch_size×n_iter, summed over a script's jobs).
	MaxImages int
}

// MaxPixelsFlag is the command-line flag that sets MaxPixels; limit
// messages name it.
const MaxPixelsFlag = "--max-pixels"

// DefaultLimits are sized for the project's reference machine: 2 CPU cores
// and 24 GiB of memory running SD 1.5 in fp32 on ONNX Runtime.
//
//   - MaxPixels 768×768 (589,824) per image, the fallback when the
//     machine's memory is unknown: cmd/sdapi-server derives the limit from
//     the memory at start (runner/ort's UNetSampleBytes has the memory
//     model: (width·height)²/64 bytes of attention maps per UNet sample,
//     5 GiB at 768², 16 GiB at 1024²), and batches run in sub-batches that
//     fit the same budget.
//   - MaxSteps 150, A1111's UI slider maximum; steps cost time, not memory.
//   - MaxPromptChars 10,000: at worst a token per character, 134 CLIP
//     chunks, whose cross-attention maps stay smaller than the
//     self-attention maps above.
//   - MaxImages 100: A1111's UI allows batch 8 × 100 iterations, but every
//     image of a request stays in memory, raw and as base64 PNG, until the
//     response is written: 100 images at 768² are about 0.4 GiB.
//   - MaxBatchImages 16 and MaxBodyBytes 64 MiB: 16 images at the pixel
//     limit are about 40 MB of base64 PNG; decoding, the JSON value the
//     validator keeps and the upscaled results stay within a few GiB.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:   64 << 20,
		MaxPixels:      768 * 768,
		MaxSteps:       150,
		MaxPromptChars: 10_000,
		MaxBatchImages: 16,
		MaxImages:      100,
	}
}

// WithDefaults fills zero (or negative) fields from DefaultLimits: the
// server always runs with limits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = d.MaxPixels
	}
	if l.MaxSteps <= 0 {
		l.MaxSteps = d.MaxSteps
	}
	if l.MaxPromptChars <= 0 {
		l.MaxPromptChars = d.MaxPromptChars
	}
	if l.MaxBatchImages <= 0 {
		l.MaxBatchImages = d.MaxBatchImages
	}
	if l.MaxImages <= 0 {
		l.MaxImages = d.MaxImages
	}
	return l
}

// Processing is the part of l that processing.Processor checks on every
// job, scripts' jobs included; cmd/sdapi-server sets it on the Processor.
func (l Limits) Processing() processing.Limits {
	return processing.Limits{MaxPixels: l.MaxPixels, MaxPixelsFlag: MaxPixelsFlag, MaxSteps: l.MaxSteps, MaxPromptChars: l.MaxPromptChars, MaxImages: l.MaxImages}
}

// bodyLimit refuses a body over max: at once when Content-Length says so,
// otherwise when reading passes max (http.MaxBytesReader, whose
// *http.MaxBytesError errorResponse maps to 413 wherever the read fails).
func bodyLimit(max int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength > max {
				return &http.MaxBytesError{Limit: max}
			}
			if r.Body != nil && r.Body != http.NoBody {
				// The underlying writer, so the server closes the
				// connection instead of draining the rest.
				r.Body = http.MaxBytesReader(c.Response().Writer, r.Body, max)
			}
			return next(c)
		}
	}
}

// bodyTooLarge is the 413 answer, in A1111's HTTPException shape.
func bodyTooLarge(limit int64) *apiError {
	return httpException(http.StatusRequestEntityTooLarge,
		fmt.Sprintf("Request body is larger than this server's limit of %d bytes", limit))
}

// checkImageCount refuses a list of n images over MaxBatchImages, before
// any of them is decoded.
func (l Limits) checkImageCount(field string, n int) error {
	if n <= l.MaxBatchImages {
		return nil
	}
	return &processing.LimitError{Loc: []any{field}, Kind: processing.LimitItems, Limit: int64(l.MaxBatchImages),
		Msg: fmt.Sprintf("%s has %d images, over this server's limit of %d", field, n, l.MaxBatchImages)}
}

// checkImageSize refuses an encoded image whose header declares more than
// MaxPixels, so that a small compressed file cannot make the server
// allocate gigabytes. Headers that do not parse are left to the decoder,
// which reports them as A1111 does.
func (l Limits) checkImageSize(raw []byte, loc []any) error {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return nil
	}
	px := int64(cfg.Width) * int64(cfg.Height)
	if cfg.Width < 0 || cfg.Height < 0 || px <= l.MaxPixels {
		return nil
	}
	return &processing.LimitError{Loc: loc, Kind: processing.LimitValue, Limit: l.MaxPixels,
		Msg: fmt.Sprintf("%s is a %d×%d image = %d pixels, over this server's limit of %d pixels per image%s", processing.LocName(loc), cfg.Width, cfg.Height, px, l.MaxPixels, l.Processing().RaisePixels())}
}

// checkUpscale refuses an extras upscale of img whose result would pass
// processing.Limits.CheckUpscale; with upscaler_1 None nothing is
// upscaled and nothing is checked.
func (l Limits) checkUpscale(img image.Image, xr upscale.ExtrasRequest) error {
	if !xr.Upscales() {
		return nil
	}
	iw, ih := img.Bounds().Dx(), img.Bounds().Dy()
	loc, by := []any{"upscaling_resize"}, fmt.Sprintf("upscaling_resize %g", xr.UpscalingResize)
	if xr.ResizeMode == 1 {
		loc, by = []any{"upscaling_resize_w"}, fmt.Sprintf("upscaling_resize_w×upscaling_resize_h %d×%d", xr.UpscalingResizeW, xr.UpscalingResizeH)
	}
	return l.Processing().CheckUpscale(loc, by, iw, ih, xr.Scale(iw, ih))
}

// limitDetail is the FastAPI 422 item of a limit, typed as pydantic types
// the matching constraint (le, ge, max_length, max_items), with its ctx.
func limitDetail(le *processing.LimitError) detailItem {
	typ := "value_error.number.not_le"
	switch le.Kind {
	case processing.LimitLength:
		typ = "value_error.any_str.max_length"
	case processing.LimitItems:
		typ = "value_error.list.max_items"
	case processing.LimitMin:
		return detailItem{Loc: append([]any{"body"}, le.Loc...), Msg: le.Msg, Type: "value_error.number.not_ge", Ctx: map[string]any{"limit_value": le.Min}}
	}
	return detailItem{Loc: append([]any{"body"}, le.Loc...), Msg: le.Msg, Type: typ, Ctx: map[string]any{"limit_value": le.Limit}}
}

// isBodyTooLarge matches the body limit's error however the validator or
// the binder wrapped it.
func isBodyTooLarge(err error) (int64, bool) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return mbe.Limit, true
	}
	return 0, false
}
