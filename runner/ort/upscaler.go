package ort

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/internal/imgconv"
	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// UpscalerConfig configures OpenUpscaler.
type UpscalerConfig struct {
	// Device and Threads are as in Config.
	Device  string
	Threads int
	// Tile is the tile edge in input pixels; 0 is A1111's ESRGAN_tile
	// default, 192; negative runs the whole image at once. A model with a
	// fixed input size always runs tiles of that size.
	Tile int
	// Overlap is the tile overlap in input pixels; 0 is A1111's
	// ESRGAN_tile_overlap default, 8.
	Overlap int
	// BGR feeds and reads channels in BGR order, as A1111's
	// pil_image_to_torch_bgr does for its PyTorch models. ONNX exports of
	// ESRGAN and Real-ESRGAN usually take RGB, the default.
	BGR bool
	// Logger receives warnings; nil discards.
	Logger *slog.Logger
}

// Upscaler runs an ESRGAN-style ONNX model: one input [1, 3, H, W] of
// float32 (or float16) in 0..1 and one output [1, 3, sH, sW]. It has the
// methods of processing/upscale.ModelUpscaler. Upscale calls are
// serialised; Close ends it.
type Upscaler struct {
	path   string
	cfg    UpscalerConfig
	log    *slog.Logger
	in     onnxpb.ValueInfo
	out    onnxpb.ValueInfo
	fixedW int // the model's fixed input size, 0 when symbolic
	fixedH int
	scale  int

	mu   sync.Mutex // serialises Upscale and Close
	sess *onnxruntime.DynamicAdvancedSession
}

// probeSize is the input edge used to measure a symbolic model's scale:
// small enough to cost nothing, and a multiple of 4 for models that
// pixel-unshuffle their input (Real-ESRGAN x2 does).
const probeSize = 16

// OpenUpscaler loads the model at path and reads its scale: from the
// declared output size when input and output sizes are fixed, else by
// running it once on a probeSize² input. Errors wrap runner.ErrModel and
// name path. Init must have been called.
func OpenUpscaler(ctx context.Context, path string, cfg UpscalerConfig) (*Upscaler, error) {
	if !onnxruntime.IsInitialized() {
		return nil, errors.New("ort: ONNX Runtime is not initialized; call Init first")
	}
	u := &Upscaler{path: path, cfg: cfg, log: cfg.Logger}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	if err := u.read(); err != nil {
		return nil, err
	}
	opts, _, err := sessionOptions(Config{Device: cfg.Device, Threads: cfg.Threads}, u.log)
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	if u.sess, err = onnxruntime.NewDynamicAdvancedSession(path, []string{u.in.Name}, []string{u.out.Name}, opts); err != nil {
		return nil, modelErr(u.path, "load: %v", err)
	}
	if err := u.measureScale(ctx); err != nil {
		u.Close()
		return nil, err
	}
	return u, nil
}

// read checks the declared inputs and outputs without building a session.
func (u *Upscaler) read() error {
	ins, outs, err := onnxpb.ReadIO(u.path)
	if err != nil {
		return modelErr(u.path, "unreadable: %v", err)
	}
	if len(ins) != 1 || len(outs) < 1 {
		return modelErr(u.path, "want one image input and an image output, have inputs %s and outputs %s", names(ins), names(outs))
	}
	u.in, u.out = ins[0], outs[0]
	for _, v := range []onnxpb.ValueInfo{u.in, u.out} {
		if err := checkFloat(u.path, v); err != nil {
			return err
		}
		if v.Rank() != 4 {
			return modelErr(u.path, "%s: want [1, 3, H, W]", v)
		}
		if c := v.Dims[1]; !c.IsSymbolic() && c.Value != 3 {
			return modelErr(u.path, "%s: want 3 channels", v)
		}
	}
	if h, w := u.in.Dims[2], u.in.Dims[3]; !h.IsSymbolic() && !w.IsSymbolic() {
		u.fixedH, u.fixedW = int(h.Value), int(w.Value)
	}
	return nil
}

// measureScale sets u.scale from the declared sizes or one probe run.
func (u *Upscaler) measureScale(ctx context.Context) error {
	oh, ow := u.out.Dims[2], u.out.Dims[3]
	if u.fixedH > 0 && !oh.IsSymbolic() && !ow.IsSymbolic() {
		return u.setScale(u.fixedW, u.fixedH, int(ow.Value), int(oh.Value))
	}
	w, h := probeSize, probeSize
	if u.fixedH > 0 {
		w, h = u.fixedW, u.fixedH
	}
	ro, release, err := terminableRunOptions(ctx, u.log.With("upscaler", u.path), false)
	if err != nil {
		return err
	}
	defer release()
	_, ow2, oh2, err := u.run(ro, make([]float32, 3*w*h), w, h)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return modelErr(u.path, "probe run on %dx%d: %v", w, h, err)
	}
	return u.setScale(w, h, ow2, oh2)
}

