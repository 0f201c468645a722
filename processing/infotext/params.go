package infotext

import (
	"bytes"
	"encoding/json"
)

// Params is the result of Parse: a string-keyed map that remembers insertion
// order, because A1111 returns a Python dict and clients see its key order in
// the /png-info JSON. Values are strings, except the defaults A1111 fills in
// as ints (0, 32), the bool flags added by backcompat, and the ints written
// by the old hires-fix conversion.
type Params struct {
	keys   []string
	values map[string]any
}

// Get returns the value stored under key.
func (p *Params) Get(key string) (any, bool) {
	v, ok := p.values[key]
	return v, ok
}

// String returns the value under key when it is a string, else "".
func (p *Params) String(key string) string {
	s, _ := p.values[key].(string)
	return s
}

// Has reports whether key is present.
func (p *Params) Has(key string) bool {
	_, ok := p.values[key]
	return ok
}

// Set stores v under key. Like a Python dict, overwriting an existing key
// keeps its original position.
func (p *Params) Set(key string, v any) {
	if p.values == nil {
		p.values = make(map[string]any)
	}
	if _, ok := p.values[key]; !ok {
		p.keys = append(p.keys, key)
	}
	p.values[key] = v
}

// setDefault stores v only when key is missing (A1111's `if k not in res`).
func (p *Params) setDefault(key string, v any) {
	if !p.Has(key) {
		p.Set(key, v)
	}
}

// Delete removes key, as Python's dict.pop(key, None).
func (p *Params) Delete(key string) {
	if _, ok := p.values[key]; !ok {
		return
	}
	delete(p.values, key)
	for i, k := range p.keys {
		if k == key {
			p.keys = append(p.keys[:i:i], p.keys[i+1:]...)
			break
		}
	}
}

// Keys returns the keys in insertion order.
func (p *Params) Keys() []string {
	return append([]string(nil), p.keys...)
}

// Len returns the number of keys.
func (p *Params) Len() int { return len(p.keys) }

// Map returns an unordered copy of the values.
func (p *Params) Map() map[string]any {
	m := make(map[string]any, len(p.values))
	for k, v := range p.values {
		m[k] = v
	}
	return m
}

// MarshalJSON writes the object with keys in insertion order and without
// HTML escaping, as Python's json.dumps would. Note that json.Marshal
// re-escapes <, > and & in a Marshaler's output; use a json.Encoder with
// SetEscapeHTML(false) to keep them.
func (p Params) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range p.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := encodeJSON(&buf, k); err != nil {
			return nil, err
		}
		buf.WriteByte(':')
		if err := encodeJSON(&buf, p.values[k]); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// encodeJSON appends v without the trailing newline json.Encoder adds.
func encodeJSON(buf *bytes.Buffer, v any) error {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Write(bytes.TrimSuffix(tmp.Bytes(), []byte("\n")))
	return nil
}
