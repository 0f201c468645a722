package extranet

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sdapi/sdapi/internal/safetensors"
)

// Lora is one file of the Lora directory, as NetworkOnDisk describes it.
type Lora struct {
	Name  string // the file name without its extension
	Alias string // metadata ss_output_name, else Name
	Path  string
	// Rel is Path relative to the Lora directory: where the directory's
	// order (CompareLoras) puts it, whichever machine holds it.
	Rel string
	// Metadata is the safetensors header's __metadata__, values that are
	// JSON objects decoded (read_metadata_from_safetensors); empty for
	// pickle files and unreadable headers, as A1111 lists them.
	Metadata map[string]any
	// Skip is why the file cannot be applied ("" when it can): pickle
	// files are never loaded, a malformed header is reported here.
	Skip string

	modTime time.Time
	size    int64
}

// Loras is the Lora directory: A1111's available_networks.
type Loras struct {
	dir string
	log *slog.Logger

	mu      sync.Mutex
	byName  map[string]*Lora // available_networks
	aliases map[string]*Lora // available_network_aliases
	// forbidden are aliases (lower-cased) two files share; only names
	// find those files (forbidden_network_aliases).
	forbidden map[string]bool
	order     []*Lora
	// hashes are the short hashes computed so far (A1111's read_hash, on
	// first use), by path, kept across rescans while the file is unchanged.
	hashes map[string]fileHash
}

type fileHash struct {
	modTime time.Time
	size    int64
	hash    string
}

// NewLoras scans dir; a missing directory lists nothing.
func NewLoras(dir string, log *slog.Logger) *Loras {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Loras{dir: dir, log: log, hashes: map[string]fileHash{}}
	l.Refresh()
	return l
}

// Dir is the scanned directory.
func (l *Loras) Dir() string { return l.dir }

// Refresh rescans the directory (list_available_networks).
func (l *Loras) Refresh() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byName, l.aliases, l.order = map[string]*Lora{}, map[string]*Lora{}, nil
	l.forbidden = map[string]bool{"none": true, "addams": true}
	for _, path := range walkFiles(l.dir, ".pt", ".ckpt", ".safetensors") {
		e := l.readLora(path)
		if rel, err := filepath.Rel(l.dir, path); err == nil {
			e.Rel = rel
		}
		l.add(e)
	}
}

func (l *Loras) add(e *Lora) {
	if old, ok := l.byName[e.Name]; ok {
		l.order = removeLora(l.order, old)
	}
	l.byName[e.Name] = e
	l.order = append(l.order, e)
	if _, taken := l.aliases[e.Alias]; taken {
		l.forbidden[strings.ToLower(e.Alias)] = true
	}
	l.aliases[e.Name] = e
	l.aliases[e.Alias] = e
}

func removeLora(ls []*Lora, e *Lora) []*Lora {
	out := ls[:0]
	for _, x := range ls {
		if x != e {
			out = append(out, x)
		}
	}
	return out
}

// readLora is NetworkOnDisk: it never fails; what cannot be read is a
// listed file with a Skip reason.
func (l *Loras) readLora(path string) *Lora {
	base := filepath.Base(path)
	e := &Lora{Name: strings.TrimSuffix(base, filepath.Ext(base)), Path: path, Metadata: map[string]any{}}
	if st, err := os.Stat(path); err == nil {
		e.modTime, e.size = st.ModTime(), st.Size()
	}
	if !strings.EqualFold(filepath.Ext(path), ".safetensors") {
		e.Skip = "pickle files (.pt, .ckpt) are not loaded: convert it to .safetensors"
	} else if f, err := safetensors.Open(path); err != nil {
		e.Skip = fmt.Sprintf("unreadable: %v", err)
	} else {
		for k, v := range f.Metadata {
			e.Metadata[k] = v
			if strings.HasPrefix(v, "{") {
				var obj any
				if json.Unmarshal([]byte(v), &obj) == nil {
					e.Metadata[k] = obj
				}
			}
		}
		if len(f.Tensors) == 0 {
			e.Skip = "holds no tensors"
		}
	}
	e.Alias = e.Name
	if s, ok := e.Metadata["ss_output_name"].(string); ok {
		e.Alias = s
	}
	if e.Skip != "" {
		l.log.Warn("lora skipped", "path", path, "reason", e.Skip)
	}
	return e
}

// List returns the files in scan order, which is CompareLoras's; a name
// found twice is listed once, last, as its last file.
func (l *Loras) List() []Lora {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Lora, len(l.order))
	for i, e := range l.order {
		out[i] = *e
	}
	return out
}

