// Package styles reads A1111's prompt-styles file (styles.csv) and applies
// styles to prompts.
package styles

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"
)

// Style is one row of styles.csv.
type Style struct {
	Name           string
	Prompt         string
	NegativePrompt string
}

// File is a styles.csv that is re-read when it changes on disk, so edits
// show up in /prompt-styles without a restart.
type File struct {
	path string

	mu      sync.Mutex // guards the cache
	modTime time.Time
	size    int64
	styles  []Style
}

// Open returns the styles file at path; it need not exist yet.
func Open(path string) *File { return &File{path: path} }

// Styles returns the styles in file order. A missing file has none.
func (f *File) Styles() ([]Style, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := os.Stat(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		f.styles, f.modTime, f.size = nil, time.Time{}, 0
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("styles file: %w", err)
	}
	if f.styles != nil && st.ModTime().Equal(f.modTime) && st.Size() == f.size {
		return append([]Style(nil), f.styles...), nil
	}
	r, err := os.Open(f.path)
	if err != nil {
		return nil, fmt.Errorf("styles file: %w", err)
	}
	defer r.Close()
	styles, err := Parse(r)
	if err != nil {
		return nil, fmt.Errorf("styles file %s: %w", f.path, err)
	}
	f.styles, f.modTime, f.size = styles, st.ModTime(), st.Size()
	return append([]Style(nil), styles...), nil
}

// Parse reads CSV with a header naming the columns name, prompt and
// negative_prompt in any order (A1111 reads it with csv.DictReader). Rows
// without a name are skipped, as A1111 skips them.
func Parse(r io.Reader) ([]Style, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return []Style{}, nil
	}
	if err != nil {
		return nil, err
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	if _, ok := col["name"]; !ok {
		return nil, errors.New(`header has no "name" column`)
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	styles := []Style{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return styles, nil
		}
		if err != nil {
			return nil, err
		}
		name := get(rec, "name")
		if name == "" {
			continue
		}
		styles = append(styles, Style{Name: name, Prompt: get(rec, "prompt"), NegativePrompt: get(rec, "negative_prompt")})
	}
}

// ApplyToPrompt merges a style text into a prompt as A1111's
// apply_styles_to_prompt does: a "{prompt}" placeholder is replaced by the
// prompt; otherwise the two are joined with ", " when both are non-empty.
func ApplyToPrompt(prompt, styleText string) string {
	if strings.Contains(styleText, "{prompt}") {
		return strings.ReplaceAll(styleText, "{prompt}", prompt)
	}
	parts := make([]string, 0, 2)
	for _, p := range []string{prompt, styleText} {
		if strings.TrimSpace(p) != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}