func (u *Upscaler) setScale(w, h, ow, oh int) error {
	if ow%w != 0 || oh%h != 0 || ow/w != oh/h || ow < w {
		return modelErr(u.path, "output %dx%d for input %dx%d is not an integer upscale", ow, oh, w, h)
	}
	u.scale = ow / w
	return nil
}

// Scale is the model's integer upscale factor.
func (u *Upscaler) Scale() int { return u.scale }

// Path is the model file.
func (u *Upscaler) Path() string { return u.path }

// Close frees the session. Upscale afterwards returns an error.
func (u *Upscaler) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.sess != nil {
		err := u.sess.Destroy()
		u.sess = nil
		if err != nil {
			return fmt.Errorf("ort: close upscaler %s: %w", u.path, err)
		}
	}
	return nil
}

// Upscale returns img enlarged Scale() times, tiled as described on
// tileGrid. It returns ctx.Err() when ctx ends first, also in the middle
// of a model run (the run is terminated).
func (u *Upscaler) Upscale(ctx context.Context, img image.Image) (image.Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b := img.Bounds()
	if b.Empty() {
		return nil, apierr.Invalid("", "upscale an empty image")
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.sess == nil {
		return nil, fmt.Errorf("ort: upscaler %s is closed", u.path)
	}
	ro, release, err := terminableRunOptions(ctx, u.log.With("upscaler", u.path), false)
	if err != nil {
		return nil, err
	}
	defer release()
	out, err := u.tiled(ctx, ro, u.planes(img), b.Dx(), b.Dy())
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("upscaler %s: %w", u.path, err)
	}
	return u.image(out, b.Dx()*u.scale, b.Dy()*u.scale), nil
}

// run upscales one planar 3×h×w tile and returns the planar output and
// its size.
func (u *Upscaler) run(ro *onnxruntime.RunOptions, px []float32, w, h int) ([]float32, int, int, error) {
	in, err := floatValue(u.in.Elem, onnxruntime.NewShape(1, 3, int64(h), int64(w)), px)
	if err != nil {
		return nil, 0, 0, err
	}
	defer in.Destroy()
	outs := []onnxruntime.Value{nil} // ONNX Runtime allocates it: the size is the model's to say
	if err := u.sess.RunWithOptions([]onnxruntime.Value{in}, outs, ro); err != nil {
		return nil, 0, 0, err
	}
	defer outs[0].Destroy()
	shape := outs[0].GetShape()
	if len(shape) != 4 || shape[0] != 1 || shape[1] != 3 {
		return nil, 0, 0, fmt.Errorf("output shape %v, want [1 3 H W]", shape)
	}
	data, err := floatsOf(outs[0])
	if err != nil {
		return nil, 0, 0, err
	}
	// Copy: a float32 view lives only as long as the ORT-owned value.
	return append([]float32(nil), data...), int(shape[3]), int(shape[2]), nil
}

// planes converts img to planar RGB (or BGR) floats in 0..1, composited
// over black as Pillow's convert("RGB") drops alpha.
func (u *Upscaler) planes(img image.Image) []float32 {
	src := imgconv.ToNRGBA(img)
	w, h := src.Rect.Dx(), src.Rect.Dy()
	n := w * h
	px := make([]float32, 3*n)
	for i := range n {
		for c := range 3 {
			px[u.channel(c)*n+i] = float32(src.Pix[4*i+c]) / 255
		}
	}
	return px
}

// image converts planar model output back to an opaque NRGBA, clamping to
// 0..1 and rounding as A1111's torch_bgr_to_pil_image does.
func (u *Upscaler) image(px []float32, w, h int) *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	n := w * h
	for i := range n {
		for c := range 3 {
			v := min(max(px[u.channel(c)*n+i], 0), 1)
			out.Pix[4*i+c] = uint8(v*255 + 0.5)
		}
		out.Pix[4*i+3] = 255
	}
	return out
}

// channel maps an RGB channel index to the model's plane.
func (u *Upscaler) channel(c int) int {
	if u.cfg.BGR {
		return 2 - c
	}
	return c
}
