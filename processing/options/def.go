package options

import (
	"fmt"
	"math"
)

// Kind is the JSON type an option accepts, taken from the OpenAPI Options
// schema. The zero value, KindAny, is an option whose schema declares no type.
type Kind int

// The kinds of option values.
const (
	KindAny     Kind = iota // no type declared: anything, null included
	KindBool                // JSON true/false
	KindNumber              // any finite JSON number
	KindInteger             // a JSON number with no fraction
	KindString              // a JSON string
	KindArray               // a JSON array (items are not checked)
	KindObject              // a JSON object (members are not checked)
)

func (k Kind) String() string {
	switch k {
	case KindAny:
		return "any"
	case KindBool:
		return "boolean"
	case KindNumber:
		return "number"
	case KindInteger:
		return "integer"
	case KindString:
		return "string"
	case KindArray:
		return "array"
	case KindObject:
		return "object"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Def describes one option. The caller builds defs from the OpenAPI spec.
type Def struct {
	Key         string
	Default     any // JSON-typed: nil, bool, float64, string, []any, map[string]any
	Type        Kind
	Nullable    bool
	RestrictAPI bool // OptionInfo(restrict_api=True): ignored when set through the API
	DoNotSave   bool // OptionInfo.do_not_save: ignored when set, never written
	Path        bool // a file-system path: must stay relative and free of ".."
}

// Validator vets one key of a POST /options or override request before
// anything is applied; a non-nil error aborts the whole request. It sees
// every key of the request, known or not, with the value as sent.
type Validator func(key string, value any) error

// check reports whether v (already normalized) is acceptable for d.
func (d *Def) check(v any) error {
	if v == nil {
		if d.Nullable || d.Type == KindAny {
			return nil
		}
		return &ValueError{Key: d.Key, Want: d.want(), Got: "null"}
	}
	ok := false
	switch d.Type {
	case KindAny:
		ok = true
	case KindBool:
		_, ok = v.(bool)
	case KindNumber:
		_, ok = v.(float64)
	case KindInteger:
		f, isNum := v.(float64)
		ok = isNum && f == math.Trunc(f)
	case KindString:
		_, ok = v.(string)
	case KindArray:
		_, ok = v.([]any)
	case KindObject:
		_, ok = v.(map[string]any)
	}
	if !ok {
		return &ValueError{Key: d.Key, Want: d.want(), Got: jsonTypeName(v)}
	}
	if s, isStr := v.(string); isStr && d.Path {
		if reason := unsafePath(s); reason != "" {
			return &ValueError{Key: d.Key, Want: "a relative path without '..'", Got: reason}
		}
	}
	return nil
}

func (d *Def) want() string {
	if d.Nullable && d.Type != KindAny {
		return d.Type.String() + " or null"
	}
	return d.Type.String()
}

func jsonTypeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if x != math.Trunc(x) {
			return "number with a fraction"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
