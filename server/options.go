package server

import (
	"context"
	"fmt"
	"net/http"
	"sort"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/sdapi/sdapi/gen"
	"github.com/sdapi/sdapi/processing/catalog"
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
	keys := make([]string, 0, len(ref.Value.Properties))
	for k := range ref.Value.Properties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
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
func CheckpointValidator(c *catalog.Catalog) options.Validator {
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
	return rawJSON{body: s.deps.Options.Defined()}, nil
}

func (s *Server) SetConfigSdapiV1OptionsPost(ctx context.Context, req gen.SetConfigSdapiV1OptionsPostRequestObject) (gen.SetConfigSdapiV1OptionsPostResponseObject, error) {
	if req.Body == nil {
		return nil, errBodyMissing()
	}
	if err := s.deps.Options.SetFromAPI(ctx, *req.Body); err != nil {
		return nil, err
	}
	return gen.SetConfigSdapiV1OptionsPost200JSONResponse(nil), nil
}
