package processing

import (
	"context"
	"fmt"
	"maps"

	"github.com/sdapi/sdapi/runner"
)

// ModelProvider loads models for jobs, as A1111's sd_models and sd_vae
// reload weights when sd_model_checkpoint or sd_vae change.
type ModelProvider interface {
	// Runner returns the runner for checkpoint (the sd_model_checkpoint
	// option; "" or an unknown name means the default model, as A1111
	// reloads its default weights) and vae (the sd_vae option: "Automatic",
	// "None" or a VAE name). It returns an error wrapping runner.ErrModel
	// when the model cannot be loaded.
	Runner(ctx context.Context, checkpoint, vae string) (runner.Runner, error)
	// HasCheckpoint reports whether name is one of A1111's
	// checkpoint_aliases (title, model name or short hash).
	HasCheckpoint(name string) bool
	// VAEHash is A1111's sd_vae.get_loaded_vae_hash for the VAE the runner
	// reports in ModelInfo.VAE: the short hash, or "" when unknown.
	VAEHash(vae string) string
}

// RefinerProvider is a ModelProvider that can keep a refiner loaded beside
// the job's model, for refiner_checkpoint.
type RefinerProvider interface {
	// Refiner loads the checkpoint get_closet_checkpoint_match finds for
	// name, with the sd_vae option vae; an error wraps ErrNotFound when
	// there is none.
	Refiner(ctx context.Context, name, vae string) (runner.Runner, error)
}

// applyOverrides applies the job's override_settings as process_images
// does and returns the function that restores them. An
// sd_model_checkpoint override that names no known model is dropped
// silently. restore is never nil and is a no-op when
// override_settings_restore_afterwards is false.
func (pr *Processor) applyOverrides(p *Params) (restore func(), err error) {
	noop := func() {}
	if len(p.OverrideSettings) == 0 || pr.Options == nil {
		return noop, nil
	}
	ov := maps.Clone(p.OverrideSettings)
	if v, ok := ov["sd_model_checkpoint"]; ok {
		name, _ := v.(string)
		if pr.Models == nil || !pr.Models.HasCheckpoint(name) {
			delete(ov, "sd_model_checkpoint")
		}
	}
	restore, err = pr.Options.Override(ov)
	if err != nil {
		restore()
		return noop, fmt.Errorf("override_settings: %w", err)
	}
	if !p.OverrideSettingsRestoreAfterwards {
		return noop, nil
	}
	return restore, nil
}

// jobOptions are the options a job reads once, after overrides apply.
type jobOptions struct {
	checkpoint             string
	vae                    string
	clipSkip               int
	ensd                   int64
	randnSource            string
	emphasis               string
	commaBacktrack         int
	etaAncestral           float64
	etaDDIM                float64
	sChurn                 float64
	sTmin                  float64
	sTmax                  float64
	sNoise                 float64
	sMinUncond             float64
	discardPenultimate     bool
	faceRestoration        bool
	faceRestorationModel   string
	tiling                 bool
	samplesFormat          string
	enablePNGInfo          bool
	jpegQuality            int
	previewEvery           int
	samplesSave            bool
	saveIncomplete         bool
	addModelHash           bool
	addModelName           bool
	addVAEHash             bool
	addVAEName             bool
	addVersion             bool
	returnGrid             bool
	gridSave               bool
	gridOnlyIfMultiple     bool
	grid                   GridLayout
	betaAlpha, betaBeta    float64
	initialNoiseMultiplier float64
	// img2imgFixSteps is img2img_fix_steps: img2img samples exactly steps
	// steps instead of steps×denoising_strength.
	img2imgFixSteps bool
	// sdxl are the SDXL options (sdxl_crop_*, sdxl_clip_l_skip,
	// sdxl_refiner_*_aesthetic_score); SD1/SD2 runners ignore them.
	sdxl runner.SDXLOptions
	// refinerBySteps is refiner_switch_by_sample_steps; hiresRefinerPass
	// is hires_fix_refiner_pass ("first pass", "second pass", "both passes").
	refinerBySteps   bool
	hiresRefinerPass string
	// loraHashes and tiHashes are lora_add_hashes_to_infotext and
	// textual_inversion_add_hashes_to_infotext.
	loraHashes, tiHashes bool
	// sdLora is sd_lora ("Add network to prompt"), "None" for none, at
	// extra_networks_default_multiplier.
	sdLora            string
	defaultMultiplier float64
}

