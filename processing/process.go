package processing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing/extranet"
	"github.com/sdapi/sdapi/processing/options"
	"github.com/sdapi/sdapi/processing/styles"
	"github.com/sdapi/sdapi/processing/upscale"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/sampling"
)

// Processor is A1111's process_images: it runs generation jobs on the
// runner its ModelProvider loads. It holds no per-job state; callers run
// one job at a time (the queue's job), as A1111's queue_lock does.
type Processor struct {
	Options *options.Store
	State   *State
	Styles  *styles.File
	Models  ModelProvider
	// OutputDir is the root save_images writes under; option values are
	// resolved inside it and can never leave it.
	OutputDir string
	// Rand supplies random bits for seeds; nil uses crypto/rand.
	Rand func() uint32
	// Now is the clock for file names; nil is time.Now.
	Now func() time.Time
	// Version is written as infotext's Version and info's version; "" is
	// None.
	Version string
	// Upscalers are shared.sd_upscalers, which hires fix resizes with
	// (the latent modes are built in); nil is the built-in upscalers only.
	Upscalers *upscale.Registry
	// Scripts are the selectable and always-on scripts Run resolves and
	// Process runs the always-on hooks of; nil is none.
	Scripts *Scripts
	// Limits are checked by Prepare and by every Process a script calls;
	// the zero value checks nothing.
	Limits Limits
	// Loras is the Lora directory; nil has none, so every <lora:> tag is
	// "not found".
	Loras *extranet.Loras
	// Embeddings is the embeddings directory; nil has none.
	Embeddings *extranet.Embeddings
	// Log receives what A1111 prints on its console (an unknown LoRA, a
	// LoRA that fails to load); nil discards.
	Log *slog.Logger
}

// Process runs one txt2img or img2img job: it is the only caller of
// runner.Runner.Generate, once per batch (twice with hires fix). It
// applies override_settings for the job and restores them afterwards, also
// on error and panic; begins and ends the job in State; and returns the
// images finished so far when the job is interrupted.
func (pr *Processor) Process(ctx context.Context, p Params) (*Processed, error) {
	alwaysOn, err := pr.Scripts.alwaysOn(&p)
	if err != nil {
		return nil, err
	}
	return pr.process(ctx, p, alwaysOn)
}

// process is Process with the always-on scripts already resolved: a job
// Prepare made, and the jobs its selectable script runs, use its set.
func (pr *Processor) process(ctx context.Context, p Params, alwaysOn alwaysOnSet) (*Processed, error) {
	if pr.Models == nil {
		return nil, apierr.Model("no model provider configured")
	}
	if p.BatchSize < 1 {
		return nil, apierr.Invalid("batch_size", "batch_size must be at least 1")
	}
	if err := alwaysOn.beforeProcess(ctx, &p); err != nil {
		return nil, err
	}
	restore, err := pr.applyOverrides(&p)
	defer restore()
	if err != nil {
		return nil, err
	}
	st := pr.State
	if st == nil {
		st = NewState(pr.Now)
	}
	j, err := pr.prepare(&p)
	if err != nil {
		return nil, err
	}
	j.alwaysOn = alwaysOn
	if err := alwaysOn.process(ctx, scriptEnv{pr: pr, made: new(int), alwaysOn: alwaysOn}, &p, j); err != nil {
		return nil, err
	}
	r, err := pr.Models.Runner(ctx, j.jo.checkpoint, j.jo.vae)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	j.model = r.Model()
	if j.model.VAE != "" {
		j.vaeHash = pr.Models.VAEHash(j.model.VAE)
	}
	if j.refinerName != "" {
		rp, ok := pr.Models.(RefinerProvider)
		if !ok {
			return nil, apierr.Unsupported("refiner_checkpoint: this model provider cannot load a refiner")
		}
		ref, err := rp.Refiner(ctx, j.refinerName, j.jo.vae)
		if err != nil {
			return nil, fmt.Errorf("load refiner: %w", err)
		}
		j.refiner = &runner.Refiner{Runner: ref, SwitchAt: 0, BySteps: j.jo.refinerBySteps}
		if sw := p.RefinerSwitchAt; sw != nil {
			j.refiner.SwitchAt = *sw
		}
	}
	var hrRunner runner.Runner = r
	if j.hr.enabled && j.hr.checkpoint != "" {
		if hrRunner, err = pr.Models.Runner(ctx, j.hr.checkpoint, j.jo.vae); err != nil {
			return nil, fmt.Errorf("load hires checkpoint: %w", err)
		}
	}

	jobCount := p.NIter
	if j.hr.enabled {
		jobCount *= 2
	}
	st.Begin("scripts_"+p.Mode.String(), jobCount)
	defer st.End()
	res, err := pr.run(ctx, st, j, r, hrRunner)
	if err != nil {
		return nil, err
	}
	if err := alwaysOn.afterProcess(ctx, &p, res); err != nil {
		return nil, err
	}
	return res, nil
}

