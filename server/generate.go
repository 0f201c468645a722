package server

import (
	"context"
	"encoding/json"
	"image"
	"io"
	"maps"
	"net/http"
	"reflect"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sdapi/sdapi/gen"
	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing"
)

// txt2img and img2img read their body once, with decodeGeneration:
// generationRoutes serves the two routes straight from the request, in
// place of the generated strict handler, which would bind the body into
// gen's types first (and refuse what pydantic coerces). The strict
// methods below serve a caller holding gen's typed body, through the same
// decoder.

// generationRoutes is the generated routes' ServerInterface with txt2img
// and img2img served from the raw body.
type generationRoutes struct {
	gen.ServerInterface
	s *Server
}

func (r generationRoutes) Text2imgapiSdapiV1Txt2imgPost(c echo.Context) error {
	return r.s.serveGeneration(c, processing.Txt2Img)
}

func (r generationRoutes) Img2imgapiSdapiV1Img2imgPost(c echo.Context) error {
	return r.s.serveGeneration(c, processing.Img2Img)
}

// serveGeneration answers one txt2img or img2img request.
func (s *Server) serveGeneration(c echo.Context, mode processing.Mode) error {
	req := c.Request()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return err // the body limit's *http.MaxBytesError, or the client gone
	}
	g, err := s.runGeneration(req.Context(), mode, req.Header.Get(echo.HeaderContentType), body, "")
	if err != nil {
		return err
	}
	return g.write(c.Response())
}

// Text2imgapiSdapiV1Txt2imgPost is A1111 1.10's text2imgapi for a typed
// body (see generationRoutes).
func (s *Server) Text2imgapiSdapiV1Txt2imgPost(ctx context.Context, req gen.Text2imgapiSdapiV1Txt2imgPostRequestObject) (gen.Text2imgapiSdapiV1Txt2imgPostResponseObject, error) {
	g, err := s.runTyped(ctx, processing.Txt2Img, req.Body)
	if err != nil {
		return nil, err
	}
	return txt2imgResponse{g}, nil
}

// Img2imgapiSdapiV1Img2imgPost is A1111 1.10's img2imgapi for a typed
// body (see generationRoutes).
func (s *Server) Img2imgapiSdapiV1Img2imgPost(ctx context.Context, req gen.Img2imgapiSdapiV1Img2imgPostRequestObject) (gen.Img2imgapiSdapiV1Img2imgPostResponseObject, error) {
	g, err := s.runTyped(ctx, processing.Img2Img, req.Body)
	if err != nil {
		return nil, err
	}
	return img2imgResponse{g}, nil
}

// runTyped encodes a typed body (nil when absent) and decodes it as a
// request's.
func (s *Server) runTyped(ctx context.Context, mode processing.Mode, body any) (generated, error) {
	var raw []byte
	if !reflect.ValueOf(body).IsNil() {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return generated{}, err
		}
	}
	return s.runGeneration(ctx, mode, echo.MIMEApplicationJSON, raw, "")
}

type txt2imgResponse struct{ generated }

func (r txt2imgResponse) VisitText2imgapiSdapiV1Txt2imgPostResponse(w http.ResponseWriter) error {
	return r.write(w)
}

type img2imgResponse struct{ generated }

func (r img2imgResponse) VisitImg2imgapiSdapiV1Img2imgPostResponse(w http.ResponseWriter) error {
	return r.write(w)
}

// WorkerHeader names, on a fleet's generation answers, the worker that ran
// the job (A1111 sends no such header; a single server sends none).
const WorkerHeader = "X-Sdapi-Worker"

// generated is a finished txt2img or img2img job in the response's terms.
type generated struct {
	params *pyDict  // vars(request)
	images []string // base64; empty when send_images is false
	info   string   // Processed.js()
	worker string   // the fleet worker that ran the job; "" when it ran here
}

// write sends g as TextToImageResponse/ImageToImageResponse: keys in the
// model's order, parameters as pydantic holds them (pyDict).
func (g generated) write(w http.ResponseWriter) error {
	if g.worker != "" {
		w.Header().Set(WorkerHeader, g.worker)
	}
	return ok200(pyObject{{Key: "images", Value: g.images}, {Key: "parameters", Value: g.params}, {Key: "info", Value: g.info}}).visit(w)
}

// runGeneration is text2imgapi and img2imgapi: the body is decoded, the
// job runs in the queue, and the result is encoded.
func (s *Server) runGeneration(ctx context.Context, mode processing.Mode, contentType string, body []byte, checkpoint string) (generated, error) {
	req, err := decodeGeneration(mode, contentType, body)
	if err != nil {
		return generated{}, err
	}
	job, err := s.prepare(ctx, req)
	if err != nil {
		return generated{}, err
	}
	if checkpoint != "" {
		// The checkpoint a fleet's API resolved and routed the job by: it
		// runs on that one even where this worker's options name another.
		ov := maps.Clone(job.Params.OverrideSettings)
		if ov == nil {
			ov = map[string]any{}
		}
		ov["sd_model_checkpoint"] = checkpoint
		job.Params.OverrideSettings = ov
	}
	p := job.Params
	// A fleet's worker decodes and prepares the body again, as here.
	w := &Work{Kind: p.Mode.String(), Request: &WorkRequest{Kind: p.Mode.String(), ContentType: contentType, Body: body},
		Overrides: p.OverrideSettings}
	res, err := s.generate(ctx, job, w)
	if err != nil {
		return generated{}, err
	}
	g := generated{params: req.params, images: []string{}}
	if out := w.Output; out != nil {
		if out.Images != nil {
			g.images = out.Images
		}
		g.info, g.worker = out.Info, out.Worker
	} else {
		if req.sendImages {
			if g.images, err = s.encodeImagesBase64(res.Raw, res.Infotexts); err != nil {
				return generated{}, err
			}
		}
		g.info = res.JS()
	}
	if mode == processing.Img2Img && !p.IncludeInitImages {
		req.params.set("init_images", nil)
		req.params.set("mask", nil)
	}
	return g, nil
}

