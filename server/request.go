package server

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/labstack/echo/v4"

	"github.com/sdapi/sdapi/gen"
)

// The request validator runs with SkipSettingDefaults and KeepValidatedValue,
// so the value it validated is the JSON body exactly as the client sent it:
// the keys present (nulls included) are the keys the client set.
// rawBodyMiddleware hands that value to the strict handlers (interrogate
// reads it) through the request context. txt2img and img2img do not pass
// the validator: decodeGeneration reads their body.

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