// prepare resolves everything process_images_inner computes before the
// first batch: sampler, seeds, prompts, face restoration, tiling, hires.
func (pr *Processor) prepare(p *Params) (*job, error) {
	jo := pr.readJobOptions()
	j := &job{p: p, jo: jo, extra: &OrderedParams{}, width: p.Width, height: p.Height}
	if pr.Version != "" {
		v := pr.Version
		j.version = &v
	}
	name := p.SamplerIndex
	if p.SamplerName != nil && *p.SamplerName != "" {
		name = *p.SamplerName
	}
	var sched string
	if p.Scheduler != nil {
		sched = *p.Scheduler
	}
	j.sampler, j.scheduler = sampling.ResolveSamplerScheduler(name, sched)

	j.seed = FixedSeed(p.Seed, pr.Rand)
	j.subseed = FixedSeed(p.Subseed, pr.Rand)
	j.restoreFaces = jo.faceRestoration
	if p.RestoreFaces != nil {
		j.restoreFaces = *p.RestoreFaces
	}
	if j.restoreFaces {
		return nil, apierr.Unsupported("face restoration: no face-restoration model is installed")
	}
	j.tiling = jo.tiling
	if p.Tiling != nil {
		j.tiling = *p.Tiling
	}
	if rc := p.RefinerCheckpoint; rc != nil && *rc != "" && *rc != "None" && *rc != "none" {
		j.refinerName = *rc
	}
	if p.Mode == Img2Img {
		if err := pr.prepareImg2Img(j); err != nil {
			return nil, err
		}
	}
	if err := pr.setupPrompts(j); err != nil {
		return nil, err
	}
	j.seeds, j.subseeds = AllSeeds(j.seed, j.subseed, p.SubseedStrength, len(j.allPrompts))
	if p.Seeds != nil {
		if len(p.Seeds) < len(j.allPrompts) {
			return nil, apierr.Invalid("", "%d seeds for %d images", len(p.Seeds), len(j.allPrompts))
		}
		j.seeds = append([]int64(nil), p.Seeds...)
	}
	if err := pr.planHires(j); err != nil {
		return nil, err
	}
	if p.NIter > 0 {
		j.samplerExtras(j.sampler, j.scheduler, false)
		if j.hr.enabled {
			j.samplerExtras(j.hr.sampler, j.hr.scheduler, true)
		}
	}
	if jo.refinerBySteps { // A1111's apply_refiner writes it at the first model call of every run
		j.extra.Set("Refiner switch by sampling steps", true)
	}
	return j, nil
}

// refinerFor is the refiner of a sampling pass: with hires fix, the pass
// hires_fix_refiner_pass names (A1111's apply_refiner returns early on the
// other).
func (j *job) refinerFor(hiresPass bool) *runner.Refiner {
	if j.refiner == nil || hiresPass && !j.hr.enabled {
		return nil
	}
	if j.hr.enabled {
		switch j.jo.hiresRefinerPass {
		case "first pass":
			if hiresPass {
				return nil
			}
		case "second pass":
			if !hiresPass {
				return nil
			}
		}
	}
	return j.refiner
}

// noteRefined writes what apply_refiner writes when it switched: Hires
// refiner (hires fix with hires_fix_refiner_pass other than "second
// pass"), Refiner (the refiner's short title, "name [shorthash]") and
// Refiner switch at.
func (j *job) noteRefined(res runner.Result) {
	if !res.Refined || j.refiner == nil {
		return
	}
	if j.hr.enabled && j.jo.hiresRefinerPass != "second pass" {
		j.extra.Set("Hires refiner", j.jo.hiresRefinerPass)
	}
	m := j.refiner.Runner.Model()
	title := m.Name
	if m.Hash != "" {
		title += " [" + m.Hash + "]"
	}
	j.extra.Set("Refiner", title)
	if sw := j.p.RefinerSwitchAt; sw != nil {
		j.extra.Set("Refiner switch at", *sw)
	} else {
		j.extra.Set("Refiner switch at", nil)
	}
}

