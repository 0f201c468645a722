package server

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	_ "image/gif" // decoders for init images, masks and extras inputs
	_ "image/jpeg"
	"image/png"
	"net/http"
)

// decodeImageBytes is the image half of A1111's decode_base64_to_image:
// an image whose header declares more than lim.MaxPixels is a 422 at loc
// (the request field it came from), before any pixel is decoded; bytes
// that are no image are a 500 with invalid ("Invalid encoded image", or
// "Invalid image url" for a fetched one).
func decodeImageBytes(raw []byte, lim Limits, invalid string, loc ...any) (image.Image, error) {
	if err := lim.checkImageSize(raw, loc); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, httpException(http.StatusInternalServerError, invalid)
	}
	return img, nil
}

// pngEncoder is fast rather than small: previews are polled often.
var pngEncoder = png.Encoder{CompressionLevel: png.BestSpeed}

// encodePNGBase64 encodes img as a PNG in base64, without a data: prefix.
func encodePNGBase64(img image.Image) (string, error) {
	var buf bytes.Buffer
	if err := pngEncoder.Encode(&buf, img); err != nil {
		return "", fmt.Errorf("encode preview: %w", err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}
