package ort

// CLIP skip (A1111's CLIP_stop_at_last_layers, "Clip skip" in infotext).
// For SD1, A1111's FrozenCLIPEmbedderWithCustomWords.encode_with_transformers
// takes hidden_states[-n] of the CLIP text transformer when n > 1 and puts
// it through the transformer's final_layer_norm; n ≤ 1 is
// last_hidden_state. SD2's FrozenOpenCLIPEmbedderWithCustomWords ignores
// the option (its layer is fixed to "penultimate", which a diffusers SD2
// text encoder already ends at), and so does this runner.
//
// The hidden states come from a second session over the text encoder
// rewritten to output them (clipskip_graph.go), built on the first request
// that needs it and kept until Close; the final layer norm is applied
// here with the weights read from the graph. The plain session stays in
// use for n ≤ 1, so clip skip 1 never depends on whether the rewrite ran.

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/runner/clip"
	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// hiddenEncoder is the text encoder session that outputs every hidden state.
type hiddenEncoder struct {
	sess    *onnxruntime.DynamicAdvancedSession
	outputs int // hidden states: layers + 1
	norm    finalNorm
}

// clipSkip is the clip skip that applies to this model: the request's for
// SD1, 1 for SD2 (as A1111's OpenCLIP embedder).
func (r *Runner) clipSkip(n int) int {
	if r.kind != "SD1" {
		return 1
	}
	return n
}

// hiddenStatesEncoder returns the hidden-state session, building it on
// first use. A graph the rewrite cannot handle fails the same way every
// time, so that error is kept until Close; a session that failed to load
// is tried again. The caller holds r.mu.
func (r *Runner) hiddenStatesEncoder() (*hiddenEncoder, error) {
	if r.hidden != nil || r.hiddenErr != nil {
		return r.hidden, r.hiddenErr
	}
	const rel = "text_encoder/model.onnx"
	model, err := os.ReadFile(r.text.path)
	if err != nil {
		return nil, modelErr(rel, "clip skip: read: %v", err)
	}
	enc, err := r.buildHidden(model)
	var ge *graphError
	if errors.As(err, &ge) {
		r.hiddenErr = err
	}
	if err != nil {
		return nil, err
	}
	r.hidden = enc
	return enc, nil
}

// buildHidden builds the hidden-state session from a text encoder model
// (the file's, or one with patched weights). A graph the rewrite cannot
// handle is a *graphError.
func (r *Runner) buildHidden(model []byte) (*hiddenEncoder, error) {
	const rel = "text_encoder/model.onnx"
	t0 := time.Now()
	dir := filepath.Dir(r.text.path)
	hm, err := clipSkipModel(model, dir, r.text.out[0].Name, r.textDim)
	if err != nil {
		return nil, &graphError{modelErr(rel, "clip skip: cannot find the hidden states: %v", err)}
	}
	cfg := r.cfg
	cfg.Device = r.provider // no second CUDA probe or warning
	opts, _, err := sessionOptions(cfg, r.log)
	if err != nil {
		return nil, modelErr(rel, "clip skip: session options: %v", err)
	}
	defer opts.Destroy()
	if err := opts.AddSessionConfigEntry(externalFolderKey, dir); err != nil {
		return nil, modelErr(rel, "clip skip: session options: %v", err)
	}
	in, _ := r.text.ioNames()
	sess, err := onnxruntime.NewDynamicAdvancedSessionWithONNXData(hm.model, in, hm.outputs, opts)
	if err != nil {
		return nil, modelErr(rel, "clip skip: load: %v", err)
	}
	r.hiddenBuilds++
	r.log.Info("clip skip text encoder built", "layers", len(hm.outputs)-1, "elapsed", time.Since(t0).Round(time.Millisecond))
	return &hiddenEncoder{sess: sess, outputs: len(hm.outputs), norm: hm.norm}, nil
}

// hiddenEncoder is the clip-skip session for the job: the patched text
// encoder's when the job uses one, built from its model on first need.
func (g *job) hiddenEncoder() (*hiddenEncoder, error) {
	tp := g.text
	if tp == nil {
		return g.r.hiddenStatesEncoder()
	}
	if tp.hidden != nil || tp.hiddenErr != nil {
		return tp.hidden, tp.hiddenErr
	}
	b, err := tp.model()
	if err != nil {
		return nil, err
	}
	enc, err := g.r.buildHidden(b.model)
	var ge *graphError
	if errors.As(err, &ge) {
		tp.hiddenErr = err
	}
	if err != nil {
		return nil, err
	}
	tp.hidden = enc
	return enc, nil
}

// closeHidden frees the hidden-state session; the caller holds r.mu.
func (r *Runner) closeHidden() {
	if r.hidden != nil {
		r.hidden.sess.Destroy()
	}
	r.hidden, r.hiddenErr = nil, nil
}

// encodeHidden runs the text encoder on ids ([n, 77]) and returns
// final_layer_norm(hidden_states[-skip]) as [n, 77, dim].
func (g *job) encodeHidden(ids []int64, n, skip int) ([]float32, error) {
	r := g.r
	enc, err := g.hiddenEncoder()
	if err != nil {
		return nil, err
	}
	if skip > enc.outputs {
		// A1111 fails with an IndexError (hidden_states has layers + 1 entries).
		return nil, invalid("CLIP_stop_at_last_layers %d is more than the text encoder's %d hidden states (%d layers + embeddings)",
			skip, enc.outputs, enc.outputs-1)
	}
	var vs values
	defer vs.destroy()
	if err := vs.add(intValue(r.idsElem, onnxruntime.NewShape(int64(n), clip.SeqLen), ids)); err != nil {
		return nil, fmt.Errorf("text_encoder input: %w", err)
	}
	for range enc.outputs {
		if err := vs.add(outputValue(onnxpb.Float, onnxruntime.NewShape(int64(n), clip.SeqLen, int64(r.textDim)))); err != nil {
			return nil, fmt.Errorf("text_encoder output: %w", err)
		}
	}
	t0 := time.Now()
	err = enc.sess.RunWithOptions(vs[:1], vs[1:], g.ro)
	g.timing.TextEncoder += time.Since(t0).Nanoseconds()
	if err != nil {
		return nil, fmt.Errorf("text_encoder (hidden states): %w", err)
	}
	h, err := floatsOf(vs[skip]) // vs[1+k] is hidden_states[-(k+1)]
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(h))
	layerNorm(out, h, enc.norm)
	return out, nil
}

// layerNorm normalises each row of x (width len(fn.weight)) into dst, as
// torch.nn.LayerNorm: biased variance, eps inside the square root.
func layerNorm(dst, x []float32, fn finalNorm) {
	d := len(fn.weight)
	for i := 0; i+d <= len(x); i += d {
		row := x[i : i+d]
		var mean float64
		for _, v := range row {
			mean += float64(v)
		}
		mean /= float64(d)
		var variance float64
		for _, v := range row {
			dv := float64(v) - mean
			variance += dv * dv
		}
		variance /= float64(d)
		inv := 1 / math.Sqrt(variance+float64(fn.eps))
		for j, v := range row {
			dst[i+j] = float32((float64(v)-mean)*inv)*fn.weight[j] + fn.bias[j]
		}
	}
}
