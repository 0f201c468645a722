package ort

// Sizes that are not multiples of 64. A1111 samples a latent of
// height//8 × width//8 for any size and decodes it to 8× that, and its
// TorchHijackForUnet makes the UNet's skip connections join when the latent
// is not a multiple of the UNet's downsampling factor: torch.cat resizes its
// first tensor to the second's size (nearest) where they differ. ONNX
// exports trace the 64-multiple case, so their skip Concats fail on other
// sizes; the runner rewrites the UNet graph the same way (matchSizes in
// tiling_graph.go) and uses that session for such latents only, built on
// first need and kept, plain and tiled, until Close.

import (
	"context"
	"fmt"
	"os"
	"time"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/runner"
)

// unetFactor is SD's UNet downsampling factor (three stride-2 levels): a
// latent side that is a multiple of it needs no size matching.
const unetFactor = 8

// anySizeSessions are the size-matching UNet sessions, by whether they
// also pad circularly (tiling).
type anySizeSessions map[bool]*onnxruntime.DynamicAdvancedSession

// needsAnySize reports whether a latent of lh×lw needs the size-matching
// UNet.
func needsAnySize(lh, lw int) bool { return lh%unetFactor != 0 || lw%unetFactor != 0 }

// useAnySize switches the UNet to its size-matching session (the tiled one
// with tiling), building it on first use, and returns the function that
// switches back. The caller holds r.mu for the whole job.
func (r *Runner) useAnySize(ctx context.Context, tiling bool) (restore func(), err error) {
	s := r.anySize[tiling]
	if s == nil {
		if err := ctx.Err(); err != nil && !stopRequested(ctx) {
			return nil, fmt.Errorf("%w: %w", runner.ErrInterrupted, context.Cause(ctx))
		}
		if s, err = r.buildAnySize(tiling); err != nil {
			return nil, err
		}
		if r.anySize == nil {
			r.anySize = anySizeSessions{}
		}
		r.anySize[tiling] = s
	}
	prev := r.unet.sess
	r.unet.sess = s
	return func() { r.unet.sess = prev }, nil
}

// buildAnySize rewrites the UNet graph to match skip sizes (and pad
// circularly with tiling) and builds its session.
func (r *Runner) buildAnySize(tiling bool) (*onnxruntime.DynamicAdvancedSession, error) {
	t0 := time.Now()
	p := r.unet
	rel := p.name + "/model.onnx"
	model, err := os.ReadFile(p.path)
	if err != nil {
		return nil, apierr.Model("%s: read: %w", rel, err)
	}
	model, st, err := rewriteModel(model, rewriteOptions{circular: tiling, matchSizes: true})
	if err != nil {
		return nil, apierr.Model("%s: sizes that are not multiples of %d: %w", rel, 8*unetFactor, err)
	}
	cfg := r.cfg
	cfg.Device = r.provider
	s, err := p.sessionFrom(model, cfg, r)
	if err != nil {
		return nil, apierr.Model("%s: sizes that are not multiples of %d: %w", rel, 8*unetFactor, err)
	}
	r.log.Info("UNet for sizes that are not multiples of 64 built", "concats", st.concats, "tiling", tiling, "elapsed", time.Since(t0).Round(time.Millisecond))
	return s, nil
}

// closeAnySize frees the size-matching sessions; the caller holds r.mu.
func (r *Runner) closeAnySize() {
	for k, s := range r.anySize {
		s.Destroy()
		delete(r.anySize, k)
	}
}
