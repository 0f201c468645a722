package processing

import (
	"context"
	"errors"
	"fmt"
	"image"

	"github.com/sdapi/sdapi/runner"
)

// output collects what process_images_inner appends per image.
type output struct {
	images    []image.Image
	infotexts []string
	saved     []string
}

// run is process_images_inner's batch loop and the Processed it returns.
func (pr *Processor) run(ctx context.Context, st *State, j *job, r, hrRunner runner.Runner) (*Processed, error) {
	p, jo := j.p, j.jo
	base := j.baseRequest()
	init, err := j.initFor(ctx)
	if err != nil {
		return nil, err
	}
	base.Init = init
	doNotSave := p.DoNotSaveSamples || !p.SaveImages
	var out output

	for n := 0; n < p.NIter; n++ {
		st.TakeSkip() // A1111: if state.skipped: state.skipped = False
		if st.Interrupted() || ctx.Err() != nil {
			break
		}
		prompts := batchSlice(j.allPrompts, n, p.BatchSize)
		if len(prompts) == 0 {
			break
		}
		req := base
		req.Prompts = prompts
		req.NegativePrompts = batchSlice(j.allNegative, n, p.BatchSize)
		req.Seeds = batchSlice(j.seeds, n, p.BatchSize)
		req.Subseeds = batchSlice(j.subseeds, n, p.BatchSize)
		if err := j.alwaysOn.beforeBatch(ctx, p, BatchInfo{Index: n, Prompts: req.Prompts, NegativePrompts: req.NegativePrompts, Seeds: req.Seeds, Subseeds: req.Subseeds}); err != nil {
			return nil, err
		}
		pr.applyNetworks(j, &req, false)

		step := n
		if j.hr.enabled {
			step = 2 * n
		}
		st.NextBatch(step, p.Steps)
		images, stopped, err := pr.sampleBatch(ctx, st, j, r, hrRunner, req, n)
		if err != nil {
			return nil, err
		}
		saveSamples := jo.samplesSave && !doNotSave && (jo.saveIncomplete || !stopped)
		for i, img := range images {
			img, err := j.alwaysOn.afterImage(ctx, p, n*p.BatchSize+i, img)
			if err != nil {
				return nil, err
			}
			if err := pr.emit(j, &out, img, n*p.BatchSize+i, saveSamples); err != nil {
				return nil, err
			}
		}
		if stopped && (st.Interrupted() || ctx.Err() != nil) {
			break
		}
	}

	if len(out.infotexts) == 0 {
		out.infotexts = append(out.infotexts, j.createInfotext(0, false))
	}
	indexOfFirst := 0
	generated := len(out.images)
	if (jo.returnGrid || jo.gridSave) && !(p.DoNotSaveGrid || !p.SaveImages) && !(generated < 2 && jo.gridOnlyIfMultiple) && generated > 0 {
		grid := ImageGrid(out.images, jo.grid.Rows(len(out.images), p.BatchSize))
		text := j.createInfotext(0, true)
		if jo.returnGrid {
			out.infotexts = append([]string{text}, out.infotexts...)
			out.images = append([]image.Image{grid}, out.images...)
			indexOfFirst = 1
		}
		if jo.gridSave {
			name, err := pr.saveImage(j, grid, saveTarget{seed: j.seeds[0], prompt: j.allPrompts[0], params: pngParams(jo, text), grid: true})
			if err != nil {
				return nil, err
			}
			out.saved = append(out.saved, name)
		}
	}
	return pr.processed(st, j, &out, indexOfFirst)
}