// prepareImg2Img is the part of StableDiffusionProcessingImg2Img.init
// that processing owns; resizing and masking are the runner's.
func (pr *Processor) prepareImg2Img(j *job) error {
	p := j.p
	switch n := len(p.InitImages); {
	case n == 0:
		return apierr.Invalid("init_images", "init_images is empty")
	case n > p.BatchSize && n != 1:
		return apierr.Invalid("", "bad number of images passed: %d; expecting %d or less", n, p.BatchSize)
	case n > 1 && n < p.BatchSize:
		p.BatchSize = n
	}
	if p.ResizeMode < 0 || p.ResizeMode > 3 {
		return apierr.Invalid("resize_mode", "resize_mode %d outside 0..3", p.ResizeMode)
	}
	if p.DenoisingStrength == nil {
		ds := 0.75
		p.DenoisingStrength = &ds
	}
	j.extra.Set("Denoising strength", *p.DenoisingStrength)
	// Checked here, before any model is loaded: img2img_fix_steps is a
	// job option (override_settings may set it), so Limits.Check cannot.
	if j.jo.img2imgFixSteps {
		if err := pr.Limits.CheckExactSteps("denoising_strength", p.Steps, *p.DenoisingStrength); err != nil {
			return err
		}
	}
	if p.Mask != nil {
		if p.MaskBlur != nil {
			p.MaskBlurX, p.MaskBlurY = *p.MaskBlur, *p.MaskBlur
		}
		if p.InpaintingMaskInvert != 0 {
			j.extra.Set("Mask mode", "Inpaint not masked")
		}
		if p.MaskBlurX > 0 || p.MaskBlurY > 0 {
			j.extra.Set("Mask blur", nilUnless(p.MaskBlurX == p.MaskBlurY, any(p.MaskBlurX)))
		}
	}
	if nm := j.noiseMultiplier(); nm != 1.0 {
		j.extra.Set("Noise multiplier", nm)
	}
	return nil
}

func (j *job) noiseMultiplier() float64 {
	if j.p.InitialNoiseMultiplier != nil {
		return *j.p.InitialNoiseMultiplier
	}
	return j.jo.initialNoiseMultiplier
}

// setupPrompts is StableDiffusionProcessing.setup_prompts (and the txt2img
// override for hires prompts): per-image prompts with styles applied.
func (pr *Processor) setupPrompts(j *job) error {
	p := j.p
	total := p.BatchSize * max(p.NIter, 0)
	prompts, negatives, err := promptLists(p.Prompt, p.Prompts, p.NegativePrompt, p.NegativePrompts, total)
	if err != nil {
		return err
	}
	stylePrompts, styleNegatives, err := pr.styleTexts(p.Styles)
	if err != nil {
		return err
	}
	j.allPrompts = applyStyles(prompts, stylePrompts)
	j.allNegative = applyStyles(negatives, styleNegatives)
	if p.Mode != Txt2Img || !p.EnableHR {
		return nil
	}
	hrPrompt, hrPrompts := p.HRPrompt, []string(nil)
	if hrPrompt == "" {
		hrPrompt, hrPrompts = p.Prompt, p.Prompts
	}
	hrNeg, hrNegs := p.HRNegativePrompt, []string(nil)
	if hrNeg == "" {
		hrNeg, hrNegs = p.NegativePrompt, p.NegativePrompts
	}
	j.allHRPrompts = applyStyles(orRepeat(hrPrompts, hrPrompt, total), stylePrompts)
	j.allHRNegative = applyStyles(orRepeat(hrNegs, hrNeg, total), styleNegatives)
	return nil
}

func promptLists(prompt string, prompts []string, negative string, negatives []string, total int) ([]string, []string, error) {
	var all []string
	switch {
	case prompts != nil:
		all = prompts
	case negatives != nil:
		all = orRepeat(nil, prompt, len(negatives))
	default:
		all = orRepeat(nil, prompt, total)
	}
	allNeg := orRepeat(negatives, negative, len(all))
	if len(all) != len(allNeg) {
		return nil, nil, apierr.Invalid("", "received a different number of prompts (%d) and negative prompts (%d)", len(all), len(allNeg))
	}
	return all, allNeg, nil
}

