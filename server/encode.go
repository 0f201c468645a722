package server

import (
	"encoding/base64"
	"errors"
	"image"
	"runtime"
	"sync"

	"github.com/sdapi/sdapi/processing"
)

// apiImageOptions are the options encode_pil_to_base64 reads. A1111 reads
// them after process_images returned, so after override_settings were
// restored: the response uses the options as they are then.
type apiImageOptions struct {
	format     string
	quality    int
	enablePNGI bool // enable_pnginfo: the infotext goes into each image
}

func (s *Server) apiImageOptions() apiImageOptions {
	o := apiImageOptions{format: "png", quality: 80, enablePNGI: true}
	if s.deps.Options == nil {
		return o
	}
	if v, ok := s.deps.Options.Get("samples_format"); ok {
		if f, ok := v.(string); ok {
			o.format = f
		}
	}
	if v, ok := s.deps.Options.Get("jpeg_quality"); ok {
		switch q := v.(type) {
		case float64:
			o.quality = int(q)
		case int:
			o.quality = q
		}
	}
	if v, ok := s.deps.Options.Get("enable_pnginfo"); ok {
		if b, ok := v.(bool); ok {
			o.enablePNGI = b
		}
	}
	return o
}

// encodeImagesBase64 is map(encode_pil_to_base64, processed.images): each
// image with its infotext (image.info["parameters"], set when
// enable_pnginfo is on), in the samples format, base64 without a data:
// prefix. Images are encoded in parallel: encoding is most of the
// server's own time per image, and the images are independent.
func (s *Server) encodeImagesBase64(imgs []image.Image, infotexts []string) ([]string, error) {
	o := s.apiImageOptions()
	out := make([]string, len(imgs))
	errs := make([]error, len(imgs))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, img := range imgs {
		params := ""
		if o.enablePNGI && i < len(infotexts) {
			params = infotexts[i]
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			b, err := processing.EncodeImage(img, o.format, params, o.quality, true)
			out[i], errs[i] = base64.StdEncoding.EncodeToString(b), err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
