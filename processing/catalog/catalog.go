// Package catalog lists the models installed on disk: checkpoints (diffusers
// ONNX model directories) and VAEs, rescanned on request as A1111's
// refresh-checkpoints and refresh-vae do.
package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/sdapi/sdapi/internal/apierr"
)

// ErrNotFound is the kind (apierr.KindNotFound) of LookupCheckpoint's
// error for a name that is not installed.
var ErrNotFound error = apierr.KindNotFound

// Checkpoint is one Stable Diffusion model directory.
type Checkpoint struct {
	Title     string // "name [shorthash]", or the name when it has no hash
	ModelName string
	Filename  string  // absolute path of the model directory
	Hash      *string // short hash: SHA256's first ShortHashLen hex digits
	SHA256    *string // see hashedPart for what is hashed
}

// VAE is one VAE directory (an ONNX vae_decoder, optionally a vae_encoder).
type VAE struct {
	ModelName string
	Filename  string
}

// Catalog holds the last scan of the checkpoint and VAE directories.
type Catalog struct {
	ckptDir, vaeDir string

	hashes hashCache

	mu          sync.RWMutex // guards the two slices
	checkpoints []Checkpoint
	vaes        []VAE
}

// New scans both directories once. A directory that does not exist is an
// empty list, as in A1111; one that cannot be read is an error.
func New(ckptDir, vaeDir string, opts ...Option) (*Catalog, error) {
	c := &Catalog{ckptDir: ckptDir, vaeDir: vaeDir}
	for _, o := range opts {
		o(c)
	}
	c.hashes.load()
	if err := c.RefreshCheckpoints(); err != nil {
		return nil, err
	}
	if err := c.RefreshVAEs(); err != nil {
		return nil, err
	}
	return c, nil
}

// Checkpoints returns the installed checkpoints sorted by title.
func (c *Catalog) Checkpoints() []Checkpoint {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return append([]Checkpoint(nil), c.checkpoints...)
}

// VAEs returns the installed VAEs sorted by name.
func (c *Catalog) VAEs() []VAE {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return append([]VAE(nil), c.vaes...)
}

// LookupCheckpoint finds a checkpoint by any of the names A1111 accepts
// (checkpoint_aliases): title, model name, short hash or sha256.
func (c *Catalog) LookupCheckpoint(name string) (Checkpoint, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, ck := range c.checkpoints {
		if ck.Matches(name) {
			return ck, nil
		}
	}
	return Checkpoint{}, apierr.NotFound("checkpoint %q: not found", name)
}

// RefreshCheckpoints rescans the checkpoint directory: every subdirectory
// holding a model_index.json is a model. Each model's hash is computed
// the first time it is seen and again only when its files change.
func (c *Catalog) RefreshCheckpoints() error {
	dirs, err := modelDirs(c.ckptDir, "model_index.json")
	if err != nil {
		return err
	}
	cks := make([]Checkpoint, 0, len(dirs))
	for _, d := range dirs {
		sum, err := c.hashes.sha256Of(d)
		if err != nil {
			return err
		}
		cks = append(cks, newCheckpoint(d, sum))
	}
	if err := c.hashes.save(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checkpoints = cks
	return nil
}

// RefreshVAEs rescans the VAE directory: every subdirectory holding
// vae_decoder/model.onnx is a VAE.
func (c *Catalog) RefreshVAEs() error {
	dirs, err := modelDirs(c.vaeDir, filepath.Join("vae_decoder", "model.onnx"))
	if err != nil {
		return err
	}
	vaes := make([]VAE, 0, len(dirs))
	for _, d := range dirs {
		vaes = append(vaes, VAE{ModelName: filepath.Base(d), Filename: d})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vaes = vaes
	return nil
}

// modelDirs returns the absolute paths of root's direct subdirectories that
// contain marker, sorted.
func modelDirs(root, marker string) ([]string, error) {
	if root == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		d := filepath.Join(abs, e.Name())
		if st, err := os.Stat(filepath.Join(d, marker)); err == nil && !st.IsDir() {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out, nil
}
