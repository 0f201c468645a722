package processing

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"runtime"
	"strings"
	"sync"

	"github.com/sdapi/sdapi/processing/imagemeta"
)

// encodeForAPI is api.py's encode_pil_to_base64 (before the base64 step)
// for an image whose info["parameters"] is params ("" when
// enable_pnginfo is off):
//   - png: a "parameters" text chunk when params is not empty;
//   - jpg/jpeg: EXIF UserComment holding params (empty when there is
//     none), quality jpeg_quality;
//   - webp: refused with ErrUnsupported (no encoder here);
//   - anything else: ErrInvalidImageFormat, A1111's "Invalid image format".
func encodeForAPI(img image.Image, format, params string, quality int) ([]byte, error) {
	switch strings.ToLower(format) {
	case "png":
		var text []imagemeta.Text
		if params != "" {
			text = []imagemeta.Text{{Key: "parameters", Value: params}}
		}
		return imagemeta.EncodePNG(img, text)
	case "jpg", "jpeg":
		return encodeJPEG(img, params, quality, true)
	case "webp":
		return nil, fmt.Errorf("%w: webp encoding (samples_format %q)", ErrUnsupported, format)
	}
	return nil, fmt.Errorf("%w: %q", ErrInvalidImageFormat, format)
}

// encodeAllForAPI encodes every image of a response with its infotext,
// in parallel: encoding is most of the server's own time per image, and
// the images are independent.
func encodeAllForAPI(imgs []image.Image, infotexts []string, jo jobOptions) ([][]byte, error) {
	out := make([][]byte, len(imgs))
	errs := make([]error, len(imgs))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, img := range imgs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i], errs[i] = encodeForAPI(img, jo.samplesFormat, pngParams(jo, at(infotexts, i)), jo.jpegQuality)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// encodeForSave is images.save_image_with_geninfo's encoding: the
// infotext goes in only when enable_pnginfo is on (params != "").
func encodeForSave(img image.Image, format, params string, quality int) ([]byte, error) {
	switch strings.ToLower(format) {
	case "jpg", "jpeg":
		return encodeJPEG(img, params, quality, params != "")
	}
	return encodeForAPI(img, format, params, quality)
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
