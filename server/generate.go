package server

import (
	"context"
	"fmt"
	"image"
	"maps"
	"net/http"
	"time"

	"github.com/sdapi/sdapi/gen"
	"github.com/sdapi/sdapi/processing"
)

// Text2imgapiSdapiV1Txt2imgPost is A1111 1.10's text2imgapi.
func (s *Server) Text2imgapiSdapiV1Txt2imgPost(ctx context.Context, req gen.Text2imgapiSdapiV1Txt2imgPostRequestObject) (gen.Text2imgapiSdapiV1Txt2imgPostResponseObject, error) {
	if req.Body == nil {
		return nil, errBodyMissing()
	}
	g, err := s.runGeneration(ctx, processing.Txt2Img, rawBody(ctx, req.Body))
	if err != nil {
		return nil, err
	}
	return gen.Text2imgapiSdapiV1Txt2imgPost200JSONResponse{Images: &g.images, Parameters: g.params, Info: g.info}, nil
}

// Img2imgapiSdapiV1Img2imgPost is A1111 1.10's img2imgapi.
func (s *Server) Img2imgapiSdapiV1Img2imgPost(ctx context.Context, req gen.Img2imgapiSdapiV1Img2imgPostRequestObject) (gen.Img2imgapiSdapiV1Img2imgPostResponseObject, error) {
	if req.Body == nil {
		return nil, errBodyMissing()
	}
	g, err := s.runGeneration(ctx, processing.Img2Img, rawBody(ctx, req.Body))
	if err != nil {
		return nil, err
	}
	if !g.p.IncludeInitImages {
		g.params["init_images"] = nil
		g.params["mask"] = nil
	}
	return gen.Img2imgapiSdapiV1Img2imgPost200JSONResponse{Images: &g.images, Parameters: g.params, Info: g.info}, nil
}

// generated is a finished txt2img or img2img job in the response's terms.
type generated struct {
	p      processing.Params
	params map[string]any // the response's parameters: vars(request)
	images []string       // base64; empty when send_images is false
	info   string         // Processed.js()
}

// runGeneration is what text2imgapi and img2imgapi share: the raw body
// becomes Params, the job runs in the queue, and the result is encoded.
func (s *Server) runGeneration(ctx context.Context, mode processing.Mode, raw map[string]any) (generated, error) {
	p, params, err := s.buildParams(ctx, mode, raw)
	if err != nil {
		return generated{}, err
	}
	res, err := s.generate(ctx, p)
	if err != nil {
		return generated{}, err
	}
	images := []string{}
	if p.SendImages {
		images = res.ImagesBase64()
	}
	return generated{p: p, params: params, images: images, info: res.JS()}, nil
}

// errBodyMissing is FastAPI's answer to a POST without a body.
func errBodyMissing() error {
	return &validationError{Loc: []any{"body"}, Msg: "field required", Type: "value_error.missing"}
}

// generate runs one job through the queue (A1111's queue_lock), named after
// its mode and visible to /internal/progress under force_task_id. The
// client going away cancels ctx: a waiting job leaves the queue, a running
// one stops as /interrupt would stop it.
func (s *Server) generate(ctx context.Context, p processing.Params) (*processing.Processed, error) {
	if s.deps.Processor == nil {
		return nil, notImplemented(p.Mode.String() + " (no model runner is configured)")
	}
	var taskID string
	if p.ForceTaskID != nil {
		taskID = *p.ForceTaskID
	}
	var res *processing.Processed
	err := s.runJob(ctx, taskID, p.Mode.String(), p.Steps*max(p.NIter, 1), func(ctx context.Context) (err error) {
		res, err = s.deps.Processor.Run(ctx, p)
		return err
	})
	return res, err
}

