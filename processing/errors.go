package processing

import "github.com/sdapi/sdapi/internal/apierr"

// The kinds of the errors Process returns, for errors.Is. The errors are
// *apierr.Error values; the server maps their Kind to A1111's bodies, and
// anything else is a 500.
var (
	// ErrUnsupported is the kind (apierr.KindUnsupported) of a request
	// for something this server cannot do (face restoration with no
	// face-restoration model, a refiner, WEBP output). It is never
	// silently ignored.
	ErrUnsupported error = apierr.KindUnsupported
	// ErrInvalid is the kind (apierr.KindInvalid) of a request that A1111
	// would reject (mismatched prompt lists, hires fix without a
	// denoising strength).
	ErrInvalid error = apierr.KindInvalid
	// ErrNotFound is the kind (apierr.KindNotFound) of an unknown
	// checkpoint or upscaler named by the request (A1111: "Could not find
	// checkpoint with name ...").
	ErrNotFound error = apierr.KindNotFound
	// ErrInvalidImageFormat is the kind (apierr.KindInvalidImageFormat)
	// of A1111's "Invalid image format": the samples_format option names a
	// format the API cannot encode.
	ErrInvalidImageFormat error = apierr.KindInvalidImageFormat
)
