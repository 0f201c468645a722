// Package apierr is the one error type of the request path. runner,
// processing and its subpackages say what went wrong as a Kind, the
// request field at fault and a message; the server maps the Kind alone to
// A1111's answer (server/errors.go errorResponse), as kin-openapi's
// openapi3filter.RequestError carries the parameter it refuses. It
// imports only the standard library, so every layer may use it.
//
// A new failure is one line:
//
//	return apierr.Invalid("batch_size", "batch_size must be at least 1")
//
// Match a kind with errors.Is(err, apierr.KindInvalid) or KindOf(err).
package apierr

import (
	"errors"
	"fmt"
)

// Kind is what went wrong, as far as a client can tell. A Kind is itself
// an error, so errors.Is(err, KindInvalid) holds for every *Error of that
// kind and for any error that wraps the Kind.
type Kind uint8

// The kinds, with the answer the server gives each (server/errors.go).
const (
	// KindUnknown is the zero Kind: an error nobody classified, a 500
	// whose text the client never sees.
	KindUnknown Kind = iota
	// KindInvalid is a request A1111 would refuse: a 422 detail item at
	// ["body", Field] (["body"] when Field is empty).
	KindInvalid
	// KindUnsupported is something this server cannot do (face
	// restoration, a refiner, WEBP output): 501 NotImplementedError.
	KindUnsupported
	// KindNotFound is an unknown checkpoint, upscaler or VAE named by the
	// request: 500 RuntimeError with A1111's message.
	KindNotFound
	// KindModel is a model that is missing, incomplete or cannot be
	// loaded: 500 RuntimeError "cannot load the model: ...".
	KindModel
	// KindInvalidImage is data that is not a readable image or a base64
	// payload that does not decode: 500 "Invalid encoded image".
	KindInvalidImage
	// KindInvalidImageFormat is a samples_format the API cannot encode:
	// 500 "Invalid image format".
	KindInvalidImageFormat
	// KindQueueFull is a job refused because the queue is full: 503.
	KindQueueFull
	// KindShuttingDown is a job refused or stopped because the server is
	// closing: 503.
	KindShuttingDown
	// KindScript is a script_name or alwayson_scripts key that names no
	// usable script (processing.ScriptError): 422 HTTPException.
	KindScript
	// KindUnknownOption is an option key that does not exist
	// (options.KeyError): 500 KeyError.
	KindUnknownOption
)

var kindText = [...]string{
	KindUnknown:            "internal error",
	KindInvalid:            "invalid request",
	KindUnsupported:        "not supported",
	KindNotFound:           "not found",
	KindModel:              "model error",
	KindInvalidImage:       "invalid image",
	KindInvalidImageFormat: "invalid image format",
	KindQueueFull:          "queue full",
	KindShuttingDown:       "shutting down",
	KindScript:             "script not found",
	KindUnknownOption:      "unknown option",
}

// Error names the kind. It is the text of a bare Kind (a context's cancel
// cause, say); an *Error's text is its message alone.
func (k Kind) Error() string {
	if int(k) < len(kindText) {
		return kindText[k]
	}
	return fmt.Sprintf("apierr.Kind(%d)", uint8(k))
}

func (k Kind) String() string { return k.Error() }

// Error is a failure of one kind, at one request field, with the message a
// client reads.
type Error struct {
	Kind Kind
	// Field is the request field at fault as the API names it
	// ("batch_size"), or "" when no single field is.
	Field string
	// Msg is the whole message, the wrapped error's text included.
	Msg string
	// Err is the wrapped cause, if any.
	Err error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// As sets a *Kind target to e's Kind, so KindOf finds it first in the chain.
func (e *Error) As(target any) bool {
	if k, ok := target.(*Kind); ok {
		*k = e.Kind
		return true
	}
	return false
}

// KindOf is the kind of the first *Error or Kind in err's chain, else
// KindUnknown.
func KindOf(err error) Kind {
	var k Kind
	if errors.As(err, &k) {
		return k
	}
	return KindUnknown
}

// New makes an *Error; format and args are fmt.Errorf's, %w included.
func New(kind Kind, field, format string, args ...any) *Error {
	w := fmt.Errorf(format, args...)
	e := &Error{Kind: kind, Field: field, Msg: w.Error()}
	switch u := w.(type) {
	case interface{ Unwrap() error }:
		e.Err = u.Unwrap()
	case interface{ Unwrap() []error }:
		e.Err = errors.Join(u.Unwrap()...)
	}
	return e
}

// Invalid is a KindInvalid error at field ("" for the body as a whole).
func Invalid(field, format string, args ...any) *Error {
	return New(KindInvalid, field, format, args...)
}

// Unsupported is a KindUnsupported error.
func Unsupported(format string, args ...any) *Error {
	return New(KindUnsupported, "", format, args...)
}

// NotFound is a KindNotFound error.
func NotFound(format string, args ...any) *Error {
	return New(KindNotFound, "", format, args...)
}

// Model is a KindModel error.
func Model(format string, args ...any) *Error {
	return New(KindModel, "", format, args...)
}

// InvalidImage is a KindInvalidImage error.
func InvalidImage(format string, args ...any) *Error {
	return New(KindInvalidImage, "", format, args...)
}

// InvalidImageFormat is a KindInvalidImageFormat error.
func InvalidImageFormat(format string, args ...any) *Error {
	return New(KindInvalidImageFormat, "", format, args...)
}

// QueueFull is a KindQueueFull error.
func QueueFull(format string, args ...any) *Error {
	return New(KindQueueFull, "", format, args...)
}

// ShuttingDown is a KindShuttingDown error.
func ShuttingDown(format string, args ...any) *Error {
	return New(KindShuttingDown, "", format, args...)
}
