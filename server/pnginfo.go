package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/sdapi/sdapi/gen"
	"github.com/sdapi/sdapi/processing/imagemeta"
	"github.com/sdapi/sdapi/processing/infotext"
)

// PnginfoapiSdapiV1PngInfoPost is A1111 1.10's pnginfoapi: decode the image
// (base64 or a data: URI), read its metadata, parse the infotext.
func (s *Server) PnginfoapiSdapiV1PngInfoPost(ctx context.Context, req gen.PnginfoapiSdapiV1PngInfoPostRequestObject) (gen.PnginfoapiSdapiV1PngInfoPostResponseObject, error) {
	if req.Body == nil {
		return nil, errBodyMissing()
	}
	data := strings.TrimSpace(req.Body.Image)
	if strings.HasPrefix(data, "http://") || strings.HasPrefix(data, "https://") {
		// Fetching images by URL is off until the server is started to
		// allow it (A1111's api_enable_requests).
		return nil, httpException(http.StatusInternalServerError, "Requests not allowed")
	}
	raw, err := imagemeta.DecodeDataURI(data)
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
	parsed := infotext.Parse(info.Parameters)
	params := parsed.Map()
	return gen.PnginfoapiSdapiV1PngInfoPost200JSONResponse{Info: info.Parameters, Items: items, Parameters: &params}, nil
}