// Lookup finds a LoRA by name or alias as load_networks does (a forbidden
// alias only by file name), rescanning the directory once for a name it
// does not know. ok is false when no file has that name.
func (l *Loras) Lookup(name string) (Lora, bool) {
	find := func() *Lora {
		if l.forbidden[strings.ToLower(name)] {
			return l.byName[name]
		}
		return l.aliases[name]
	}
	l.mu.Lock()
	e := find()
	l.mu.Unlock()
	if e == nil {
		l.Refresh()
		l.mu.Lock()
		e = find()
		l.mu.Unlock()
	}
	if e == nil {
		return Lora{}, false
	}
	return *e, true
}

// HasName reports whether a file is named name (available_networks, by
// file name only).
func (l *Loras) HasName(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.byName[name]
	return ok
}

// ShortHash is the 12-hex hash A1111 writes in "Lora hashes": the
// sshs_model_hash metadata, else the addnet hash of the file (sha256 of
// the bytes after the header), computed once per file version.
func (l *Loras) ShortHash(e Lora) (string, error) {
	l.mu.Lock()
	fh, ok := l.hashes[e.Path]
	l.mu.Unlock()
	if ok && fh.modTime.Equal(e.modTime) && fh.size == e.size {
		return fh.hash, nil
	}
	h, _ := e.Metadata["sshs_model_hash"].(string)
	if h == "" {
		var err error
		if h, err = safetensors.AddnetHash(e.Path); err != nil {
			return "", err
		}
	}
	if len(h) > 12 {
		h = h[:12]
	}
	l.mu.Lock()
	l.hashes[e.Path] = fileHash{modTime: e.modTime, size: e.size, hash: h}
	l.mu.Unlock()
	return h, nil
}

// CompareLoras orders LoRAs as one directory holding them all lists
// them: by their Rel, as walkFiles orders paths (a directory's files
// before its subdirectories', folders and names in natural order). It
// merges the listings of several copies of the directory (a fleet's
// workers').
func CompareLoras(a, b Lora) int {
	folder := func(rel string) string {
		if d := filepath.Dir(rel); d != "." {
			return d
		}
		return "" // the directory itself: before every subdirectory
	}
	if c := compareNatural(folder(a.Rel), folder(b.Rel)); c != 0 {
		return c
	}
	return compareNatural(filepath.Base(a.Rel), filepath.Base(b.Rel))
}

func compareNatural(a, b string) int {
	switch {
	case naturalLess(a, b):
		return -1
	case naturalLess(b, a):
		return 1
	}
	return 0
}

// walkFiles is modules/util.walk_files: files under dir with one of the
// extensions (case-insensitive), following symlinks, directory by
// directory in natural order of their paths, each directory's files in
// natural order of their names.
func walkFiles(dir string, exts ...string) []string {
	type folder struct {
		path  string
		files []string
	}
	var folders []folder
	var walk func(string, int)
	walk = func(d string, depth int) {
		if depth > 32 {
			return
		}
		ents, err := os.ReadDir(d)
		if err != nil {
			return
		}
		f := folder{path: d}
		for _, de := range ents {
			p := filepath.Join(d, de.Name())
			st, err := os.Stat(p)
			if err != nil {
				continue
			}
			if st.IsDir() {
				walk(p, depth+1)
				continue
			}
			if st.Mode()&fs.ModeType != 0 {
				continue
			}
			for _, x := range exts {
				if strings.EqualFold(filepath.Ext(p), x) {
					f.files = append(f.files, de.Name())
					break
				}
			}
		}
		folders = append(folders, f)
	}
	walk(dir, 0)
	sort.SliceStable(folders, func(i, j int) bool { return naturalLess(folders[i].path, folders[j].path) })
	var out []string
	for _, f := range folders {
		sort.SliceStable(f.files, func(i, j int) bool { return naturalLess(f.files[i], f.files[j]) })
		for _, name := range f.files {
			out = append(out, filepath.Join(f.path, name))
		}
	}
	return out
}

// naturalLess orders as natural_sort_key: runs of digits compare as
// numbers, the rest lower-cased.
func naturalLess(a, b string) bool {
	ka, kb := naturalKey(a), naturalKey(b)
	for i := 0; i < len(ka) && i < len(kb); i++ {
		x, y := ka[i], kb[i]
		if i%2 == 1 { // digits
			if c := x.num.Cmp(y.num); c != 0 {
				return c < 0
			}
			continue
		}
		if x.text != y.text {
			return x.text < y.text
		}
	}
	return len(ka) < len(kb)
}

type keyPart struct {
	text string
	num  *big.Int
}

var reDigits = regexp.MustCompile(`[0-9]+`)

// naturalKey is re.split('([0-9]+)', s): text, number, text, ….
func naturalKey(s string) []keyPart {
	var out []keyPart
	last := 0
	for _, m := range reDigits.FindAllStringIndex(s, -1) {
		n, _ := new(big.Int).SetString(s[m[0]:m[1]], 10)
		out = append(out, keyPart{text: strings.ToLower(s[last:m[0]])}, keyPart{num: n})
		last = m[1]
	}
	return append(out, keyPart{text: strings.ToLower(s[last:])})
}
