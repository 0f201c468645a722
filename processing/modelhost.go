package processing

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing/catalog"
	"github.com/sdapi/sdapi/processing/options"
	"github.com/sdapi/sdapi/runner"
)

// OpenFunc loads the model in dir, with the VAE in vaeDir ("" for the
// model's own). cmd/ supplies it: only cmd knows the ONNX Runtime runner.
type OpenFunc func(ctx context.Context, dir, vaeDir string) (runner.Runner, error)

// ModelHost keeps at most one model loaded, as A1111 keeps one checkpoint
// in memory, and switches when a job asks for another checkpoint or VAE.
// It implements ModelProvider over the catalog of installed models.
type ModelHost struct {
	catalog *catalog.Catalog
	open    OpenFunc

	mu      sync.Mutex // guards the loaded model; held while loading
	current runner.Runner
	key     [2]string // checkpoint dir and VAE dir of current
	// refiner is the refiner_checkpoint model kept beside current (A1111
	// swaps weights; the ONNX sessions of both must live through a run
	// that switches), and refKey its dirs.
	refiner runner.Runner
	refKey  [2]string
	opts    *options.Store // where a load is published; nil: nowhere
}

var (
	_ ModelProvider   = (*ModelHost)(nil)
	_ RefinerProvider = (*ModelHost)(nil)
)

// NewModelHost returns a host that loads nothing until a job needs it.
func NewModelHost(c *catalog.Catalog, open OpenFunc) *ModelHost {
	return &ModelHost{catalog: c, open: open}
}

// Runner returns the runner for checkpoint and vae, loading it when it is
// not the one in memory. An empty or unknown checkpoint means the first
// installed model, as A1111 falls back to its default weights.
func (h *ModelHost) Runner(ctx context.Context, checkpoint, vae string) (runner.Runner, error) {
	ck, err := h.checkpoint(checkpoint)
	if err != nil {
		return nil, err
	}
	vaeDir, err := h.vaeDir(vae)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	key := [2]string{ck.Filename, vaeDir}
	if h.current != nil && h.key == key {
		return h.current, nil
	}
	if h.current != nil {
		_ = h.current.Close()
		h.current = nil
	}
	r, err := h.open(ctx, ck.Filename, vaeDir)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", ck.Title, err)
	}
	r = catalogModel{Runner: r, ck: ck}
	h.current, h.key = r, key
	if h.opts != nil {
		if err := PublishCheckpoint(h.opts, ck); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// PublishTo makes every load write the loaded checkpoint into opts, as
// A1111's load_model_weights writes opts.data (see PublishCheckpoint).
func (h *ModelHost) PublishTo(opts *options.Store) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.opts = opts
}

// PublishCheckpoint sets sd_model_checkpoint to ck's title ("name
// [shorthash]") and sd_checkpoint_hash to its sha256, in memory only, as
// A1111's load_model_weights sets shared.opts.data; the next save of the
// settings writes them.
func PublishCheckpoint(opts *options.Store, ck catalog.Checkpoint) error {
	hash := ""
	if ck.SHA256 != nil {
		hash = *ck.SHA256
	}
	return opts.Publish(map[string]any{"sd_model_checkpoint": ck.Title, "sd_checkpoint_hash": hash})
}

// Checkpoints is a list of installed checkpoints: one process's catalog,
// or a fleet's (the union of its live workers' catalogs).
type Checkpoints interface {
	// Checkpoints lists them in A1111's order.
	Checkpoints() []catalog.Checkpoint
	// LookupCheckpoint finds one by any of A1111's checkpoint_aliases; an
	// error of kind apierr.KindNotFound when none has that alias.
	LookupCheckpoint(name string) (catalog.Checkpoint, error)
}

// JobCheckpoint is the checkpoint a job runs on: its override_settings'
// sd_model_checkpoint when that names a checkpoint (applyOverrides drops
// one that does not), else option (the shared sd_model_checkpoint), as
// SelectCheckpoint resolves it (ModelHost.Runner).
func JobCheckpoint(c Checkpoints, option string, overrides map[string]any) (catalog.Checkpoint, error) {
	if name, ok := overrides["sd_model_checkpoint"].(string); ok {
		if ck, err := c.LookupCheckpoint(name); err == nil {
			return ck, nil
		}
	}
	return SelectCheckpoint(c, option)
}

// SelectCheckpoint is A1111's select_checkpoint: the checkpoint name
// names (any of its aliases), else the first installed one.
func SelectCheckpoint(c Checkpoints, name string) (catalog.Checkpoint, error) {
	if name != "" {
		if ck, err := c.LookupCheckpoint(name); err == nil {
			return ck, nil
		}
	}
	cks := c.Checkpoints()
	if len(cks) == 0 {
		return catalog.Checkpoint{}, apierr.Model("no checkpoint is installed: no model provider configured")
	}
	return cks[0], nil
}

// HasCheckpoint reports whether name is an installed checkpoint.
func (h *ModelHost) HasCheckpoint(name string) bool {
	_, err := h.catalog.LookupCheckpoint(name)
	return err == nil
}

// VAEHash is unknown for ONNX VAE directories: A1111 hashes .safetensors
// files, which these are not.
func (h *ModelHost) VAEHash(string) string { return "" }

