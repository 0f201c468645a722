package upscale

import "github.com/sdapi/sdapi/internal/apierr"

// The kinds of this package's errors, for errors.Is. The errors are
// *apierr.Error values whose messages carry the details A1111 shows.
var (
	// ErrUpscalerNotFound is the kind (apierr.KindNotFound) of an
	// upscaler name that is not registered. The message is A1111's
	// assertion text, "could not find upscaler named <name>" (A1111
	// answers 500 with it).
	ErrUpscalerNotFound error = apierr.KindNotFound

	// ErrFaceRestoreUnavailable is the kind (apierr.KindUnsupported) of a
	// request for face restoration (GFPGAN or CodeFormer visibility above
	// 0): no face-restoration model is installed.
	ErrFaceRestoreUnavailable error = apierr.KindUnsupported

	// ErrInvalid is the kind (apierr.KindInvalid) of parameters that
	// cannot produce an image: a non-positive target size or scale, an
	// unknown resize mode, or a latent tensor whose length does not match
	// its shape. Pillow and torch raise in these cases.
	ErrInvalid error = apierr.KindInvalid
)

// noFaceRestore is the message of every face-restoration request.
const noFaceRestore = "face restoration is not available: no face-restoration model is installed"
