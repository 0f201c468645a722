package conformance

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/getkin/kin-openapi/openapi3"
)

// negCase is one deliberately invalid request body, generated from an
// operation's request schema.
type negCase struct {
	Name string
	Body []byte // empty: a request with Content-Type JSON and no body
	// Prop is the property the case breaks ("" for whole-body cases); the
	// 422's detail must then name it in loc.
	Prop string
}

// negative data categories
const (
	negMalformed = "malformed JSON"
	negWrongType = "wrong types"
	negRange     = "out-of-enum and out-of-range values"
	negShape     = "missing or non-object body"
)

// jsonBodySchema returns the application/json request schema of op, or nil.
func jsonBodySchema(op *openapi3.Operation) *openapi3.Schema {
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return nil
	}
	mt := op.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		return nil
	}
	return mt.Schema.Value
}

// negativeCases generates the cases of one category for an operation,
// starting from a valid body and breaking one thing at a time.
func negativeCases(op *openapi3.Operation, base map[string]any, category string) []negCase {
	schema := jsonBodySchema(op)
	if schema == nil {
		return nil
	}
	with := func(prop string, v any) []byte {
		m := map[string]any{}
		for k, x := range base {
			m[k] = x
		}
		m[prop] = v
		b, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		return b
	}
	var out []negCase
	switch category {
	case negMalformed:
		out = append(out, negCase{Name: "truncated object", Body: []byte(`{"prompt": "a cat", `)},
			negCase{Name: "bare word", Body: []byte(`{bad json`)})
	case negShape:
		out = append(out, negCase{Name: "empty body", Body: []byte{}}, negCase{Name: "a JSON array that is no list of pairs", Body: []byte(`[1]`)},
			negCase{Name: "a JSON string", Body: []byte(`"text"`)})
	case negWrongType:
		for _, name := range sortedProps(schema) {
			p := schema.Properties[name].Value
			if p == nil || p.Type == nil {
				continue
			}
			v, ok := wrongTypeValue(p)
			if !ok {
				continue
			}
			out = append(out, negCase{Name: fmt.Sprintf("%s: %s given %s", name, p.Type.Slice()[0], jsonKind(v)), Body: with(name, v), Prop: name})
		}
	case negRange:
		for _, name := range sortedProps(schema) {
			p := schema.Properties[name].Value
			if p == nil {
				continue
			}
			if len(p.Enum) > 0 {
				out = append(out, negCase{Name: fmt.Sprintf("%s: outside enum %v", name, p.Enum), Body: with(name, outOfEnum(p)), Prop: name})
			}
			if p.Min != nil {
				out = append(out, negCase{Name: fmt.Sprintf("%s: below minimum %v", name, *p.Min), Body: with(name, *p.Min-1), Prop: name})
			}
			if p.Max != nil {
				out = append(out, negCase{Name: fmt.Sprintf("%s: above maximum %v", name, *p.Max), Body: with(name, *p.Max+1), Prop: name})
			}
		}
	}
	return out
}

func sortedProps(s *openapi3.Schema) []string {
	var names []string
	for n := range s.Properties {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// wrongTypeValue picks a value that neither JSON Schema nor pydantic v1
// coerces into the declared type: pydantic turns numbers into strings and
// "true" into booleans, so strings, numbers and booleans get an object,
// arrays get a string and objects get a number.
func wrongTypeValue(p *openapi3.Schema) (any, bool) {
	switch {
	case p.Type.Is("string"), p.Type.Is("integer"), p.Type.Is("number"), p.Type.Is("boolean"):
		return map[string]any{"sdapi-conform": "wrong type"}, true
	case p.Type.Is("array"):
		return "not an array", true
	case p.Type.Is("object"):
		return 42, true
	}
	return nil, false
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case string:
		return "a string"
	case int, float64:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

func outOfEnum(p *openapi3.Schema) any {
	if p.Type != nil && (p.Type.Is("integer") || p.Type.Is("number")) {
		hi := 0.0
		for _, e := range p.Enum {
			if f, ok := e.(float64); ok && f > hi {
				hi = f
			}
		}
		return hi + 7
	}
	return "sdapi-conform-not-in-enum"
}

// validBody is a small valid request for the operations that take a JSON
// body; the negative cases mutate it one property at a time.
func (suite *Suite) validBody(path string) map[string]any {
	img := pngBase64(testImage(smallSize, smallSize, 3))
	switch path {
	case APIPrefix + "/txt2img":
		return suite.smallTxt2Img(nil)
	case APIPrefix + "/img2img":
		return suite.smallImg2Img(nil)
	case APIPrefix + "/extra-single-image":
		return map[string]any{"image": img, "upscaling_resize": 2, "upscaler_1": "Lanczos"}
	case APIPrefix + "/extra-batch-images":
		return map[string]any{"imageList": []map[string]any{{"data": img, "name": "a.png"}}, "upscaling_resize": 2, "upscaler_1": "Lanczos"}
	case APIPrefix + "/png-info":
		return map[string]any{"image": img}
	case APIPrefix + "/interrogate":
		return map[string]any{"image": img, "model": "clip"}
	}
	return map[string]any{}
}
