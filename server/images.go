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
	"strings"

	"github.com/sdapi/sdapi/processing/imagemeta"
)

// decodeImage is A1111's decode_base64_to_image: base64 or a data: URI.
// http(s) URLs are refused with A1111's "Requests not allowed": decodeInput
// fetches them under --api-enable-requests. Anything that does not decode to an image
// is 500 "Invalid encoded image". An image whose header declares more than
// lim.MaxPixels is a 422 at loc (the request field it came from), before
// any pixel is decoded.
func decodeImage(s string, lim Limits, loc ...any) (image.Image, error) {
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		return nil, httpException(http.StatusInternalServerError, "Requests not allowed")
	}
	raw, err := imagemeta.DecodeDataURI(s)
	if err != nil {
		return nil, httpException(http.StatusInternalServerError, "Invalid encoded image")
	}
	return decodeImageBytes(raw, lim, loc...)
}

// decodeImageBytes is decodeImage after the base64: also used for an image
// fetched by URL.
func decodeImageBytes(raw []byte, lim Limits, loc ...any) (image.Image, error) {
	if err := lim.checkImageSize(raw, loc); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, httpException(http.StatusInternalServerError, "Invalid encoded image")
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
