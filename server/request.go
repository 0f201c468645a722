package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/sdapi/sdapi/gen"
)

// The request validator runs with SkipSettingDefaults and KeepValidatedValue,
// so the value it validated is the JSON body exactly as the client sent it:
// the keys present (nulls included) are the keys the client set, which
// A1111's apply_infotext and vars(request) depend on. rawBodyMiddleware
// hands that value to the handlers through the request context.

type rawBodyKey struct{}

// rawBodyMiddleware puts the validated JSON object of the request body, when
// there is one, into the request context (see rawBody).
func rawBodyMiddleware(f gen.StrictHandlerFunc, _ string) gen.StrictHandlerFunc {
	return func(c echo.Context, request any) (any, error) {
		if vb, ok := c.Request().Body.(interface{ ValidatedValue() any }); ok {
			if m, ok := vb.ValidatedValue().(map[string]any); ok {
				r := c.Request()
				c.SetRequest(r.WithContext(context.WithValue(r.Context(), rawBodyKey{}, m)))
			}
		}
		return f(c, request)
	}
}

// rawBody returns the request's JSON object as sent. Without the validator's
// value (a handler called directly) it re-encodes body, which loses the
// difference between null and absent.
func rawBody(ctx context.Context, body any) map[string]any {
	if m, ok := ctx.Value(rawBodyKey{}).(map[string]any); ok {
		return m
	}
	m := map[string]any{}
	if b, err := json.Marshal(body); err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		_ = dec.Decode(&m)
	}
	return m
}

// rawReq is a request body as decoded JSON, with typed getters. The schema
// has validated the types already; a getter that finds null, or a key that
// is absent, leaves the destination alone.
type rawReq map[string]any

func (r rawReq) str(key string, dst *string) {
	if v, ok := r[key].(string); ok {
		*dst = v
	}
}

func (r rawReq) strPtr(key string, dst **string) {
	if v, ok := r[key].(string); ok {
		*dst = &v
	}
}

func (r rawReq) num(key string) (float64, bool) {
	switch v := r[key].(type) {
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case float64:
		return v, true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	}
	return 0, false
}

func (r rawReq) integer(key string) (int64, bool) {
	switch v := r[key].(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n, true
		}
		f, err := v.Float64()
		return int64(f), err == nil
	case float64:
		return int64(v), true
	case int:
		return int64(v), true
	case int64:
		return v, true
	case bool: // pydantic v1 coerces a bool into an int field
		if v {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func (r rawReq) int(key string, dst *int) {
	if v, ok := r.integer(key); ok {
		*dst = int(v)
	}
}

func (r rawReq) int64(key string, dst *int64) {
	if v, ok := r.integer(key); ok {
		*dst = v
	}
}

func (r rawReq) intPtr(key string, dst **int) {
	if v, ok := r.integer(key); ok {
		n := int(v)
		*dst = &n
	}
}

func (r rawReq) float(key string, dst *float64) {
	if v, ok := r.num(key); ok {
		*dst = v
	}
}

func (r rawReq) floatPtr(key string, dst **float64) {
	if v, ok := r.num(key); ok {
		*dst = &v
	}
}

func (r rawReq) bool(key string, dst *bool) {
	if v, ok := r[key].(bool); ok {
		*dst = v
	}
}

func (r rawReq) boolPtr(key string, dst **bool) {
	if v, ok := r[key].(bool); ok {
		*dst = &v
	}
}

func (r rawReq) strs(key string, dst *[]string) {
	list, ok := r[key].([]any)
	if !ok {
		return
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		s, _ := v.(string)
		out = append(out, s)
	}
	*dst = out
}

func (r rawReq) object(key string, dst *map[string]any) {
	if m, ok := r[key].(map[string]any); ok {
		*dst = plainJSON(m).(map[string]any)
	}
}

func (r rawReq) list(key string, dst *[]any) {
	if l, ok := r[key].([]any); ok {
		*dst = plainJSON(l).([]any)
	}
}

// plainJSON converts json.Number values to float64, the types processing expects from decoded JSON, copying maps
// and slices on the way.
func plainJSON(v any) any {
	switch v := v.(type) {
	case json.Number:
		f, _ := v.Float64()
		return f
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = plainJSON(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = plainJSON(x)
		}
		return out
	}
	return v
}

// schemaDefaults are the properties of each request schema with their
// defaults (nil when the schema gives none): vars(request) of a pydantic
// model is every field, defaults filled in.
var schemaDefaults = sync.OnceValues(func() (map[string]map[string]any, error) {
	spec, err := gen.GetSwagger()
	if err != nil {
		return nil, fmt.Errorf("load embedded spec: %w", err)
	}
	out := map[string]map[string]any{}
	for _, name := range []string{"StableDiffusionProcessingTxt2Img", "StableDiffusionProcessingImg2Img"} {
		ref, ok := spec.Components.Schemas[name]
		if !ok || ref.Value == nil {
			return nil, fmt.Errorf("spec has no %s schema", name)
		}
		props := map[string]any{}
		for k, p := range ref.Value.Properties {
			var def any
			if p.Value != nil {
				def = p.Value.Default
			}
			props[k] = def
		}
		out[name] = props
	}
	return out, nil
})

// echoParameters is A1111's vars(request): every field of the request
// model, the value sent where the request has the key (null included), the
// default otherwise. Unknown keys are dropped, as pydantic does.
func echoParameters(schema string, raw map[string]any) (map[string]any, error) {
	all, err := schemaDefaults()
	if err != nil {
		return nil, err
	}
	defs := all[schema]
	out := make(map[string]any, len(defs))
	for k, def := range defs {
		if v, ok := raw[k]; ok {
			out[k] = v
			continue
		}
		switch d := def.(type) {
		case map[string]any:
			def = maps.Clone(d)
		case []any:
			def = append([]any{}, d...)
		}
		out[k] = def
	}
	if v, ok := raw["inpainting_mask_invert"].(bool); ok && out["inpainting_mask_invert"] != nil {
		// The field is an int; pydantic v1 coerces the bool.
		out["inpainting_mask_invert"] = map[bool]int{false: 0, true: 1}[v]
	}
	return out, nil
}
