package processing

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"strings"

	"github.com/sdapi/sdapi/processing/imagemeta"
)

// encodeForSave is images.save_image_with_geninfo's encoding for
// samples_format, with params as the infotext ("" when enable_pnginfo is
// off): a "parameters" PNG text chunk, or a JPEG EXIF UserComment; webp is
// refused with ErrUnsupported (no encoder here), any other format is
// ErrInvalidImageFormat.
func encodeForSave(img image.Image, format, params string, quality int) ([]byte, error) {
	switch strings.ToLower(format) {
	case "png":
		var text []imagemeta.Text
		if params != "" {
			text = []imagemeta.Text{{Key: "parameters", Value: params}}
		}
		return imagemeta.EncodePNG(img, text)
	case "jpg", "jpeg":
		return encodeJPEG(img, params, quality, params != "")
	case "webp":
		return nil, fmt.Errorf("%w: webp encoding (samples_format %q)", ErrUnsupported, format)
	}
	return nil, fmt.Errorf("%w: %q", ErrInvalidImageFormat, format)
}

func encodeJPEG(img image.Image, params string, quality int, withComment bool) ([]byte, error) {
	if quality <= 0 || quality > 100 {
		quality = 80
	}
	var buf bytes.Buffer
	// RGBA is flattened to RGB by the encoder, as Pillow's convert("RGB").
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("encode jpeg: %w", err)
	}
	if !withComment {
		return buf.Bytes(), nil
	}
	return imagemeta.WithJPEGUserComment(buf.Bytes(), params)
}

// extensionFor is the file extension A1111 saves samples_format with.
func extensionFor(format string) string {
	return strings.ToLower(format)
}
