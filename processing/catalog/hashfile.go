package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Option configures New.
type Option func(*Catalog)

// HashCacheFile keeps the model hashes in file across restarts, as A1111
// keeps them in cache.json: a model is hashed once, and again only when
// the size or mtime of one of its unet/ files changes. A file that cannot
// be read is ignored (everything is hashed again); one that cannot be
// written fails the scan that tried.
func HashCacheFile(file string) Option {
	return func(c *Catalog) { c.hashes.file = file }
}

// cachedFile and cachedHash are the JSON form of a hashEntry.
type cachedFile struct {
	Name  string `json:"name"`
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime_ns"`
}

type cachedHash struct {
	Files  []cachedFile `json:"files"`
	SHA256 string       `json:"sha256"`
}

// load reads the cache file; a missing or unreadable one leaves the
// cache empty.
func (h *hashCache) load() {
	if h.file == "" {
		return
	}
	b, err := os.ReadFile(h.file)
	if err != nil {
		return
	}
	var m map[string]cachedHash
	if json.Unmarshal(b, &m) != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.entries == nil {
		h.entries = map[string]hashEntry{}
	}
	for dir, e := range m {
		sigs := make([]fileSig, len(e.Files))
		for i, f := range e.Files {
			sigs[i] = fileSig{name: f.Name, size: f.Size, mtime: time.Unix(0, f.MTime)}
		}
		h.entries[dir] = hashEntry{sigs: sigs, sum: e.SHA256}
	}
}

// save writes the cache file when a hash was computed since the last save.
func (h *hashCache) save() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.file == "" || !h.dirty {
		return nil
	}
	m := make(map[string]cachedHash, len(h.entries))
	for dir, e := range h.entries {
		files := make([]cachedFile, len(e.sigs))
		for i, s := range e.sigs {
			files[i] = cachedFile{Name: s.name, Size: s.size, MTime: s.mtime.UnixNano()}
		}
		m[dir] = cachedHash{Files: files, SHA256: e.sum}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(h.file), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("hash cache: %w", err)
	}
	tmp := h.file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("hash cache: %w", err)
	}
	if err := os.Rename(tmp, h.file); err != nil {
		return fmt.Errorf("hash cache: %w", err)
	}
	h.dirty = false
	return nil
}
