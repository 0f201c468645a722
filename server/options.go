package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/sdapi/sdapi/gen"
	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/options"
)

// OptionDefs reads the option keys, types and defaults from the Options
// schema of the embedded spec, so the contract is their one source. The
// x-sdapi-* extensions carry A1111's OptionInfo flags.
func OptionDefs() ([]options.Def, error) {
	spec, err := gen.GetSwagger()
	if err != nil {
		return nil, fmt.Errorf("load embedded spec: %w", err)
	}
	ref, ok := spec.Components.Schemas["Options"]
	if !ok || ref.Value == nil {
		return nil, fmt.Errorf("spec has no Options schema")
	}
	keys := orderedKeys(ref.Value)
	defs := make([]options.Def, 0, len(keys))
	for _, k := range keys {
		p := ref.Value.Properties[k].Value
		defs = append(defs, options.Def{
			Key:         k,
			Default:     p.Default,
			Type:        kindOf(p),
			Nullable:    p.Nullable,
			RestrictAPI: p.Extensions["x-sdapi-restrict-api"] == true,
			DoNotSave:   p.Extensions["x-sdapi-do-not-save"] == true,
			Path:        p.Extensions["x-sdapi-path"] == true,
		})
	}
	return defs, nil
}

// orderedKeys lists a schema's properties by their x-order (the order the
// spec lists them in, which is A1111's field order), then by name.
func orderedKeys(s *openapi3.Schema) []string {
	keys := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		keys = append(keys, k)
	}
	order := func(k string) float64 {
		if n, ok := s.Properties[k].Value.Extensions["x-order"].(float64); ok {
			return n
		}
		if n, ok := s.Properties[k].Extensions["x-order"].(float64); ok {
			return n // beside a $ref
		}
		return math.Inf(1)
	}
	sort.Slice(keys, func(i, j int) bool {
		oi, oj := order(keys[i]), order(keys[j])
		if oi != oj {
			return oi < oj
		}
		return keys[i] < keys[j]
	})
	return keys
}

// optionFormat says, per option, how GET /options prints it: as A1111's
// OptionsModel coerces it. A number option whose default is non-zero is a
// float field there (typemap int→float), so 80 prints 80.0; one whose
// default is int 0 is untyped (Any) and keeps an int (x-sdapi-python-int).
type optionFormat struct {
	order []string
	float map[string]bool
	pyInt map[string]bool
}

var optionFormats = sync.OnceValues(func() (optionFormat, error) {
	spec, err := gen.GetSwagger()
	if err != nil {
		return optionFormat{}, fmt.Errorf("load embedded spec: %w", err)
	}
	ref, ok := spec.Components.Schemas["Options"]
	if !ok || ref.Value == nil {
		return optionFormat{}, fmt.Errorf("spec has no Options schema")
	}
	f := optionFormat{order: orderedKeys(ref.Value), float: map[string]bool{}, pyInt: map[string]bool{}}
	for k, p := range ref.Value.Properties {
		if p.Value.Extensions["x-sdapi-python-int"] == true {
			f.pyInt[k] = true
		} else if p.Value.Type.Is(openapi3.TypeNumber) {
			f.float[k] = true
		}
	}
	return f, nil
})

// optionsBody is GET /options: every defined option in A1111's order,
// numbers as Python holds them.
func optionsBody(values map[string]any) (pyObject, error) {
	f, err := optionFormats()
	if err != nil {
		return nil, err
	}
	out := make(pyObject, 0, len(f.order))
	for _, k := range f.order {
		v, ok := values[k]
		if !ok {
			continue
		}
		if n, isNum := v.(float64); isNum && f.pyInt[k] && n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			v = int64(n)
		}
		out = append(out, pyMember{Key: k, Value: v})
	}
	return out, nil
}

func kindOf(s *openapi3.Schema) options.Kind {
	switch {
	case s.Type.Is(openapi3.TypeBoolean):
		return options.KindBool
	case s.Type.Is(openapi3.TypeInteger):
		return options.KindInteger
	case s.Type.Is(openapi3.TypeNumber):
		return options.KindNumber
	case s.Type.Is(openapi3.TypeString):
		return options.KindString
	case s.Type.Is(openapi3.TypeArray):
		return options.KindArray
	case s.Type.Is(openapi3.TypeObject):
		return options.KindObject
	}
	return options.KindAny
}

// CheckpointValidator refuses an sd_model_checkpoint that is not installed,
// with A1111's set_config error (RuntimeError, 500).
func CheckpointValidator(c processing.Checkpoints) options.Validator {
	return func(key string, value any) error {
		if key != "sd_model_checkpoint" || value == nil {
			return nil
		}
		name, _ := value.(string)
		if _, err := c.LookupCheckpoint(name); err != nil {
			msg := fmt.Sprintf("model %s not found", options.PyRepr(fmt.Sprint(value)))
			return &apiError{Status: http.StatusInternalServerError, Class: "RuntimeError", Errors: msg}
		}
		return nil
	}
}

func (s *Server) GetConfigSdapiV1OptionsGet(ctx context.Context, _ gen.GetConfigSdapiV1OptionsGetRequestObject) (gen.GetConfigSdapiV1OptionsGetResponseObject, error) {
	body, err := optionsBody(s.deps.Options.Defined())
	if err != nil {
		return nil, err
	}
	return ok200(body), nil
}

func (s *Server) SetConfigSdapiV1OptionsPost(ctx context.Context, req gen.SetConfigSdapiV1OptionsPostRequestObject) (gen.SetConfigSdapiV1OptionsPostResponseObject, error) {
	if req.Body == nil {
		return nil, errBodyMissing()
	}
	if err := s.deps.Options.SetFromAPI(ctx, *req.Body); err != nil {
		return nil, err
	}
	if sh := s.deps.SharedOptions; sh != nil {
		if err := sh.Share(ctx, *req.Body); err != nil {
			return nil, err
		}
	}
	// A1111's onchange reloads the weights at once, and the load writes the
	// title and sha256; the model loads here with the next job, but the
	// options say what it will be from now on.
	if name, ok := (*req.Body)["sd_model_checkpoint"].(string); ok {
		if ck, err := s.cats.LookupCheckpoint(name); err == nil {
			if err := processing.PublishCheckpoint(s.deps.Options, ck); err != nil {
				return nil, err
			}
		}
	}
	return gen.SetConfigSdapiV1OptionsPost200JSONResponse(nil), nil
}

func (r pyJSON) VisitGetConfigSdapiV1OptionsGetResponse(w http.ResponseWriter) error {
	return r.visit(w)
}