// runJob runs fn as one job of kind through the queue (A1111's
// queue_lock), visible to /internal/progress under taskID when not empty,
// and counts it for /metrics: its outcome, duration and steps, or its
// rejection when the queue is full.
func (s *Server) runJob(ctx context.Context, taskID, kind string, steps int, fn func(context.Context) error) error {
	job := func(ctx context.Context) error {
		start := time.Now()
		err := fn(ctx)
		s.metrics.jobDone(kind, s.outcome(ctx, err), time.Since(start), steps)
		return err
	}
	var err error
	if s.deps.Queue != nil {
		err = s.deps.Queue.DoTask(ctx, taskID, kind, job)
	} else {
		err = job(ctx)
	}
	if err != nil {
		s.metrics.rejectedIfFull(kind, err)
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

// buildParams converts a request body into processing.Params with A1111's
// API defaults, and returns the parameters echo (vars(request)) alongside.
func (s *Server) buildParams(ctx context.Context, mode processing.Mode, raw map[string]any) (processing.Params, map[string]any, error) {
	r := rawReq(raw)
	var initList []any
	p := processing.DefaultTxt2Img()
	schema := "StableDiffusionProcessingTxt2Img"
	if mode == processing.Img2Img {
		p = processing.DefaultImg2Img()
		schema = "StableDiffusionProcessingImg2Img"
	}
	for k := range raw {
		p.Set[k] = true
	}

	if mode == processing.Img2Img {
		// A1111 checks init_images before anything else.
		list, ok := raw["init_images"].([]any)
		if !ok {
			return p, nil, httpException(http.StatusNotFound, "Init image not found")
		}
		if m, ok := raw["mask"].(string); ok && m != "" {
			var err error
			if p.Mask, err = s.decodeInput(ctx, m, "mask"); err != nil {
				return p, nil, err
			}
		}
		initList = list
	}

	r.str("prompt", &p.Prompt)
	r.str("negative_prompt", &p.NegativePrompt)
	r.strs("styles", &p.Styles)
	r.int64("seed", &p.Seed) // null keeps -1, as get_fixed_seed treats None
	r.int64("subseed", &p.Subseed)
	r.float("subseed_strength", &p.SubseedStrength)
	r.int("seed_resize_from_h", &p.SeedResizeFromH)
	r.int("seed_resize_from_w", &p.SeedResizeFromW)
	r.strPtr("sampler_name", &p.SamplerName)
	if v, ok := raw["sampler_index"]; ok {
		p.SamplerIndex, _ = v.(string) // null: no index, sampler_name or the first sampler
	}
	r.strPtr("scheduler", &p.Scheduler)
	r.int("batch_size", &p.BatchSize)
	r.int("n_iter", &p.NIter)
	r.int("steps", &p.Steps)
	r.float("cfg_scale", &p.CFGScale)
	r.int("width", &p.Width)
	r.int("height", &p.Height)
	r.boolPtr("restore_faces", &p.RestoreFaces)
	r.boolPtr("tiling", &p.Tiling)
	r.floatPtr("eta", &p.Eta)
	if _, ok := raw["denoising_strength"]; ok {
		p.DenoisingStrength = nil // null is None, not the img2img default
		r.floatPtr("denoising_strength", &p.DenoisingStrength)
	}
	r.floatPtr("s_min_uncond", &p.SMinUncond)
	r.floatPtr("s_churn", &p.SChurn)
	r.floatPtr("s_tmax", &p.STmax)
	r.floatPtr("s_tmin", &p.STmin)
	r.floatPtr("s_noise", &p.SNoise)
	r.object("override_settings", &p.OverrideSettings)
	r.bool("override_settings_restore_afterwards", &p.OverrideSettingsRestoreAfterwards)
	r.strPtr("refiner_checkpoint", &p.RefinerCheckpoint)
	r.floatPtr("refiner_switch_at", &p.RefinerSwitchAt)
	r.bool("disable_extra_networks", &p.DisableExtraNetworks)
	r.object("comments", &p.Comments)
	r.strPtr("force_task_id", &p.ForceTaskID)
	r.strPtr("script_name", &p.ScriptName)
	r.list("script_args", &p.ScriptArgs)
	r.bool("send_images", &p.SendImages)
	r.bool("save_images", &p.SaveImages)
	r.object("alwayson_scripts", &p.AlwaysonScripts)
	r.strPtr("infotext", &p.Infotext)
	// The API overwrites both with not save_images.
	p.DoNotSaveSamples, p.DoNotSaveGrid = !p.SaveImages, !p.SaveImages

	switch mode {
	case processing.Txt2Img:
		r.bool("enable_hr", &p.EnableHR)
		r.int("firstphase_width", &p.FirstphaseWidth)
		r.int("firstphase_height", &p.FirstphaseHeight)
		r.float("hr_scale", &p.HRScale)
		r.strPtr("hr_upscaler", &p.HRUpscaler)
		r.int("hr_second_pass_steps", &p.HRSecondPassSteps)
		r.int("hr_resize_x", &p.HRResizeX)
		r.int("hr_resize_y", &p.HRResizeY)
		r.strPtr("hr_checkpoint_name", &p.HRCheckpointName)
		r.strPtr("hr_sampler_name", &p.HRSamplerName)
		r.strPtr("hr_scheduler", &p.HRScheduler)
		r.str("hr_prompt", &p.HRPrompt)
		r.str("hr_negative_prompt", &p.HRNegativePrompt)
	case processing.Img2Img:
		r.int("resize_mode", &p.ResizeMode)
		r.floatPtr("image_cfg_scale", &p.ImageCFGScale)
		r.int("mask_blur_x", &p.MaskBlurX)
		r.int("mask_blur_y", &p.MaskBlurY)
		r.intPtr("mask_blur", &p.MaskBlur)
		r.bool("mask_round", &p.MaskRound)
		r.int("inpainting_fill", &p.InpaintingFill)
		r.bool("inpaint_full_res", &p.InpaintFullRes)
		r.int("inpaint_full_res_padding", &p.InpaintFullResPadding)
		r.int("inpainting_mask_invert", &p.InpaintingMaskInvert) // int or bool
		r.floatPtr("initial_noise_multiplier", &p.InitialNoiseMultiplier)
		r.bool("include_init_images", &p.IncludeInitImages)
		if lm, ok := raw["latent_mask"].(string); ok && lm != "" {
			// A1111 passes the string on unparsed and fails on it; refuse
			// clearly rather than ignore it.
			return p, nil, fmt.Errorf("%w: latent_mask", processing.ErrUnsupported)
		}
	}

	params, err := echoParameters(schema, raw)
	if err != nil {
		return p, nil, err
	}
	if p.Infotext != nil && *p.Infotext != "" {
		pasted, err := p.ApplyInfotext(*p.Infotext, s.deps.Options)
		if err != nil {
			return p, nil, err
		}
		// apply_infotext sets the request's own fields, so vars(request)
		// shows the pasted values.
		maps.Copy(params, pasted)
	}
	if err := s.checkScript(p); err != nil {
		return p, nil, err
	}
	// After apply_infotext, which may set steps, size and prompts; before
	// any image is decoded or the job queues.
	if err := s.cfg.Limits.Processing().Check(p); err != nil {
		return p, nil, err
	}
	if err := s.cfg.Limits.checkImageCount("init_images", len(initList)); err != nil {
		return p, nil, err
	}
	if fp, ok := raw["firstpass_image"].(string); ok && fp != "" {
		img, err := s.decodeInput(ctx, fp, "firstpass_image")
		if err != nil {
			return p, nil, err
		}
		p.FirstpassImage = img
	}
	if mode == processing.Img2Img {
		// Decoded last, as A1111 does inside the queue lock: an unknown
		// script is reported first.
		if p.InitImages, err = s.decodeImages(ctx, initList); err != nil {
			return p, nil, err
		}
	}
	return p, params, nil
}

// checkScript resolves script_name before the job queues, as A1111's
// get_selectable_script does before taking the queue lock; with no
// Processor there are no scripts and any name is unknown.
func (s *Server) checkScript(p processing.Params) error {
	if p.ScriptName == nil || *p.ScriptName == "" {
		return nil
	}
	_, err := s.scripts().Selectable(*p.ScriptName, p.Mode)
	return err
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
