package ort

// Sessions with patched weights: a LoRA set (lora_apply.go) on the text
// encoder or the UNet, and textual-inversion rows appended to the text
// encoder's token table (embeddings.go). ONNX Runtime cannot change a
// session's weights, and onnxruntime_go has no AddInitializer, so each
// combination is a session built from the patched model once, kept in a
// bounded LRU keyed by what was applied: the same LoRA set again pays no
// patching. Each entry holds a whole copy of its part's weights; Bytes
// in runner.CachedPatch reports it.
//
// SDXL plugs in per part: its first text encoder takes kohya's lora_te1_
// modules and embedding rows "clip_l", the second lora_te2_ and "clip_g"
// (a loraSpec and an embeddingRows call each, keyed by the part), and its
// UNet's LDM module names are mapped by diffusersUNetName. The second
// encoder pools text_embeds at argmax of the ids, which the appended
// rows' ids would win: poolAtEOS rewrites it.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/runner"
)

// DefaultPatchCache is how many patched sessions Open keeps when
// Config.PatchCache is 0.
const DefaultPatchCache = 4

// minPatchCache is the least kept: the parts one job may patch (SDXL's
// two text encoders and its UNet).
const minPatchCache = 3

// patchedPart is one cached session of a part with patched weights.
type patchedPart struct {
	key   string
	part  *part
	label string
	// sess is nil when the set changes nothing in this part (no module of
	// it matched): the part's own session serves.
	sess  *onnxruntime.DynamicAdvancedSession
	bytes int64
	// vocab is the token table's original row count: embedding rows
	// appended to it have ids from vocab on.
	vocab int
	// model rebuilds the patched model, for the clip-skip session built
	// from it on first need (hidden, hiddenErr).
	model     func() (built, error)
	hidden    *hiddenEncoder
	hiddenErr error
}

func (e *patchedPart) destroy() {
	if e.sess != nil {
		e.sess.Destroy()
	}
	if e.hidden != nil {
		e.hidden.sess.Destroy()
	}
}

// patchCache is the LRU; guarded by Runner.mu, its stats by statsMu.
type patchCache struct {
	entries []*patchedPart // least recently used first
	builds  int64

	statsMu sync.Mutex
	stats   runner.PatchCacheStats
}

func (c *patchCache) get(key string) *patchedPart {
	for i, e := range c.entries {
		if e.key == key {
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), e)
			return e
		}
	}
	return nil
}

func (c *patchCache) put(e *patchedPart, limit int) {
	c.entries = append(c.entries, e)
	c.builds++
	for len(c.entries) > limit {
		c.entries[0].destroy()
		c.entries = c.entries[1:]
	}
	c.publish()
}

func (c *patchCache) publish() {
	st := runner.PatchCacheStats{Builds: c.builds}
	for _, e := range c.entries {
		st.Entries = append(st.Entries, runner.CachedPatch{Part: e.part.name, Set: e.label, Bytes: e.bytes})
	}
	c.statsMu.Lock()
	c.stats = st
	c.statsMu.Unlock()
}

func (c *patchCache) clear() {
	for _, e := range c.entries {
		e.destroy()
	}
	c.entries = nil
	c.publish()
}

// PatchCache reports the cached patched sessions; it does not wait for a
// running Generate.
func (r *Runner) PatchCache() runner.PatchCacheStats {
	r.patches.statsMu.Lock()
	defer r.patches.statsMu.Unlock()
	st := r.patches.stats
	st.Entries = append([]runner.CachedPatch(nil), st.Entries...)
	return st
}

var _ runner.PatchCacher = (*Runner)(nil)

// loraSpec selects the LoRAs that touch a part: its kohya prefix, whether
// its names may be in LDM form, and which multiplier applies.
type loraSpec struct {
	prefix string
	// aliases are other prefixes of the same part's modules.
	aliases []string
	unet    bool
	mult    func(runner.LoRA) float64
}

func teSpec() loraSpec {
	// networks.py: "some SD1 Loras also have correct compvis keys", named
	// lora_te1_text_model_….
	return loraSpec{prefix: "lora_te_", aliases: []string{"lora_te1_"}, mult: func(l runner.LoRA) float64 { return l.TE }}
}