// generate runs one job through Jobs (A1111's queue_lock), named after
// its mode and visible to /internal/progress under force_task_id. The
// client going away cancels ctx: a waiting job leaves the queue, a running
// one stops as /interrupt would stop it. The result is nil when the job
// ran elsewhere: w.Output holds it then.
func (s *Server) generate(ctx context.Context, job *processing.Job, w *Work) (*processing.Processed, error) {
	p := job.Params
	if p.ForceTaskID != nil {
		w.TaskID = *p.ForceTaskID
	}
	var res *processing.Processed
	w.Local = func(ctx context.Context) (err error) {
		res, err = s.deps.Processor.RunJob(ctx, job)
		return err
	}
	err := s.runJob(ctx, w, p.Steps*max(p.NIter, 1))
	return res, err
}

// runJob runs w through Jobs (A1111's queue_lock) and counts it for
// /metrics: its outcome, duration and steps, or its rejection when the
// queue is full. A job that failed on a worker returns the error the
// worker rendered.
func (s *Server) runJob(ctx context.Context, w *Work, steps int) error {
	local := w.Local
	w.Local = func(ctx context.Context) error {
		start := time.Now()
		err := local(ctx)
		s.metrics.jobDone(w.Kind, s.outcome(ctx, err), time.Since(start), steps)
		return err
	}
	start := time.Now()
	err := s.jobs.Run(ctx, w)
	if err == nil && w.Output != nil {
		if w.Output.Status != 0 {
			err = &remoteError{Status: w.Output.Status, Body: w.Output.Error}
		}
		outcome := s.outcome(ctx, err)
		if outcome == outcomeOK && w.Output.Interrupted {
			outcome = outcomeInterrupted
		}
		s.metrics.jobDone(w.Kind, outcome, time.Since(start), steps)
	}
	if err != nil {
		s.metrics.rejectedIfFull(w.Kind, err)
	}
	return err
}

// outcome classifies a finished job for /metrics.
func (s *Server) outcome(ctx context.Context, err error) string {
	switch {
	case ctx.Err() != nil:
		return outcomeCancelled // the client went away: nobody gets the result
	case err != nil:
		return outcomeError
	case s.deps.State != nil && s.deps.State.Interrupted():
		return outcomeInterrupted
	}
	return outcomeOK
}

// prepare is what the handlers do between validation and the queue, in
// A1111's order: init_images and mask (img2img), apply_infotext, the
// scripts and the limits (decided by Processor.Prepare), then the images.
func (s *Server) prepare(ctx context.Context, req *genRequest) (*processing.Job, error) {
	p := &req.p
	if p.Mode == processing.Img2Img {
		if req.initImages == nil {
			return nil, httpException(http.StatusNotFound, "Init image not found")
		}
		if req.mask != "" {
			var err error
			if p.Mask, err = s.decodeInput(ctx, req.mask, "mask"); err != nil {
				return nil, err
			}
		}
		if req.latentMask != "" {
			// A1111 passes the string on unparsed and fails on it; refuse
			// clearly rather than ignore it.
			return nil, apierr.Unsupported("latent_mask")
		}
	}
	if p.Infotext != nil && *p.Infotext != "" {
		pasted, err := p.ApplyInfotext(*p.Infotext, s.deps.Options)
		if err != nil {
			return nil, err
		}
		// apply_infotext sets the request's own fields, so vars(request)
		// shows the pasted values.
		for k, v := range pasted {
			if _, ok := req.params.get(k); ok {
				req.params.set(k, v)
			}
		}
	}
	// After apply_infotext, which may set steps, size and prompts; before
	// any image is decoded or the job queues.
	if s.deps.Processor == nil {
		return nil, notImplemented(p.Mode.String() + " (no model runner is configured)")
	}
	job, err := s.deps.Processor.Prepare(*p)
	if err != nil {
		return nil, err
	}
	p = &job.Params
	if err := s.cfg.Limits.checkImageCount("init_images", len(req.initImages)); err != nil {
		return nil, err
	}
	if req.firstpassImage != "" {
		img, err := s.decodeInput(ctx, req.firstpassImage, "firstpass_image")
		if err != nil {
			return nil, err
		}
		p.FirstpassImage = img
	}
	if p.Mode == processing.Img2Img {
		// Decoded last, as A1111 does inside the queue lock: an unknown
		// script is reported first.
		var err error
		if p.InitImages, err = s.decodeImages(ctx, req.initImages); err != nil {
			return nil, err
		}
	}
	return job, nil
}

func (s *Server) decodeImages(ctx context.Context, list []any) ([]image.Image, error) {
	out := make([]image.Image, 0, len(list))
	for i, v := range list {
		str, _ := v.(string)
		img, err := s.decodeInput(ctx, str, "init_images", i)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}
