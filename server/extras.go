package server

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sdapi/sdapi/gen"
	"github.com/sdapi/sdapi/processing/upscale"
)

// ExtrasSingleImageApiSdapiV1ExtraSingleImagePost is A1111's
// extras_single_image_api: run_extras on one image, in the queue.
func (s *Server) ExtrasSingleImageApiSdapiV1ExtraSingleImagePost(ctx context.Context, req gen.ExtrasSingleImageApiSdapiV1ExtraSingleImagePostRequestObject) (gen.ExtrasSingleImageApiSdapiV1ExtraSingleImagePostResponseObject, error) {
	if req.Body == nil {
		return nil, errBodyMissing()
	}
	b := req.Body
	xr := extrasRequest(extrasFields{
		resizeMode: (*int)(b.ResizeMode), resize: b.UpscalingResize, w: b.UpscalingResizeW, h: b.UpscalingResizeH,
		crop: b.UpscalingCrop, up1: b.Upscaler1, up2: b.Upscaler2, vis2: b.ExtrasUpscaler2Visibility,
		gfpgan: b.GfpganVisibility, codeformer: b.CodeformerVisibility, cfWeight: b.CodeformerWeight, upscaleFirst: b.UpscaleFirst,
	})
	data := ""
	if b.Image != nil {
		data = *b.Image
	}
	img, err := s.decodeInput(ctx, strings.TrimSpace(data), "image")
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Limits.checkUpscale(img, xr); err != nil {
		return nil, err
	}
	out, html, err := s.runExtras(ctx, xr, []image.Image{img}, extrasWork(kindExtrasSingle, b))
	if err != nil {
		return nil, err
	}
	var enc *string
	if len(out) > 0 {
		enc = &out[0]
	}
	return gen.ExtrasSingleImageApiSdapiV1ExtraSingleImagePost200JSONResponse{HtmlInfo: html, Image: enc}, nil
}

// ExtrasBatchImagesApiSdapiV1ExtraBatchImagesPost is A1111's
// extras_batch_images_api.
func (s *Server) ExtrasBatchImagesApiSdapiV1ExtraBatchImagesPost(ctx context.Context, req gen.ExtrasBatchImagesApiSdapiV1ExtraBatchImagesPostRequestObject) (gen.ExtrasBatchImagesApiSdapiV1ExtraBatchImagesPostResponseObject, error) {
	if req.Body == nil {
		return nil, errBodyMissing()
	}
	b := req.Body
	xr := extrasRequest(extrasFields{
		resizeMode: (*int)(b.ResizeMode), resize: b.UpscalingResize, w: b.UpscalingResizeW, h: b.UpscalingResizeH,
		crop: b.UpscalingCrop, up1: b.Upscaler1, up2: b.Upscaler2, vis2: b.ExtrasUpscaler2Visibility,
		gfpgan: b.GfpganVisibility, codeformer: b.CodeformerVisibility, cfWeight: b.CodeformerWeight, upscaleFirst: b.UpscaleFirst,
	})
	if err := s.cfg.Limits.checkImageCount("imageList", len(b.ImageList)); err != nil {
		return nil, err
	}
	imgs := make([]image.Image, 0, len(b.ImageList))
	for i, f := range b.ImageList {
		img, err := s.decodeInput(ctx, strings.TrimSpace(f.Data), "imageList", i, "data")
		if err != nil {
			return nil, err
		}
		if err := s.cfg.Limits.checkUpscale(img, xr); err != nil {
			return nil, err
		}
		imgs = append(imgs, img)
	}
	out, html, err := s.runExtras(ctx, xr, imgs, extrasWork(kindExtrasBatch, b))
	if err != nil {
		return nil, err
	}
	return gen.ExtrasBatchImagesApiSdapiV1ExtraBatchImagesPost200JSONResponse{HtmlInfo: html, Images: out}, nil
}

// The WorkRequest kinds of the extras routes: a fleet's worker runs the
// typed body through the same handler.
const (
	kindExtrasSingle = "extra-single-image"
	kindExtrasBatch  = "extra-batch-images"
)

// extrasWork is an extras request as a fleet's worker receives it; nil
// when the body does not encode (it then runs here).
func extrasWork(kind string, body any) *WorkRequest {
	b, err := json.Marshal(body)
	if err != nil {
		return nil
	}
	return &WorkRequest{Kind: kind, ContentType: echo.MIMEApplicationJSON, Body: b}
}

// runExtras runs the upscale in the queue and encodes the results as PNG;
// run elsewhere (req), it returns what the worker encoded.
func (s *Server) runExtras(ctx context.Context, xr upscale.ExtrasRequest, imgs []image.Image, req *WorkRequest) ([]string, string, error) {
	if s.deps.Upscalers == nil {
		return nil, "", notImplemented("extras (no upscaler registry is configured)")
	}
	var res *upscale.ExtrasResult
	w := &Work{Kind: "extras", Request: req, Local: func(ctx context.Context) (err error) {
		res, err = s.deps.Upscalers.Extras(ctx, xr, imgs)
		return err
	}}
	if err := s.runJob(ctx, w, 0); err != nil {
		return nil, "", err
	}
	if w.Output != nil {
		if w.Output.Images == nil {
			return []string{}, w.Output.HTMLInfo, nil // a list, never null
		}
		return w.Output.Images, w.Output.HTMLInfo, nil
	}
	out := make([]string, 0, len(res.Images))
	for _, img := range res.Images {
		b64, err := encodePNGBase64(img)
		if err != nil {
			return nil, "", err
		}
		out = append(out, b64)
	}
	return out, res.HTMLInfo, nil
}