// sampleBatch is p.sample for one batch: the first pass and, with hires
// fix, the second. stopped reports an interrupt, skip or cancellation; the
// images are then those the runner finished (possibly none).
func (pr *Processor) sampleBatch(ctx context.Context, st *State, j *job, r, hrRunner runner.Runner, req runner.Request, n int) ([]image.Image, bool, error) {
	var first []image.Image
	var latents [][]float32 // the first pass's, for a latent hires upscaler
	if j.hr.enabled && j.p.FirstpassImage != nil {
		first = make([]image.Image, len(req.Prompts))
		for i := range first {
			first[i] = j.p.FirstpassImage
		}
	} else {
		req.ReturnLatents = j.hr.enabled && j.hr.latent
		req.Refiner = j.refinerFor(false)
		res, err := generate(ctx, st, r, req)
		j.noteRefined(res)
		pr.recordEmbeddings(j, res.Embeddings)
		stopped := errors.Is(err, errStopped)
		if err != nil && !stopped {
			return nil, false, fmt.Errorf("generate batch %d: %w", n, err)
		}
		if stopped && (!j.hr.enabled || res.Images == nil) {
			return res.Images, true, nil
		}
		first = res.Images
		if len(res.Latents) == len(first) {
			latents = res.Latents // else the runner gave none: hiresPass falls back to images
		}
	}
	if !j.hr.enabled {
		return first, false, nil
	}
	if st.Interrupted() || ctx.Err() != nil {
		return first, true, nil // sample_hr_pass returns the first pass when interrupted
	}
	// A skip leaves state.skipped set through the hires pass: A1111's
	// sample_hr_pass still upscales, and its sampler stops at its first
	// model call and returns the upscaled init latent, which is decoded.
	st.NextBatch(2*n+1, j.hr.steps)
	res, err := pr.hiresPass(ctx, hrRunnerOr(hrRunner, r), j, firstPass{images: first, latents: latents, req: req}, n, st)
	j.noteRefined(res)
	if errors.Is(err, errStopped) {
		if res.Images == nil {
			return first, true, nil
		}
		return res.Images, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("hires pass of batch %d: %w", n, err)
	}
	return res.Images, false, nil
}

func hrRunnerOr(hr, r runner.Runner) runner.Runner {
	if hr != nil {
		return hr
	}
	return r
}

// emit writes one finished image: its infotext, the saved file and the
// image itself, in process_images_inner's order.
func (pr *Processor) emit(j *job, out *output, img image.Image, index int, saveSamples bool) error {
	text := j.createInfotext(index, false)
	if saveSamples {
		name, err := pr.saveImage(j, img, saveTarget{seed: at(j.seeds, index), prompt: at(j.allPrompts, index), params: pngParams(j.jo, text)})
		if err != nil {
			return err
		}
		out.saved = append(out.saved, name)
	}
	out.infotexts = append(out.infotexts, text)
	out.images = append(out.images, img)
	return nil
}

// pngParams is image.info["parameters"]: the infotext when enable_pnginfo.
func pngParams(jo jobOptions, text string) string {
	if jo.enablePNGInfo {
		return text
	}
	return ""
}

// processed builds Processed; the server encodes the images for the
// response.
func (pr *Processor) processed(st *State, j *job, out *output, indexOfFirst int) (*Processed, error) {
	p, jo := j.p, j.jo
	res := &Processed{
		Infotexts:          out.infotexts,
		Saved:              out.saved,
		AllPrompts:         j.allPrompts,
		AllNegativePrompts: j.allNegative,
		AllSeeds:           j.seeds,
		AllSubseeds:        j.subseeds,
		Seed:               j.seed,
		Subseed:            j.subseed,
		SubseedStrength:    p.SubseedStrength,
		SubseedStrengthSet: p.isSet("subseed_strength"),
		Width:              j.width,
		Height:             j.height,
		SamplerName:        j.sampler,
		CFGScale:           p.CFGScale,
		Steps:              p.Steps,
		BatchSize:          p.BatchSize,
		RestoreFaces:       j.restoreFaces,
		SDModelName:        strOrNil(j.model.Name),
		SDModelHash:        strOrNil(j.model.Hash),
		SDVAEName:          strOrNil(j.model.VAE),
		SDVAEHash:          strOrNil(j.vaeHash),
		SeedResizeFromW:    p.SeedResizeFromW,
		SeedResizeFromH:    p.SeedResizeFromH,
		DenoisingStrength:  p.DenoisingStrength,
		IndexOfFirstImage:  indexOfFirst,
		Styles:             append([]string{}, p.Styles...),
		JobTimestamp:       st.Snapshot().JobTimestamp,
		ClipSkip:           jo.clipSkip,
		Version:            j.version,
	}
	if len(res.AllSeeds) > 0 {
		res.Seed, res.Subseed = res.AllSeeds[0], res.AllSubseeds[0]
	} else {
		res.AllSeeds, res.AllSubseeds = []int64{j.seed}, []int64{j.subseed}
	}
	if len(res.AllPrompts) == 0 {
		res.AllPrompts, res.AllNegativePrompts = []string{p.Prompt}, []string{p.NegativePrompt}
	}
	extra := &OrderedParams{}
	for _, k := range j.extra.keys {
		extra.Set(k, j.extra.values[k])
	}
	res.ExtraGenerationParams = extra
	res.Raw = out.images
	return res, nil
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
