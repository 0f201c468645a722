package options

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sort"
	"sync"
)

// Store holds the server's settings: the defined options, the values loaded
// from config.json or set since, and any job overrides in effect.
// It is safe for concurrent use.
type Store struct {
	file       string // config.json; "" keeps the store in memory only
	order      []string
	defs       map[string]*Def
	validators []Validator
	warnings   []error

	// mu guards data and overridden. Writers hold it while config.json is
	// written, so the file always matches some state readers could see and
	// two saves can never land out of order.
	mu sync.RWMutex
	// data is A1111's opts.data: values loaded from the file or set since.
	// An option missing here has its default. In-effect overrides live here
	// too, so every reader sees them, as in A1111.
	data map[string]any
	// overridden holds, for each key a live override has changed, what
	// config.json should still say about it.
	overridden map[string]*overrideRecord
}

// Entry is one option and its current value, as listed by Entries.
type Entry struct {
	Key   string
	Value any
}

// New builds a store for defs and loads file (A1111's config.json) if it
// exists; file "" makes an in-memory store that Save leaves alone.
//
// File values of the wrong type for their Def, and values for do_not_save
// options, are dropped with a warning (see Warnings) rather than failing.
// A file that is not a JSON object gives an error wrapping ErrCorruptConfig.
// Invalid defs (empty or duplicate key, default of the wrong type) are errors.
func New(defs []Def, file string, validators ...Validator) (*Store, error) {
	s := &Store{
		file:       file,
		defs:       make(map[string]*Def, len(defs)),
		validators: slices.Clone(validators),
		data:       map[string]any{},
		overridden: map[string]*overrideRecord{},
	}
	for i := range defs {
		d := defs[i] // copy: later changes to the caller's slice do not reach us
		if d.Key == "" {
			return nil, fmt.Errorf("options: def %d has no key", i)
		}
		if _, dup := s.defs[d.Key]; dup {
			return nil, fmt.Errorf("options: duplicate def %q", d.Key)
		}
		def, err := normalize(d.Default)
		if err != nil {
			return nil, fmt.Errorf("options: default of %q: %w", d.Key, err)
		}
		d.Default = def
		// A null default is tolerated on any kind: A1111 has many None
		// defaults whose schema type is not marked nullable.
		if def != nil {
			if err := d.check(def); err != nil {
				return nil, fmt.Errorf("options: default: %w", err)
			}
		}
		s.defs[d.Key] = &d
		s.order = append(s.order, d.Key)
	}
	if file != "" {
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Store) load() error {
	b, err := os.ReadFile(s.file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("options: load %s: %w", s.file, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("options: load %s: %w: %w", s.file, ErrCorruptConfig, err)
	}
	if raw == nil { // the file says "null"
		return fmt.Errorf("options: load %s: %w: not a JSON object", s.file, ErrCorruptConfig)
	}
	for _, k := range sortedKeys(raw) {
		v := raw[k]
		d, known := s.defs[k]
		switch {
		case !known:
			s.data[k] = v // kept and written back, as A1111 keeps it in opts.data
		case d.DoNotSave:
			s.warnings = append(s.warnings, &ValueError{Key: k, Want: "no stored value (do_not_save)", Got: jsonTypeName(v)})
		default:
			if err := d.check(v); err != nil {
				s.warnings = append(s.warnings, err)
				continue
			}
			s.data[k] = v
		}
	}
	return nil
}

// Warnings lists what New dropped from config.json, each a *ValueError.
func (s *Store) Warnings() []error { return slices.Clone(s.warnings) }

// Keys lists every option: defined ones in def order, then keys that only
// config.json knows, sorted.
func (s *Store) Keys() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keysLocked()
}

func (s *Store) keysLocked() []string {
	keys := slices.Clone(s.order)
	var extra []string
	for k := range s.data {
		if _, known := s.defs[k]; !known {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	return append(keys, extra...)
}

// Entries is All in Keys order, for an ordered GET /options body.
func (s *Store) Entries() []Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys := s.keysLocked()
	out := make([]Entry, len(keys))
	for i, k := range keys {
		v, _ := s.getLocked(k)
		out[i] = Entry{Key: k, Value: clone(v)}
	}
	return out
}

// All returns every option with its current value, defaults filled in
// (A1111's get_config). The map and its values are copies.
func (s *Store) All() map[string]any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]any, len(s.order)+len(s.data))
	for _, k := range s.order {
		v, _ := s.getLocked(k)
		out[k] = clone(v)
	}
	for k, v := range s.data {
		out[k] = clone(v)
	}
	return out
}

// Get returns a copy of an option's current value; ok is false for a key
// neither defined nor in config.json.
func (s *Store) Get(key string) (value any, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.getLocked(key)
	return clone(v), ok
}

func (s *Store) getLocked(key string) (any, bool) {
	if v, ok := s.data[key]; ok {
		return v, true
	}
	if d, ok := s.defs[key]; ok {
		return d.Default, true
	}
	return nil, false
}

// Bool returns a boolean option, or false if key is missing or not a boolean.
func (s *Store) Bool(key string) bool {
	v, _ := s.Get(key)
	b, _ := v.(bool)
	return b
}

// Float returns a number option, or 0 if key is missing or not a number.
func (s *Store) Float(key string) float64 {
	v, _ := s.Get(key)
	f, _ := v.(float64)
	return f
}

// Int returns a number option truncated to an int, or 0 if key is missing
// or not a number.
func (s *Store) Int(key string) int {
	return int(s.Float(key))
}

// String returns a string option, or "" if key is missing or not a string.
func (s *Store) String(key string) string {
	v, _ := s.Get(key)
	str, _ := v.(string)
	return str
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Defined is All without the keys only config.json knows: what A1111's
// GET /options answers, since its OptionsModel is built from the defined
// options and pydantic drops the rest.
func (s *Store) Defined() map[string]any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]any, len(s.order))
	for _, k := range s.order {
		v, _ := s.getLocked(k)
		out[k] = clone(v)
	}
	return out
}

// Publish sets values the server determines itself, as A1111 writes
// shared.opts.data directly when a model loads (sd_model_checkpoint,
// sd_checkpoint_hash): no validators, no type rules beyond JSON, nothing
// saved now; the next save writes them, as A1111's next opts.save does.
func (s *Store) Publish(values map[string]any) error {
	norm := make(map[string]any, len(values))
	for k, v := range values {
		n, err := normalize(v)
		if err != nil {
			return &ValueError{Key: k, Want: "a JSON value", Got: err.Error()}
		}
		norm[k] = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	maps.Copy(s.data, norm)
	return nil
}