// readJobOptions reads the options with A1111's defaults for keys the store
// does not define.
func (pr *Processor) readJobOptions() jobOptions {
	o := optReader{pr}
	jo := jobOptions{
		checkpoint: o.str("sd_model_checkpoint", ""),
		vae:        o.str("sd_vae", "Automatic"),
		clipSkip:   int(o.num("CLIP_stop_at_last_layers", 1)),
		sdxl: runner.SDXLOptions{
			CropTop:              o.num("sdxl_crop_top", 0),
			CropLeft:             o.num("sdxl_crop_left", 0),
			ClipLSkip:            o.boolean("sdxl_clip_l_skip", false),
			RefinerLowAesthetic:  o.num("sdxl_refiner_low_aesthetic_score", 2.5),
			RefinerHighAesthetic: o.num("sdxl_refiner_high_aesthetic_score", 6),
		},
		ensd:                   int64(o.num("eta_noise_seed_delta", 0)),
		randnSource:            o.str("randn_source", "GPU"),
		emphasis:               o.str("emphasis", "Original"),
		commaBacktrack:         int(o.num("comma_padding_backtrack", 20)),
		etaAncestral:           o.num("eta_ancestral", 1),
		etaDDIM:                o.num("eta_ddim", 0),
		sChurn:                 o.num("s_churn", 0),
		sTmin:                  o.num("s_tmin", 0),
		sTmax:                  o.num("s_tmax", 0),
		sNoise:                 o.num("s_noise", 1),
		sMinUncond:             o.num("s_min_uncond", 0),
		discardPenultimate:     o.boolean("always_discard_next_to_last_sigma", false),
		faceRestoration:        o.boolean("face_restoration", false),
		faceRestorationModel:   o.str("face_restoration_model", "CodeFormer"),
		tiling:                 o.boolean("tiling", false),
		samplesFormat:          o.str("samples_format", "png"),
		enablePNGInfo:          o.boolean("enable_pnginfo", true),
		jpegQuality:            int(o.num("jpeg_quality", 80)),
		samplesSave:            o.boolean("samples_save", true),
		saveIncomplete:         o.boolean("save_incomplete_images", false),
		addModelHash:           o.boolean("add_model_hash_to_info", true),
		addModelName:           o.boolean("add_model_name_to_info", true),
		addVAEHash:             o.boolean("add_vae_hash_to_info", true),
		addVAEName:             o.boolean("add_vae_name_to_info", true),
		addVersion:             o.boolean("add_version_to_infotext", true),
		returnGrid:             o.boolean("return_grid", true),
		gridSave:               o.boolean("grid_save", true),
		gridOnlyIfMultiple:     o.boolean("grid_only_if_multiple", true),
		grid:                   GridLayout{NRows: int(o.num("n_rows", -1)), PreventEmptySpots: o.boolean("grid_prevent_empty_spots", false)},
		betaAlpha:              o.num("beta_dist_alpha", 0.6),
		betaBeta:               o.num("beta_dist_beta", 0.6),
		initialNoiseMultiplier: o.num("initial_noise_multiplier", 1.0),
		img2imgFixSteps:        o.boolean("img2img_fix_steps", false),
		refinerBySteps:         o.boolean("refiner_switch_by_sample_steps", false),
		hiresRefinerPass:       o.str("hires_fix_refiner_pass", "second pass"),
		loraHashes:             o.boolean("lora_add_hashes_to_infotext", true),
		tiHashes:               o.boolean("textual_inversion_add_hashes_to_infotext", true),
		sdLora:                 o.str("sd_lora", "None"),
		defaultMultiplier:      o.num("extra_networks_default_multiplier", 1),
	}
	if o.boolean("live_previews_enable", true) {
		jo.previewEvery = max(int(o.num("show_progress_every_n_steps", 10)), 0)
	}
	return jo
}

// optReader reads options with fallbacks for keys the store lacks (a
// store built from a partial list of defs, as in tests).
type optReader struct{ pr *Processor }

func (o optReader) get(key string) (any, bool) {
	if o.pr.Options == nil {
		return nil, false
	}
	return o.pr.Options.Get(key)
}

func (o optReader) str(key, def string) string {
	v, ok := o.get(key)
	if !ok {
		return def
	}
	s, ok := v.(string)
	if !ok {
		return def
	}
	return s
}

func (o optReader) num(key string, def float64) float64 {
	v, ok := o.get(key)
	if !ok {
		return def
	}
	switch x := v.(type) {
	case float64:
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case bool:
		if x {
			return 1
		}
		return 0
	}
	return def
}

func (o optReader) boolean(key string, def bool) bool {
	v, ok := o.get(key)
	if !ok {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		return def
	}
	return b
}