// Unload closes the loaded model and refiner, if any (A1111
// unload-checkpoint).
func (h *ModelHost) Unload() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var err error
	if h.refiner != nil {
		err = h.refiner.Close()
		h.refiner, h.refKey = nil, [2]string{}
	}
	if h.current == nil {
		return err
	}
	err = errors.Join(err, h.current.Close())
	h.current, h.key = nil, [2]string{}
	return err
}

// Refiner returns the refiner runner for name, as A1111 resolves
// refiner_checkpoint with get_closet_checkpoint_match (an error wrapping
// ErrNotFound, "Could not find checkpoint with name ...", when none
// matches). The loaded model itself is returned when it is the one named,
// and the runner then does not switch.
func (h *ModelHost) Refiner(ctx context.Context, name, vae string) (runner.Runner, error) {
	model, ok := h.ClosestCheckpoint(name)
	if !ok {
		return nil, apierr.NotFound("Could not find checkpoint with name %s", name)
	}
	ck, err := h.catalog.LookupCheckpoint(model)
	if err != nil {
		return nil, apierr.NotFound("Could not find checkpoint with name %s", name)
	}
	vaeDir, err := h.vaeDir(vae)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	key := [2]string{ck.Filename, vaeDir}
	if h.current != nil && h.key == key {
		return h.current, nil
	}
	if h.refiner != nil && h.refKey == key {
		return h.refiner, nil
	}
	if h.refiner != nil {
		_ = h.refiner.Close()
		h.refiner = nil
	}
	r, err := h.open(ctx, ck.Filename, vaeDir)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", ck.Title, err)
	}
	h.refiner, h.refKey = catalogModel{Runner: r, ck: ck}, key
	return h.refiner, nil
}

// Reload loads checkpoint and vae now (A1111 reload-checkpoint).
func (h *ModelHost) Reload(ctx context.Context, checkpoint, vae string) error {
	if err := h.Unload(); err != nil {
		return err
	}
	_, err := h.Runner(ctx, checkpoint, vae)
	return err
}

// Loaded returns the loaded model's info, or false when none is loaded.
func (h *ModelHost) Loaded() (runner.ModelInfo, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.current == nil {
		return runner.ModelInfo{}, false
	}
	return h.current.Model(), true
}

// ClosestCheckpoint is sd_models.get_closet_checkpoint_match: an alias
// (title, model name, hash), else the shortest title containing name,
// else the shortest containing name without a trailing " [hash]". It
// returns the checkpoint's model name.
func (h *ModelHost) ClosestCheckpoint(name string) (string, bool) {
	if name == "" {
		return "", false
	}
	if ck, err := h.catalog.LookupCheckpoint(name); err == nil {
		return ck.ModelName, true
	}
	cks := h.catalog.Checkpoints()
	for _, s := range []string{name, reChecksum.ReplaceAllString(name, "")} {
		best := -1
		for i, ck := range cks {
			if strings.Contains(ck.Title, s) && (best < 0 || len(ck.Title) < len(cks[best].Title)) {
				best = i
			}
		}
		if best >= 0 {
			return cks[best].ModelName, true
		}
	}
	return "", false
}

var reChecksum = regexp.MustCompile(`\s\[[^]]*]$`)

// VAENames lists the installed VAEs' names (the keys of A1111's
// sd_vae.vae_dict).
func (h *ModelHost) VAENames() []string {
	var out []string
	for _, v := range h.catalog.VAEs() {
		out = append(out, v.ModelName)
	}
	return out
}

func (h *ModelHost) checkpoint(name string) (catalog.Checkpoint, error) {
	return SelectCheckpoint(h.catalog, name)
}

// vaeDir resolves A1111's sd_vae values: "Automatic" and "None" use the
// model's own VAE; any other value must be an installed VAE.
func (h *ModelHost) vaeDir(vae string) (string, error) {
	switch vae {
	case "", "Automatic", "None":
		return "", nil
	}
	for _, v := range h.catalog.VAEs() {
		if v.ModelName == vae {
			return v.Filename, nil
		}
	}
	// The second line is kept from when two joined sentinels made this
	// text: the 500 body stays byte for byte what it was.
	return "", apierr.NotFound("VAE %q: not found\nnot found", vae)
}

// catalogModel reports the catalog's hash of the loaded model (see
// catalog.ShortHashLen: the sha256 over its unet/ files), so infotext
// "Model hash", info's sd_model_hash, /sd-models and the options agree.
type catalogModel struct {
	runner.Runner
	ck catalog.Checkpoint
}

// Unwrap returns the runner the catalog wraps (runner/ort finds its own
// runner through it, for a refiner).
func (m catalogModel) Unwrap() runner.Runner { return m.Runner }

func (m catalogModel) Model() runner.ModelInfo {
	info := m.Runner.Model()
	if m.ck.SHA256 != nil {
		info.SHA256, info.Hash = *m.ck.SHA256, *m.ck.Hash
	}
	return info
}

// PatchCache reports the loaded runner's cache of patched sessions (LoRA
// sets, embedding rows); false when no model is loaded or the runner
// keeps none.
func (h *ModelHost) PatchCache() (runner.PatchCacheStats, bool) {
	h.mu.Lock()
	cur := h.current
	h.mu.Unlock()
	if cm, ok := cur.(catalogModel); ok {
		cur = cm.Runner
	}
	pc, ok := cur.(runner.PatchCacher)
	if !ok {
		return runner.PatchCacheStats{}, false
	}
	return pc.PatchCache(), true
}