// SDXL's encoders: networks.py maps lora_te1_text_model_… to the first
// embedder (CLIP-L) and lora_te2_text_model_encoder_layers_… to the second
// (OpenCLIP ViT-bigG, whose modules the ONNX export names as transformers'
// CLIPTextModelWithProjection, as kohya's keys do); lora_te_ keys match
// nothing on SDXL.
func te1XLSpec() loraSpec {
	return loraSpec{prefix: "lora_te1_", mult: func(l runner.LoRA) float64 { return l.TE }}
}

func te2XLSpec() loraSpec {
	return loraSpec{prefix: "lora_te2_", mult: func(l runner.LoRA) float64 { return l.TE }}
}

func unetSpec() loraSpec {
	return loraSpec{prefix: "lora_unet_", unet: true, mult: func(l runner.LoRA) float64 { return l.UNet }}
}

// loraKey identifies the LoRAs of a set that apply to a part (multiplier
// not 0) by file version and strengths; "" when none apply.
func loraKey(loras []runner.LoRA, spec loraSpec) (key, label string) {
	var k, lb []string
	for _, l := range loras {
		m := spec.mult(l)
		if m == 0 {
			continue
		}
		st, err := os.Stat(l.Path)
		if err != nil {
			// Gone since the listing: building the set logs it and
			// leaves it out, as A1111 runs without a network that fails
			// to load.
			k = append(k, l.Path+"\x00missing")
			continue
		}
		k = append(k, fmt.Sprintf("%s\x00%d\x00%d\x00%g\x00%d", l.Path, st.ModTime().UnixNano(), st.Size(), m, l.DynDim))
		lb = append(lb, fmt.Sprintf("%s:%g", l.Name, m))
	}
	if len(k) == 0 {
		return "", ""
	}
	return strings.Join(k, "\x01"), "lora " + strings.Join(lb, " ")
}

// patchedSession returns the cached session of p for key, building it
// with build (which returns the patched model, nil when nothing changes)
// on a miss.
// built is a patched model (nil when nothing changed) and its token
// table's original rows (0 when not read).
type built struct {
	model []byte
	vocab int
}

func (r *Runner) patchedSession(p *part, key, label string, build func() (built, error)) (*patchedPart, error) {
	full := p.name + "\x02" + key
	if e := r.patches.get(full); e != nil {
		return e, nil
	}
	t0 := time.Now()
	b, err := build()
	if err != nil {
		return nil, err
	}
	model := b.model
	e := &patchedPart{key: full, part: p, label: label, model: build, vocab: b.vocab}
	if model != nil {
		cfg := r.cfg
		cfg.Device = r.provider
		if e.sess, err = p.sessionFrom(model, cfg, r); err != nil {
			return nil, apierr.Model("%s/model.onnx: %s: %w", p.name, label, err)
		}
		e.bytes = int64(len(model)) + externalBytes(p.path)
	}
	limit := r.cfg.PatchCache
	if limit <= 0 {
		limit = DefaultPatchCache
	}
	// One job holds a session per patched part (text encoders and UNet)
	// while it builds the next: never evict one it may be running.
	r.patches.put(e, max(limit, minPatchCache))
	r.log.Info("patched session built", "part", p.name, "set", label, "changes", model != nil,
		"elapsed", time.Since(t0).Round(time.Millisecond))
	return e, nil
}

