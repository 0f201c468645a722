package options

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Save writes config.json: every value loaded or set (not untouched
// defaults), plus keys only the file knew, never do_not_save options and
// never job overrides. It does nothing for an in-memory store.
func (s *Store) Save() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.writeLocked(s.data, s.overridden)
}

// writeLocked writes data to the file, with overridden keys put back to
// what they were before their override. The caller holds s.mu.
func (s *Store) writeLocked(data map[string]any, overridden map[string]*overrideRecord) error {
	if s.file == "" {
		return nil
	}
	var keys []string
	vals := make(map[string]any, len(data))
	for _, k := range s.keysOf(data) {
		v := data[k]
		if r, ok := overridden[k]; ok {
			if !r.had {
				continue
			}
			v = r.base
		}
		if d, ok := s.defs[k]; ok && d.DoNotSave {
			continue
		}
		keys = append(keys, k)
		vals[k] = v
	}
	b, err := encodeConfig(keys, vals)
	if err != nil {
		return fmt.Errorf("options: save %s: %w", s.file, err)
	}
	if err := writeFileAtomic(s.file, b); err != nil {
		return fmt.Errorf("options: save %s: %w", s.file, err)
	}
	return nil
}

// keysOf lists data's keys in the store's order: defs first, then the rest
// sorted. Python keeps insertion order; a stable order keeps diffs small.
func (s *Store) keysOf(data map[string]any) []string {
	var keys []string
	for _, k := range s.order {
		if _, ok := data[k]; ok {
			keys = append(keys, k)
		}
	}
	for _, k := range sortedKeys(data) {
		if _, known := s.defs[k]; !known {
			keys = append(keys, k)
		}
	}
	return keys
}

// encodeConfig writes what json.dump(data, f, indent=4, ensure_ascii=False)
// writes: 4-space indent, "key": value, raw UTF-8, no trailing newline.
func encodeConfig(keys []string, vals map[string]any) ([]byte, error) {
	if len(keys) == 0 {
		return []byte("{}"), nil
	}
	var out bytes.Buffer
	out.WriteString("{\n")
	for i, k := range keys {
		kb, err := marshal(k)
		if err != nil {
			return nil, err
		}
		vb, err := marshal(vals[k])
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		out.WriteString("    ")
		out.Write(kb)
		out.WriteString(": ")
		out.Write(vb)
		if i < len(keys)-1 {
			out.WriteByte(',')
		}
		out.WriteByte('\n')
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// marshal encodes v as a value nested one level deep, without the HTML
// escaping encoding/json does by default (Python does not do it).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("    ", "    ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// writeFileAtomic replaces name with b so that a crash leaves either the old
// or the new file, never a torn one: temp file in the same directory, fsync,
// rename, then fsync the directory so the rename itself is durable.
func writeFileAtomic(name string, b []byte) error {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if err := writeAndClose(f, b); err != nil {
		os.Remove(tmp) // best effort: the write error is the one to report
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return err
	}
	// The new file is in place; a failed directory fsync only weakens
	// durability across a power cut, so it is not reported as a failed save.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func writeAndClose(f *os.File, b []byte) error {
	// CreateTemp already uses 0600; Chmod makes that explicit and holds
	// even under an odd umask.
	err := f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(b)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