type extrasFields struct {
	resizeMode               *int
	resize                   *float64
	w, h                     *int
	crop                     *bool
	up1, up2                 *string
	vis2, gfpgan, codeformer *float64
	cfWeight                 *float64
	upscaleFirst             *bool
}

func extrasRequest(f extrasFields) upscale.ExtrasRequest {
	r := upscale.DefaultExtrasRequest()
	set := func(dst *float64, v *float64) {
		if v != nil {
			*dst = *v
		}
	}
	if f.resizeMode != nil {
		r.ResizeMode = *f.resizeMode
	}
	set(&r.UpscalingResize, f.resize)
	if f.w != nil {
		r.UpscalingResizeW = *f.w
	}
	if f.h != nil {
		r.UpscalingResizeH = *f.h
	}
	if f.crop != nil {
		r.UpscalingCrop = *f.crop
	}
	if f.up1 != nil {
		r.Upscaler1 = *f.up1
	}
	if f.up2 != nil {
		r.Upscaler2 = *f.up2
	}
	set(&r.Upscaler2Visibility, f.vis2)
	set(&r.GFPGANVisibility, f.gfpgan)
	set(&r.CodeFormerVisibility, f.codeformer)
	set(&r.CodeFormerWeight, f.cfWeight)
	if f.upscaleFirst != nil {
		r.UpscaleFirst = *f.upscaleFirst
	}
	return r
}

// InterrogateapiSdapiV1InterrogatePost is A1111's interrogateapi. No
// interrogation model (CLIP interrogator, DeepDanbooru) runs on this
// server, so the two models A1111 knows get an honest 501.
func (s *Server) InterrogateapiSdapiV1InterrogatePost(ctx context.Context, req gen.InterrogateapiSdapiV1InterrogatePostRequestObject) (gen.InterrogateapiSdapiV1InterrogatePostResponseObject, error) {
	data, model := "", "clip" // the API defaults
	if req.Body != nil {
		raw := rawBody(ctx, req.Body)
		if v, ok := raw["image"]; ok {
			if v == nil {
				return nil, httpException(http.StatusNotFound, "Image not found")
			}
			data, _ = v.(string)
		}
		if v, ok := raw["model"]; ok {
			model, _ = v.(string)
		}
	}
	// A1111 decodes the image before it looks at the model.
	if _, err := s.decodeInput(ctx, data, "image"); err != nil {
		return nil, err
	}
	switch model {
	case "clip", "deepdanbooru":
		msg := fmt.Sprintf("interrogate with %s: no interrogation model is installed on this server", model)
		return nil, &apiError{Status: http.StatusNotImplemented, Class: "NotImplementedError", Detail: msg, Errors: msg}
	}
	return nil, httpException(http.StatusNotFound, "Model not found")
}

// Training: A1111 answers 200 with {info: "<task> error: <message>"} when
// creating or training fails; this server has no training, so it always
// does, with an honest message.
const noTraining = "this server cannot create or train embeddings or hypernetworks: its ONNX runner has no training support"

func (s *Server) CreateEmbeddingSdapiV1CreateEmbeddingPost(ctx context.Context, _ gen.CreateEmbeddingSdapiV1CreateEmbeddingPostRequestObject) (gen.CreateEmbeddingSdapiV1CreateEmbeddingPostResponseObject, error) {
	return gen.CreateEmbeddingSdapiV1CreateEmbeddingPost200JSONResponse{Info: "create embedding error: " + noTraining}, nil
}

func (s *Server) CreateHypernetworkSdapiV1CreateHypernetworkPost(ctx context.Context, _ gen.CreateHypernetworkSdapiV1CreateHypernetworkPostRequestObject) (gen.CreateHypernetworkSdapiV1CreateHypernetworkPostResponseObject, error) {
	return gen.CreateHypernetworkSdapiV1CreateHypernetworkPost200JSONResponse{Info: "create hypernetwork error: " + noTraining}, nil
}

func (s *Server) TrainEmbeddingSdapiV1TrainEmbeddingPost(ctx context.Context, _ gen.TrainEmbeddingSdapiV1TrainEmbeddingPostRequestObject) (gen.TrainEmbeddingSdapiV1TrainEmbeddingPostResponseObject, error) {
	return gen.TrainEmbeddingSdapiV1TrainEmbeddingPost200JSONResponse{Info: "train embedding error: " + noTraining}, nil
}

// TrainHypernetworkSdapiV1TrainHypernetworkPost: A1111's train_hypernetwork
// reports its errors as "train embedding error" too.
func (s *Server) TrainHypernetworkSdapiV1TrainHypernetworkPost(ctx context.Context, _ gen.TrainHypernetworkSdapiV1TrainHypernetworkPostRequestObject) (gen.TrainHypernetworkSdapiV1TrainHypernetworkPostResponseObject, error) {
	return gen.TrainHypernetworkSdapiV1TrainHypernetworkPost200JSONResponse{Info: "train embedding error: " + noTraining}, nil
}