func orRepeat(list []string, s string, n int) []string {
	if list != nil {
		return append([]string(nil), list...)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// styleTexts returns each requested style's prompt and negative prompt;
// an unknown name contributes "", as A1111's no_style does.
func (pr *Processor) styleTexts(names []string) (prompts, negatives []string, err error) {
	if len(names) == 0 {
		return nil, nil, nil
	}
	byName := map[string]styles.Style{}
	if pr.Styles != nil {
		all, err := pr.Styles.Styles()
		if err != nil {
			return nil, nil, fmt.Errorf("read styles: %w", err)
		}
		for _, s := range all {
			byName[s.Name] = s
		}
	}
	for _, n := range names {
		s := byName[n]
		prompts = append(prompts, s.Prompt)
		negatives = append(negatives, s.NegativePrompt)
	}
	return prompts, negatives, nil
}

func applyStyles(prompts, styleTexts []string) []string {
	out := make([]string, len(prompts))
	for i, pr := range prompts {
		for _, st := range styleTexts {
			pr = styles.ApplyToPrompt(pr, st)
		}
		out[i] = pr
	}
	return out
}

// baseRequest is the runner request every batch shares.
func (j *job) baseRequest() runner.Request {
	p, jo := j.p, j.jo
	so := runner.SamplingOptions{DiscardNextToLastSigma: jo.discardPenultimate}
	if sm, ok := sampling.FindSampler(j.sampler); ok {
		eta := j.samplerEta(sm)
		so.Eta = &eta
	}
	so.SChurn = orOpt(p.SChurn, jo.sChurn)
	so.STmin = orOpt(p.STmin, jo.sTmin)
	so.SNoise = orOpt(p.SNoise, jo.sNoise)
	so.SMinUncond = orOpt(p.SMinUncond, jo.sMinUncond)
	tmax := *orOpt(p.STmax, jo.sTmax)
	if tmax == 0 {
		tmax = math.Inf(1) // A1111: (p.s_tmax or opts.s_tmax) or float('inf')
	}
	so.STmax = &tmax
	return runner.Request{
		SubseedStrength: p.SubseedStrength,
		SeedResizeFromW: p.SeedResizeFromW,
		SeedResizeFromH: p.SeedResizeFromH,
		NoiseSource:     jo.randnSource,
		ENSD:            jo.ensd,
		Sampler:         j.sampler,
		Scheduler:       j.scheduler,
		Steps:           p.Steps,
		CFGScale:        p.CFGScale,
		Width:           j.width,
		Height:          j.height,
		Sampling:        so,
		ClipSkip:        jo.clipSkip,
		SDXL:            jo.sdxl,
		Emphasis:        jo.emphasis,
		CommaBacktrack:  jo.commaBacktrack,
		Tiling:          j.tiling,
		PreviewEvery:    jo.previewEvery,
	}
}

func orOpt(v *float64, def float64) *float64 {
	if v != nil {
		x := *v
		return &x
	}
	return &def
}

// errStopped marks a batch ended by interrupt, skip or cancellation.
var errStopped = errors.New("batch stopped")

// generate runs one runner call that Interrupt, Skip and ctx can stop. A
// call stopped by Interrupt or Skip returns errStopped with the images the
// runner decoded from the latent its sampler stopped at, one per image of
// the batch, as A1111's sampler returns last_latent on InterruptedException
// and process_images_inner decodes it; one stopped by ctx returns none.
func generate(ctx context.Context, st *State, r runner.Runner, req runner.Request) (runner.Result, error) {
	bctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	unwatch := st.watchBatch(func() { cancel(runner.ErrStopRequested) })
	defer unwatch()
	req.OnStep = func(pg runner.Progress) {
		st.Step(pg.Step)
		if len(pg.Preview) > 0 {
			st.SetCurrentImage(ImageGrid(pg.Preview, GridLayout{NRows: -1}.Rows(len(pg.Preview), 1)), pg.Step)
		}
	}
	res, err := r.Generate(bctx, req)
	if err == nil {
		return res, nil
	}
	if bctx.Err() != nil || errors.Is(err, runner.ErrInterrupted) {
		if len(res.Images) != len(req.Prompts) {
			res.Images = nil
		}
		return res, fmt.Errorf("%w: %w", errStopped, err)
	}
	return res, err
}

func (pr *Processor) now() time.Time {
	if pr.Now != nil {
		return pr.Now()
	}
	return time.Now()
}
