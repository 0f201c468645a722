package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/options"
)

// TestErrorResponseByKind pins the answer to each apierr.Kind, byte for
// byte: the field goes into the 422 loc as given, wrapping prefixes stay
// in the message, the server's directories do not.
func TestErrorResponseByKind(t *testing.T) {
	t.Parallel()
	red := newRedactor([]string{"/srv/models"})
	for _, tc := range []struct {
		name   string
		err    error
		status int
		body   string
	}{
		{"invalid at a field", apierr.Invalid("batch_size", "batch_size must be at least 1"), http.StatusUnprocessableEntity,
			`{"detail":[{"loc":["body","batch_size"],"msg":"batch_size must be at least 1","type":"value_error"}]}`},
		{"invalid at the body", apierr.Invalid("", "%d seeds for %d images", 2, 3), http.StatusUnprocessableEntity,
			`{"detail":[{"loc":["body"],"msg":"2 seeds for 3 images","type":"value_error"}]}`},
		{"invalid with a path", apierr.Invalid("", "upscale of /srv/models/up/x.onnx by 0"), http.StatusUnprocessableEntity,
			`{"detail":[{"loc":["body"],"msg":"upscale of x.onnx by 0","type":"value_error"}]}`},
		{"invalid, relocated", apierr.Invalid("mask", "mask: %w", apierr.Invalid("", "target size 0x0")), http.StatusUnprocessableEntity,
			`{"detail":[{"loc":["body","mask"],"msg":"mask: target size 0x0","type":"value_error"}]}`},
		{"invalid under a plain prefix", fmt.Errorf("sd upscale: %w", apierr.Invalid("", "upscale by 0")), http.StatusUnprocessableEntity,
			`{"detail":[{"loc":["body"],"msg":"sd upscale: upscale by 0","type":"value_error"}]}`},
		{"limit", &processing.LimitError{Loc: []any{"steps"}, Kind: processing.LimitValue, Limit: 150, Msg: "steps is 151, over 150"}, http.StatusUnprocessableEntity,
			`{"detail":[{"loc":["body","steps"],"msg":"steps is 151, over 150","type":"value_error.number.not_le","ctx":{"limit_value":150}}]}`},
		{"option value", fmt.Errorf("override_settings: %w", &options.ValueError{Key: "CLIP_stop_at_last_layers", Want: "number", Got: "string"}), http.StatusUnprocessableEntity,
			`{"detail":[{"loc":["body","CLIP_stop_at_last_layers"],"msg":"option \"CLIP_stop_at_last_layers\": want number, got string","type":"type_error.number"}]}`},
		{"unknown option", &options.KeyError{Key: "nope"}, http.StatusInternalServerError,
			`{"error":"KeyError","detail":"","body":"","errors":"'nope'"}`},
		{"script", &processing.ScriptError{Name: "nope", Err: processing.ErrScriptNotFound}, http.StatusUnprocessableEntity,
			`{"error":"HTTPException","detail":"Script 'nope' not found","body":"","errors":""}`},
		{"selectable script always on", &processing.ScriptError{Name: "x/y/z plot", Err: processing.ErrSelectableAlwaysOn}, http.StatusUnprocessableEntity,
			`{"error":"HTTPException","detail":"Cannot have a selectable script in the always on scripts params","body":"","errors":""}`},
		{"queue full", apierr.QueueFull("queue: job %q: queue full", "txt2img"), http.StatusServiceUnavailable,
			`{"error":"HTTPException","detail":"Queue is full","body":"","errors":""}`},
		{"shutting down", apierr.ShuttingDown("queue: job %q: queue closed", "txt2img"), http.StatusServiceUnavailable,
			`{"error":"HTTPException","detail":"Server is shutting down","body":"","errors":""}`},
		{"shutting down as a cancel cause", fmt.Errorf("interrupted: %w", apierr.KindShuttingDown), http.StatusServiceUnavailable,
			`{"error":"HTTPException","detail":"Server is shutting down","body":"","errors":""}`},
		{"unsupported", apierr.Unsupported("refiner_checkpoint"), http.StatusNotImplemented,
			`{"error":"NotImplementedError","detail":"refiner_checkpoint","body":"","errors":"refiner_checkpoint"}`},
		{"invalid image format", apierr.InvalidImageFormat("%q", "bmp"), http.StatusInternalServerError,
			`{"error":"HTTPException","detail":"Invalid image format","body":"","errors":""}`},
		{"not found", apierr.NotFound("could not find upscaler named %s", "nope"), http.StatusInternalServerError,
			`{"error":"RuntimeError","detail":"could not find upscaler named nope","body":"","errors":"could not find upscaler named nope"}`},
		{"model, wrapped", fmt.Errorf("load model: load tiny: %w", apierr.Model("unet/model.onnx: open /srv/models/tiny/unet/model.onnx: no such file")), http.StatusInternalServerError,
			`{"error":"RuntimeError","detail":"cannot load the model: load model: load tiny: unet/model.onnx: open model.onnx: no such file","body":"","errors":"cannot load the model: load model: load tiny: unet/model.onnx: open model.onnx: no such file"}`},
		{"invalid image", apierr.InvalidImage("png: truncated chunk"), http.StatusInternalServerError,
			`{"error":"HTTPException","detail":"Invalid encoded image","body":"","errors":""}`},
		{"cancelled", fmt.Errorf("job: %w", context.Canceled), http.StatusServiceUnavailable,
			`{"error":"HTTPException","detail":"Request cancelled","body":"","errors":""}`},
		{"unclassified", errors.New("open /srv/models/x: permission denied"), http.StatusInternalServerError,
			`{"error":"Exception","detail":"","body":"","errors":"internal server error"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, body := errorResponse(tc.err, red)
			b, err := marshalPy(body)
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.status || string(b) != tc.body {
				t.Errorf("got %d %s\nwant %d %s", status, b, tc.status, tc.body)
			}
		})
	}
}
