package apierr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestKindOf(t *testing.T) {
	cause := io.ErrUnexpectedEOF
	for _, tc := range []struct {
		name    string
		err     error
		kind    Kind
		msg     string
		field   string // of the first *Error in the chain
		isCause bool   // errors.Is(err, cause)
	}{
		{"nil", nil, KindUnknown, "", "", false},
		{"plain", errors.New("boom"), KindUnknown, "boom", "", false},
		{"context", context.Canceled, KindUnknown, "context canceled", "", false},
		{"invalid at a field", Invalid("batch_size", "batch_size must be at least 1"), KindInvalid, "batch_size must be at least 1", "batch_size", false},
		{"invalid at the body", Invalid("", "%d seeds for %d images", 2, 3), KindInvalid, "2 seeds for 3 images", "", false},
		{"wrapped by a prefix", fmt.Errorf("load model: %w", Model("unet/model.onnx: missing")), KindModel, "load model: unet/model.onnx: missing", "", false},
		{"with a cause", InvalidImage("png: %w", cause), KindInvalidImage, "png: unexpected EOF", "", true},
		{"with two causes", InvalidImage("%w: %w", cause, io.EOF), KindInvalidImage, "unexpected EOF: EOF", "", true},
		{"outermost wins", Invalid("mask", "mask: %w", Invalid("", "target size 0x0")), KindInvalid, "mask: target size 0x0", "mask", false},
		{"outer kind over inner", NotFound("VAE %q: %w", "x", Invalid("", "y")), KindNotFound, `VAE "x": y`, "", false},
		{"bare kind", KindShuttingDown, KindShuttingDown, "shutting down", "", false},
		{"wrapped bare kind", fmt.Errorf("queue: %w", KindQueueFull), KindQueueFull, "queue: queue full", "", false},
		{"typed error unwrapping to a kind", &typed{}, KindScript, "typed", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := KindOf(tc.err); got != tc.kind {
				t.Errorf("KindOf = %v, want %v", got, tc.kind)
			}
			if tc.err != nil && tc.err.Error() != tc.msg {
				t.Errorf("Error() = %q, want %q", tc.err.Error(), tc.msg)
			}
			if tc.kind != KindUnknown && !errors.Is(tc.err, tc.kind) {
				t.Errorf("errors.Is(err, %v) = false", tc.kind)
			}
			for _, other := range []Kind{KindInvalid, KindModel, KindNotFound} {
				if other != tc.kind && errors.Is(tc.err, other) && tc.name != "outer kind over inner" {
					t.Errorf("errors.Is(err, %v) = true for a %v error", other, tc.kind)
				}
			}
			var e *Error
			if errors.As(tc.err, &e) && e.Field != tc.field {
				t.Errorf("Field = %q, want %q", e.Field, tc.field)
			}
			if got := errors.Is(tc.err, cause); got != tc.isCause {
				t.Errorf("errors.Is(err, cause) = %v, want %v", got, tc.isCause)
			}
		})
	}
}

// typed stands for an error type that carries its own data and names its
// kind by unwrapping to it (processing.ScriptError, LimitError).
type typed struct{}

func (*typed) Error() string   { return "typed" }
func (*typed) Unwrap() []error { return []error{io.EOF, KindScript} }

func TestKindText(t *testing.T) {
	for k := KindUnknown; k <= KindUnknownOption; k++ {
		if k.Error() == "" || k.String() != k.Error() {
			t.Errorf("kind %d: text %q, String %q", k, k.Error(), k.String())
		}
	}
	if got := Kind(200).Error(); got != "apierr.Kind(200)" {
		t.Errorf("unknown kind text %q", got)
	}
}
