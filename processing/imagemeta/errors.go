package imagemeta

import (
	"errors"

	"github.com/sdapi/sdapi/internal/apierr"
)

var (
	// ErrInvalidImage is the kind (apierr.KindInvalidImage) of data that is
	// not a readable image, or a base64 payload that does not decode
	// (A1111 answers both with "Invalid encoded image").
	ErrInvalidImage error = apierr.KindInvalidImage

	// ErrUnsupportedFormat reports an image format this package does not read
	// (BMP, TIFF and the like, which Pillow would open). It is always wrapped
	// together with ErrInvalidImage.
	ErrUnsupportedFormat = errors.New("unsupported image format")

	// ErrTextTooLarge reports a compressed PNG text chunk above Pillow's
	// 1 MiB limit or text chunks above its 64 MiB total. It is always
	// wrapped together with ErrInvalidImage.
	ErrTextTooLarge = errors.New("png text chunk too large")

	// ErrCommentTooLarge reports a JPEG comment that does not fit one EXIF
	// APP1 segment (64 KiB, about 32k UTF-16 code units).
	ErrCommentTooLarge = errors.New("comment too large for a jpeg exif segment")
)
