package upscale

import "errors"

// Errors returned by this package. Callers match them with errors.Is; the
// wrapped messages carry the details A1111 shows.
var (
	// ErrUpscalerNotFound is returned for an upscaler name that is not
	// registered. The message is A1111's assertion text, "could not find
	// upscaler named <name>" (A1111 answers 500 with it).
	ErrUpscalerNotFound = errors.New("upscaler not found")

	// ErrFaceRestoreUnavailable is returned when a request asks for face
	// restoration (GFPGAN or CodeFormer visibility above 0): no
	// face-restoration model is installed.
	ErrFaceRestoreUnavailable = errors.New("face restoration is not available: no face-restoration model is installed")

	// ErrInvalid is returned for parameters that cannot produce an image:
	// a non-positive target size or scale, an unknown resize mode, or a
	// latent tensor whose length does not match its shape. Pillow and
	// torch raise in these cases.
	ErrInvalid = errors.New("invalid upscale parameters")
)
