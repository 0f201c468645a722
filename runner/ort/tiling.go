package ort

// Tiling (A1111's "Tiling" checkbox): A1111 sets padding_mode='circular'
// on every Conv2d of the UNet and the VAE for the job, so the image wraps
// around at its edges and tiles seamlessly. ONNX exports bake the zero
// padding into each Conv's pads attribute, so the runner rewrites the
// graphs instead: every Conv with non-zero symmetric pads gets its input
// padded by wrapping (Slice + Concat along each spatial axis, which any
// opset has, unlike Pad mode="wrap") and its pads set to 0.
// The rewritten sessions are built on the first tiling request and kept
// next to the plain ones, because A1111 applies tiling per job; the cost
// is a second copy of the UNet and VAE weights in memory once tiling has
// been used, until Close.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/runner"
)

// externalFolderKey is ONNX Runtime's session config entry
// (kOrtSessionOptionsModelExternalInitializersFileFolderPath) naming the
// folder of external data for a model created from bytes. Loading the
// rewritten model from a temp file instead does not work: ORT refuses
// external data reached through symlinks out of the model's directory.
const externalFolderKey = "session.model_external_initializers_file_folder_path"

// tiledSessions maps a part to its circular-padding session. Parts whose
// graph has no padded Conv are absent and keep their plain session.
type tiledSessions map[*part]*onnxruntime.DynamicAdvancedSession

// tilingParts are the parts A1111 patches: the UNet and the VAE (the text
// encoder has no convolutions).
func (r *Runner) tilingParts() []*part {
	ps := []*part{r.unet, r.vaeDec}
	if r.vaeEnc != nil {
		ps = append(ps, r.vaeEnc)
	}
	return ps
}

// useTiling switches the UNet and VAE parts to their circular-padding
// sessions, building them on first use, and returns the function that
// switches back. The caller holds r.mu for the whole job, so the swap is
// invisible to other calls, and the part pointers (read by Model without
// the lock) never change.
func (r *Runner) useTiling(ctx context.Context) (restore func(), err error) {
	if r.tiledErr != nil {
		return nil, r.tiledErr
	}
	if r.tiled == nil {
		if err := r.buildTiled(ctx); err != nil {
			if ctx.Err() != nil && !stopRequested(ctx) {
				return nil, fmt.Errorf("%w: %w", runner.ErrInterrupted, context.Cause(ctx))
			}
			// A graph that cannot be read or rewritten fails the same way
			// every time, at the cost of reading the weights: every later
			// tiling request gets this error until Close. A session that
			// failed to load (memory, say) is tried again next time.
			var ge *graphError
			if errors.As(err, &ge) {
				r.tiledErr = err
			}
			return nil, err
		}
	}
	type saved struct {
		p    *part
		sess *onnxruntime.DynamicAdvancedSession
	}
	var prev []saved
	for p, s := range r.tiled {
		prev = append(prev, saved{p, p.sess})
		p.sess = s
	}
	return func() {
		for _, s := range prev {
			s.p.sess = s.sess
		}
	}, nil
}

// buildTiled builds the circular-padding sessions of every tiling part.
func (r *Runner) buildTiled(ctx context.Context) error {
	t0 := time.Now()
	// Use the provider Open settled on, so "auto" neither retries nor
	// warns again about CUDA.
	cfg := r.cfg
	cfg.Device = r.provider
	built := tiledSessions{}
	for _, p := range r.tilingParts() {
		// A stop request still runs the job to its first model call.
		if err := ctx.Err(); err != nil && !stopRequested(ctx) {
			built.destroy()
			return err
		}
		s, err := p.openCircular(cfg, r)
		if err != nil {
			built.destroy()
			return err
		}
		if s != nil {
			built[p] = s
		}
	}
	r.tiled = built
	r.log.Info("tiling sessions built", "parts", len(built), "elapsed", time.Since(t0).Round(time.Millisecond))
	return nil
}

// openCircular rewrites the part's graph for circular padding and builds a
// session from it; nil without error when the graph has no padded Conv.
func (p *part) openCircular(cfg Config, r *Runner) (*onnxruntime.DynamicAdvancedSession, error) {
	rel := p.name + "/model.onnx"
	fail := func(what string, err error) (*onnxruntime.DynamicAdvancedSession, error) {
		return nil, apierr.Model("%s: tiling: %s: %w", rel, what, err)
	}
	// The whole file is read: the rewritten model must be one buffer for
	// ORT anyway, and large SD weights usually live in external data.
	model, err := os.ReadFile(p.path)
	if err != nil {
		return fail("read", &graphError{err})
	}
	model, st, err := circularModel(model)
	if err != nil {
		return fail("rewrite", &graphError{err})
	}
	if st.sameSkipped > 0 {
		r.log.Warn("tiling: Conv nodes with auto_pad SAME keep zero padding", "part", p.name, "nodes", st.sameSkipped)
	}
	if st.contribSkipped > 0 {
		r.log.Warn("tiling: com.microsoft convolutions (an offline-optimised export) keep zero padding; export the model unoptimised for seamless tiling", "part", p.name, "nodes", st.contribSkipped)
	}
	if st.convs == 0 {
		r.log.Warn("tiling: no padded Conv nodes; the part runs unchanged", "part", p.name)
		return nil, nil
	}
	s, err := p.sessionFrom(model, cfg, r)
	if err != nil {
		return nil, apierr.Model("%s: tiling: %w", rel, err)
	}
	r.log.Debug("tiling: circular padding", "part", p.name, "convs", st.convs, "fused_zero_pads_kept", st.asymmetricKept)
	return s, nil
}

// sessionFrom builds a session of the part from a rewritten model held in
// memory, reading its external data from the part's directory.
func (p *part) sessionFrom(model []byte, cfg Config, r *Runner) (*onnxruntime.DynamicAdvancedSession, error) {
	opts, _, err := sessionOptions(cfg, r.log)
	if err != nil {
		return nil, fmt.Errorf("session options: %w", err)
	}
	defer opts.Destroy()
	if err := opts.AddSessionConfigEntry(externalFolderKey, filepath.Dir(p.path)); err != nil {
		return nil, fmt.Errorf("session options: %w", err)
	}
	in, out := p.ioNames()
	s, err := onnxruntime.NewDynamicAdvancedSessionWithONNXData(model, in, out, opts)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return s, nil
}

// graphError is a part's graph that cannot be read or rewritten for
// tiling: it fails again on every try until the model is reloaded.
type graphError struct{ err error }

func (e *graphError) Error() string { return e.err.Error() }
func (e *graphError) Unwrap() error { return e.err }

// destroy frees the sessions; safe on nil.
func (t tiledSessions) destroy() {
	for p, s := range t {
		s.Destroy()
		delete(t, p)
	}
}

// closeTiled frees the tiling sessions; the caller holds r.mu.
func (r *Runner) closeTiled() {
	r.tiled.destroy()
	r.tiled, r.tiledErr = nil, nil
}
