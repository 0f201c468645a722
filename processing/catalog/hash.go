package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// ShortHashLen is the length of A1111's short hash (CheckpointInfo.shorthash,
// sha256[0:10]) that titles and infotext "Model hash" carry.
const ShortHashLen = 10

// A1111 hashes a checkpoint file with sha256. A model here is a diffusers
// directory, so its hash is defined as the sha256 of the contents of every
// regular file directly in its unet/ directory (model.onnx and its
// external weights), concatenated in byte order of their names. The UNet
// is what makes one Stable Diffusion model differ from another; the text
// encoder and VAE are often shared. A directory without unet/ files has no
// hash (nil), as A1111 has none before it hashes a file.
const hashedPart = "unet"

// fileSig is what the hash cache keys on: a file changed when any of
// these did.
type fileSig struct {
	name  string
	size  int64
	mtime time.Time
}

type hashEntry struct {
	sigs []fileSig
	sum  string
}

// hashCache remembers each model directory's hash with the size and mtime
// of the files it was computed from, so a refresh rehashes only what
// changed (A1111 keeps sha256 in cache.json keyed by mtime the same way).
type hashCache struct {
	file string // see HashCacheFile; "" keeps the cache in memory only

	mu      sync.Mutex
	entries map[string]hashEntry
	dirty   bool // a hash was computed since the file was last written
}

// sha256Of returns dir's hash (see hashedPart), or "" when it has none.
func (h *hashCache) sha256Of(dir string) (string, error) {
	part := filepath.Join(dir, hashedPart)
	entries, err := os.ReadDir(part)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", dir, err)
	}
	var sigs []fileSig
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return "", fmt.Errorf("hash %s: %w", dir, err)
		}
		sigs = append(sigs, fileSig{name: e.Name(), size: info.Size(), mtime: info.ModTime()})
	}
	if len(sigs) == 0 {
		return "", nil
	}
	sort.Slice(sigs, func(i, j int) bool { return sigs[i].name < sigs[j].name })

	h.mu.Lock()
	cached, ok := h.entries[dir]
	h.mu.Unlock()
	if ok && sameSigs(cached.sigs, sigs) {
		return cached.sum, nil
	}
	sum := sha256.New()
	for _, s := range sigs {
		if err := copyFile(sum, filepath.Join(part, s.name)); err != nil {
			return "", fmt.Errorf("hash %s: %w", dir, err)
		}
	}
	hexSum := hex.EncodeToString(sum.Sum(nil))
	h.mu.Lock()
	if h.entries == nil {
		h.entries = map[string]hashEntry{}
	}
	h.entries[dir] = hashEntry{sigs: sigs, sum: hexSum}
	h.dirty = true
	h.mu.Unlock()
	return hexSum, nil
}

func sameSigs(a, b []fileSig) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].name != b[i].name || a[i].size != b[i].size || !a[i].mtime.Equal(b[i].mtime) {
			return false
		}
	}
	return true
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// newCheckpoint builds A1111's CheckpointInfo fields for the model in dir:
// with a hash, the title is "name [shorthash]".
func newCheckpoint(dir, sum string) Checkpoint {
	name := filepath.Base(dir)
	ck := Checkpoint{Title: name, ModelName: name, Filename: dir}
	if sum != "" {
		short := sum[:ShortHashLen]
		ck.SHA256, ck.Hash = &sum, &short
		ck.Title = name + " [" + short + "]"
	}
	return ck
}

// Matches reports whether name is one of A1111's checkpoint_aliases for ck:
// its title, model name, "name [shorthash]", short hash or full sha256.
func (ck Checkpoint) Matches(name string) bool {
	if name == ck.Title || name == ck.ModelName {
		return true
	}
	if ck.Hash == nil {
		return false
	}
	return name == *ck.Hash || name == *ck.SHA256
}
