package server

import (
	"context"
	"strings"

	"github.com/sdapi/sdapi/gen"
	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/imagemeta"
	"github.com/sdapi/sdapi/processing/infotext"
)

// PnginfoapiSdapiV1PngInfoPost is A1111 1.10's pnginfoapi: decode the image
// (base64 or a data: URI), read its metadata, parse the infotext.
func (s *Server) PnginfoapiSdapiV1PngInfoPost(ctx context.Context, req gen.PnginfoapiSdapiV1PngInfoPostRequestObject) (gen.PnginfoapiSdapiV1PngInfoPostResponseObject, error) {
	if req.Body == nil {
		return nil, errBodyMissing()
	}
	raw, err := s.inputRaw(ctx, strings.TrimSpace(req.Body.Image))
	if err != nil {
		return nil, err
	}
	info, err := imagemeta.Read(raw)
	if err != nil {
		return nil, err
	}
	items := info.Items
	if items == nil {
		items = map[string]any{}
	}
	// The styles extraction and infotext_skip_pasting follow the options.
	po, err := processing.InfotextParseOptions(s.deps.Options, s.deps.Styles)
	if err != nil {
		s.log.Warn("png-info: styles not read; parsing without them", "err", err)
	}
	parsed := infotext.ParseWith(info.Parameters, po)
	params := parsed.Map()
	return gen.PnginfoapiSdapiV1PngInfoPost200JSONResponse{Info: info.Parameters, Items: items, Parameters: params}, nil
}
