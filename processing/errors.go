package processing

import "errors"

// Errors returned by Process. The server maps them to A1111's bodies with
// errors.Is; anything else is a 500.
var (
	// ErrUnsupported wraps a request for something this server cannot do
	// (face restoration with no face-restoration model, a refiner, WEBP
	// output). It is never silently ignored.
	ErrUnsupported = errors.New("not supported")
	// ErrInvalid wraps a request that A1111 would reject (mismatched prompt
	// lists, hires fix without a denoising strength).
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound wraps an unknown checkpoint or upscaler named by the
	// request (A1111: "Could not find checkpoint with name ...").
	ErrNotFound = errors.New("not found")
	// ErrInvalidImageFormat is A1111's "Invalid image format": the
	// samples_format option names a format the API cannot encode.
	ErrInvalidImageFormat = errors.New("invalid image format")
	// ErrNoRunner is returned when the Processor has no ModelProvider.
	ErrNoRunner = errors.New("no model provider configured")
)