// externalBytes is the size of the files next to a part's model.onnx,
// where its external data lives.
func externalBytes(path string) int64 {
	var n int64
	ents, _ := os.ReadDir(filepath.Dir(path))
	for _, de := range ents {
		if de.Name() == filepath.Base(path) {
			continue
		}
		if fi, err := de.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

// buildLoraModel reads p's model and applies the LoRA deltas of spec and
// the extra token rows; nil when nothing changes.
func (r *Runner) buildLoraModel(p *part, loras []runner.LoRA, spec loraSpec, extra *tokenRows) (built, error) {
	rel := p.name + "/model.onnx"
	var res built
	model, err := os.ReadFile(p.path)
	if err != nil {
		return res, modelErr(rel, "read: %v", err)
	}
	gi, err := indexGraph(model, filepath.Dir(p.path))
	if err != nil {
		return res, modelErr(rel, "read graph: %v", err)
	}
	patches := map[string]patch{}
	var edits *graphEdits
	if spec.mult != nil && len(loras) > 0 {
		targets, err := gi.loraTargets(spec.prefix)
		if err != nil {
			return res, modelErr(rel, "lora targets: %v", err)
		}
		deltas := map[string][]float32{}
		rep := addLoraDeltas(deltas, targets, loras, spec)
		for _, err := range rep.errors {
			r.log.Error("lora not applied", "part", p.name, "error", err)
		}
		if rep.unmatched+rep.unsupported+rep.mismatched > 0 {
			// networks.py logs unmatched keys; A1111 counts shape errors
			// as "Networks with errors".
			r.log.Warn("lora modules not applied", "part", p.name, "applied", rep.applied,
				"unmatched", rep.unmatched, "unsupported_type", rep.unsupported, "shape_mismatch", rep.mismatched)
		}
		if err := addDeltas(gi, targets, deltas, patches); err != nil {
			return res, modelErr(rel, "lora: %v", err)
		}
	}
	if extra != nil {
		t, err := gi.tokenTable(p.in[0].Name, extra.dim)
		if err != nil {
			return res, modelErr(rel, "embeddings: %v", err)
		}
		res.vocab = int(t.dims[0])
		base, ok := patches[t.init]
		if !ok {
			vals, err := gi.tensorFloats(gi.inits[t.init])
			if err != nil {
				return res, modelErr(rel, "embeddings: %v", err)
			}
			base = patch{dims: t.dims, elem: t.elem, data: vals}
		}
		data := append(base.data[:len(base.data):len(base.data)], extra.rows...)
		patches[t.init] = patch{dims: []int64{t.dims[0] + int64(len(extra.rows)/extra.dim), t.dims[1]}, elem: t.elem, data: data}
		edits = poolAtEOS(model, gi, p.in[0].Name, t.dims[0])
	}
	if len(patches) == 0 {
		return res, nil
	}
	res.model, err = patchedModel(model, gi, patches, edits)
	return res, err
}

// useUNetLoras switches the UNet to the session with the LoRA set's
// deltas for the job and returns the function that switches back. With
// tiling or a size that needs it, the patched model is also rewritten as
// tiling.go and anysize.go rewrite the plain one (rw).
func (r *Runner) useUNetLoras(loras []runner.LoRA, rw rewriteOptions) (restore func(), err error) {
	spec := unetSpec()
	key, label := loraKey(loras, spec)
	if key == "" {
		return func() {}, nil
	}
	if rw.circular {
		key, label = key+"\x04tiling", label+" tiling"
	}
	if rw.matchSizes {
		key, label = key+"\x04anysize", label+" any-size"
	}
	e, err := r.patchedSession(r.unet, key, label, func() (built, error) {
		b, err := r.buildLoraModel(r.unet, loras, spec, nil)
		if err != nil || b.model == nil || (!rw.circular && !rw.matchSizes) {
			// No module matched: the plain (tiled, any-size) session serves.
			return b, err
		}
		if b.model, _, err = rewriteModel(b.model, rw); err != nil {
			return b, modelErr("unet/model.onnx", "%s: %v", label, err)
		}
		return b, nil
	})
	if err != nil {
		return nil, err
	}
	if e.sess == nil {
		return func() {}, nil
	}
	prev := r.unet.sess
	r.unet.sess = e.sess
	return func() { r.unet.sess = prev }, nil
}

// unetLoras reports whether any LoRA of the set changes the UNet.
func unetLoras(loras []runner.LoRA) bool {
	for _, l := range loras {
		if l.UNet != 0 {
			return true
		}
	}
	return false
}

// textSession returns the text encoder session for the job's LoRAs and
// embedding rows; nil when the plain session serves.
func (r *Runner) textSession(loras []runner.LoRA, extra *tokenRows) (*patchedPart, error) {
	return r.encoderSession(r.text, teSpec(), loras, extra)
}

// encoderSession returns the session of text encoder p with the LoRAs of
// spec and the embedding rows; nil when the plain session serves.
func (r *Runner) encoderSession(p *part, spec loraSpec, loras []runner.LoRA, extra *tokenRows) (*patchedPart, error) {
	key, label := loraKey(loras, spec)
	if extra != nil {
		key += "\x03" + extra.key
		label = strings.TrimSpace(label + " " + extra.label)
	}
	if key == "" {
		return nil, nil
	}
	e, err := r.patchedSession(p, key, label, func() (built, error) {
		return r.buildLoraModel(p, loras, spec, extra)
	})
	if err != nil || e.sess == nil {
		return nil, err
	}
	return e, nil
}
