package extranet

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sdapi/sdapi/internal/safetensors"
	"github.com/sdapi/sdapi/runner"
)

// Embedding is one embedding file as create_embedding_from_data reads it.
type Embedding struct {
	Name string
	Path string
	// Shape is the vector width (clip_l + clip_g for SDXL files), Vectors
	// the number of vectors.
	Shape, Vectors int
	// ShortHash is the first 12 hex of the file's sha256 ("TI hashes").
	ShortHash string
	rows      map[string][]float32
}

// Runner is the embedding as runner.Request carries it.
func (e Embedding) Runner() runner.Embedding {
	return runner.Embedding{Name: e.Name, Vectors: e.Vectors, Rows: e.rows}
}

// Problem is a file of the embeddings directory that could not be read,
// and why; A1111 reports those on its console and lists them nowhere.
type Problem struct {
	Path, Reason string
}

// Embeddings is the embeddings directory: the files that load, whatever
// their shape; Split sorts them into A1111's loaded and skipped for a model.
type Embeddings struct {
	dir string
	log *slog.Logger

	mu       sync.Mutex
	all      []Embedding // sorted by lower-cased name
	problems []Problem
	dirTime  time.Time
}

// NewEmbeddings scans dir; a missing directory has no embeddings.
func NewEmbeddings(dir string, log *slog.Logger) *Embeddings {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Embeddings{dir: dir, log: log}
	e.Refresh()
	return e
}

// Refresh rereads every file (refresh-embeddings, force_reload).
func (db *Embeddings) Refresh() {
	var all []Embedding
	var problems []Problem
	st, _ := os.Stat(db.dir)
	for _, path := range walkFiles(db.dir, ".safetensors", ".pt", ".bin") {
		if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
			continue // A1111 skips empty files silently
		}
		e, err := readEmbedding(path)
		if err != nil {
			problems = append(problems, Problem{Path: path, Reason: err.Error()})
			db.log.Warn("embedding not loaded", "path", path, "reason", err)
			continue
		}
		all = append(all, e)
	}
	sort.SliceStable(all, func(i, j int) bool { return strings.ToLower(all[i].Name) < strings.ToLower(all[j].Name) })
	db.mu.Lock()
	defer db.mu.Unlock()
	db.all, db.problems = all, problems
	if st != nil {
		db.dirTime = st.ModTime()
	}
}

// reloadIfChanged is load_textual_inversion_embeddings(force_reload=False):
// a directory whose mtime moved is read again.
func (db *Embeddings) reloadIfChanged() {
	st, err := os.Stat(db.dir)
	if err != nil {
		return
	}
	db.mu.Lock()
	changed := st.ModTime().After(db.dirTime)
	db.mu.Unlock()
	if changed {
		db.Refresh()
	}
}

// Split returns A1111's word_embeddings and skipped_embeddings for a model
// expecting vectors of width: a file of another width is skipped. Width 0
// loads every file.
func (db *Embeddings) Split(width int) (loaded, skipped []Embedding) {
	db.reloadIfChanged()
	db.mu.Lock()
	defer db.mu.Unlock()
	// word_embeddings is keyed by name: a later file of the same name wins.
	seen := map[string]int{}
	for _, e := range db.all {
		if width != 0 && e.Shape != width {
			skipped = append(skipped, e)
			continue
		}
		if i, ok := seen[e.Name]; ok {
			loaded[i] = e
			continue
		}
		seen[e.Name] = len(loaded)
		loaded = append(loaded, e)
	}
	return loaded, skipped
}

// Problems are the files that did not load at the last scan.
func (db *Embeddings) Problems() []Problem {
	db.mu.Lock()
	defer db.mu.Unlock()
	return append([]Problem(nil), db.problems...)
}

// Lookup returns the embedding named name among loaded ones.
func Lookup(es []Embedding, name string) (Embedding, bool) {
	for _, e := range es {
		if e.Name == name {
			return e, true
		}
	}
	return Embedding{}, false
}

// readEmbedding is load_from_file + create_embedding_from_data for
// safetensors files: clip_g and clip_l make an SDXL embedding; otherwise
// the file must hold exactly one tensor (emb_params, string_to_param.*,
// a diffusers concept), a 1-D one being one vector.
func readEmbedding(path string) (Embedding, error) {
	base := filepath.Base(path)
	e := Embedding{Name: strings.TrimSuffix(base, filepath.Ext(base)), Path: path, rows: map[string][]float32{}}
	if !strings.EqualFold(filepath.Ext(path), ".safetensors") {
		return e, fmt.Errorf("pickle files (%s) are not loaded: convert it to .safetensors", filepath.Ext(path))
	}
	f, err := safetensors.Open(path)
	if err != nil {
		return e, err
	}
	_, hasG := f.Tensors["clip_g"]
	_, hasL := f.Tensors["clip_l"]
	matrix := func(name string) ([]float32, int, int, error) {
		t := f.Tensors[name]
		var n, d int
		switch len(t.Shape) {
		case 1:
			n, d = 1, int(t.Shape[0])
		case 2:
			n, d = int(t.Shape[0]), int(t.Shape[1])
		default:
			return nil, 0, 0, fmt.Errorf("tensor %q has shape %v, want [vectors, width]", name, t.Shape)
		}
		v, err := f.Floats(name)
		return v, n, d, err
	}
	switch {
	case hasG && hasL:
		g, ng, dg, err := matrix("clip_g")
		if err != nil {
			return e, err
		}
		l, nl, dl, err := matrix("clip_l")
		if err != nil {
			return e, err
		}
		if ng != nl {
			return e, fmt.Errorf("clip_g has %d vectors and clip_l %d", ng, nl)
		}
		e.rows["clip_g"], e.rows["clip_l"] = g, l
		e.Shape, e.Vectors = dg+dl, ng
	case len(f.Tensors) == 1:
		name := f.Names()[0]
		v, n, d, err := matrix(name)
		if err != nil {
			return e, err
		}
		e.rows[""] = v
		e.Shape, e.Vectors = d, n
	case len(f.Tensors) == 0:
		return e, fmt.Errorf("holds no tensors")
	default:
		return e, fmt.Errorf("embedding file has multiple terms in it (%d tensors)", len(f.Tensors))
	}
	if e.Vectors == 0 || e.Shape == 0 {
		return e, fmt.Errorf("empty embedding (%d vectors of width %d)", e.Vectors, e.Shape)
	}
	sum, err := safetensors.FileSHA256(path)
	if err != nil {
		return e, err
	}
	e.ShortHash = sum[:12]
	return e, nil
}
