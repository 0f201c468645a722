package processing

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"strings"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing/imagemeta"
)

// EncodeImage writes img as samples_format does, with params as its
// infotext ("" for none): png carries a "parameters" text chunk when
// params is not empty; jpg/jpeg an EXIF UserComment, always when
// jpegComment is true (the API's encode_pil_to_base64 writes it even
// empty), else only with params (save_image_with_geninfo); webp is
// refused with ErrUnsupported (no encoder here), any other format is
// ErrInvalidImageFormat. One encoder for saving and for the API.
func EncodeImage(img image.Image, format, params string, quality int, jpegComment bool) ([]byte, error) {
	switch strings.ToLower(format) {
	case "png":
		var text []imagemeta.Text
		if params != "" {
			text = []imagemeta.Text{{Key: "parameters", Value: params}}
		}
		return imagemeta.EncodePNG(img, text)
	case "jpg", "jpeg":
		if quality <= 0 || quality > 100 {
			quality = 80
		}
		var buf bytes.Buffer
		// RGBA is flattened to RGB by the encoder, as Pillow's convert("RGB").
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
			return nil, fmt.Errorf("encode jpeg: %w", err)
		}
		if !jpegComment && params == "" {
			return buf.Bytes(), nil
		}
		return imagemeta.WithJPEGUserComment(buf.Bytes(), params)
	case "webp":
		return nil, apierr.Unsupported("webp encoding (samples_format %q)", format)
	}
	return nil, apierr.InvalidImageFormat("%q", format)
}

// extensionFor is the file extension A1111 saves samples_format with.
func extensionFor(format string) string {
	return strings.ToLower(format)
}
