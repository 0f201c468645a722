package server

import (
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/sdapi/sdapi/gen"
)

// flagDefs is the spec's Flags schema: A1111 1.10's argparse keys in order,
// with their defaults and the type FlagsModel gives each.
type flagDef struct {
	key     string
	def     any
	typeStr bool // FlagsModel types the field str (argparse default None or a str)
}

var flagDefs = sync.OnceValues(func() ([]flagDef, error) {
	spec, err := gen.GetSwagger()
	if err != nil {
		return nil, fmt.Errorf("load embedded spec: %w", err)
	}
	ref, ok := spec.Components.Schemas["Flags"]
	if !ok || ref.Value == nil {
		return nil, fmt.Errorf("spec has no Flags schema")
	}
	keys := orderedKeys(ref.Value)
	defs := make([]flagDef, len(keys))
	for i, k := range keys {
		p := ref.Value.Properties[k].Value
		def := p.Default
		if n, ok := def.(float64); ok && p.Type.Is(openapi3.TypeInteger) {
			def = int64(n) // an int default stays an int (16, not 16.0)
		}
		defs[i] = flagDef{key: k, def: def, typeStr: p.Type.Is(openapi3.TypeString)}
	}
	return defs, nil
})

// flagsBody is GET /cmd-flags: every A1111 key in argparse order, the
// server's value where it has the flag and A1111's default otherwise,
// coerced as FlagsModel does; then the server's own flags, sorted.
func flagsBody(values map[string]any) (pyObject, error) {
	defs, err := flagDefs()
	if err != nil {
		return nil, err
	}
	out := make(pyObject, 0, len(defs)+len(values))
	known := make(map[string]bool, len(defs))
	for _, d := range defs {
		known[d.key] = true
		v, ok := values[d.key]
		if !ok {
			v = d.def
		}
		if d.typeStr && v != nil {
			v = flagStr(v)
		}
		out = append(out, pyMember{Key: d.key, Value: v})
	}
	var extra []string
	for k := range values {
		if !known[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		out = append(out, pyMember{Key: k, Value: values[k]})
	}
	return out, nil
}

// flagStr is pydantic v1's coercion into a str field: str() of a number
// or bool; a string stays as it is.
func flagStr(v any) any {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint, uint64, int32, uint32:
		return fmt.Sprint(x)
	case time.Duration:
		return x.String()
	case bool, float64, float32:
		return pyStr(x)
	}
	return v // lists and objects: A1111 would fail; keep the value
}
