package processing

import (
	"fmt"

	"github.com/sdapi/sdapi/processing/infotext"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/sampling"
)

// job is one Process call's resolved state: what A1111 keeps on p while
// process_images_inner runs.
type job struct {
	p  *Params
	jo jobOptions

	sampler   string // p.sampler_name after resolution
	scheduler string // p.scheduler after resolution (a label, "Automatic" by default)

	allPrompts, allNegative     []string
	allHRPrompts, allHRNegative []string
	seeds, subseeds             []int64
	seed, subseed               int64

	restoreFaces bool
	tiling       bool
	width        int // first-pass size, as infotext's Size
	height       int

	hr hiresPlan
	// refinerName is refiner_checkpoint when it names a refiner ("" none);
	// refiner is it loaded, with refiner_switch_at.
	refinerName string
	refiner     *runner.Refiner

	// extra is p.extra_generation_params.
	extra   *OrderedParams
	model   runner.ModelInfo
	vaeHash string
	version *string

	// alwaysOn are the job's always-on scripts.
	alwaysOn alwaysOnSet
	// nets is what the extra networks decided (networks.go).
	nets networkState
}

// hiresPromptParam stands for the callables A1111 stores in
// extra_generation_params for "Hires prompt" and "Hires negative prompt":
// resolved per image by createInfotext, null in the info JSON.
type hiresPromptParam struct{ negative bool }

// createInfotext is A1111 1.10's create_infotext for image index (0-based
// over the whole job); useMain writes the first image's prompt and seeds
// (the grid's infotext).
func (j *job) createInfotext(index int, useMain bool) string {
	if useMain {
		index = 0
	}
	p, jo := j.p, j.jo
	promptText := at(j.allPrompts, index)
	negative := at(j.allNegative, index)

	kv := &OrderedParams{}
	kv.Set("Steps", p.Steps)
	kv.Set("Sampler", j.sampler)
	kv.Set("Schedule type", j.scheduler)
	kv.Set("CFG scale", p.CFGScale)
	// A1111 keeps image_cfg_scale only for instruct-pix2pix ("edit")
	// models, which this server does not load.
	kv.Set("Image CFG scale", nil)
	kv.Set("Seed", at(j.seeds, index))
	kv.Set("Face restoration", nilUnless(j.restoreFaces, any(jo.faceRestorationModel)))
	kv.Set("Size", fmt.Sprintf("%dx%d", j.width, j.height))
	kv.Set("Model hash", nilUnless(jo.addModelHash && j.model.Hash != "", any(j.model.Hash)))
	kv.Set("Model", nilUnless(jo.addModelName && j.model.Name != "", any(j.model.Name)))
	kv.Set("FP8 weight", nil)
	kv.Set("Cache FP16 weight for LoRA", nil)
	kv.Set("VAE hash", nilUnless(jo.addVAEHash && j.vaeHash != "", any(j.vaeHash)))
	kv.Set("VAE", nilUnless(jo.addVAEName && j.model.VAE != "", any(j.model.VAE)))
	kv.Set("Variation seed", nilUnless(p.SubseedStrength != 0, any(at(j.subseeds, index))))
	kv.Set("Variation seed strength", nilUnless(p.SubseedStrength != 0, any(p.SubseedStrength)))
	kv.Set("Seed resize from", nilUnless(p.SeedResizeFromW > 0 && p.SeedResizeFromH > 0,
		any(fmt.Sprintf("%dx%d", p.SeedResizeFromW, p.SeedResizeFromH))))
	ds, _ := j.extra.Get("Denoising strength")
	kv.Set("Denoising strength", ds)
	kv.Set("Conditional mask weight", nil)
	kv.Set("Clip skip", nilUnless(jo.clipSkip > 1, any(jo.clipSkip)))
	kv.Set("ENSD", nilUnless(j.usesENSD(), any(jo.ensd)))
	kv.Set("Token merging ratio", nil)
	kv.Set("Token merging ratio hr", nil)
	kv.Set("Init image hash", nil)
	kv.Set("RNG", nilUnless(jo.randnSource != "GPU", any(jo.randnSource)))
	kv.Set("Tiling", nilUnless(j.tiling, any("True")))
	for _, k := range j.extra.keys {
		v := j.extra.values[k]
		if hp, ok := v.(hiresPromptParam); ok {
			v = j.hiresPrompt(hp, index, promptText, negative)
		}
		kv.Set(k, v)
	}
	var version any
	if jo.addVersion && j.version != nil {
		version = *j.version
	}
	kv.Set("Version", version)
	kv.Set("User", nil)

	params := make([]infotext.KV, 0, kv.Len())
	for _, k := range kv.keys {
		params = append(params, infotext.KV{Key: k, Value: kv.values[k]})
	}
	return infotext.Format(promptText, negative, params)
}

// hiresPrompt is get_hr_prompt / get_hr_negative_prompt: the hires prompt
// when it differs from the image's prompt, else nil.
func (j *job) hiresPrompt(hp hiresPromptParam, index int, prompt, negative string) any {
	if hp.negative {
		if v := at(j.allHRNegative, index); v != negative {
			return v
		}
		return nil
	}
	if v := at(j.allHRPrompts, index); v != prompt {
		return v
	}
	return nil
}

// usesENSD is create_infotext's uses_ensd: eta_noise_seed_delta is set
// and sd_samplers_common.is_sampler_using_eta_noise_seed_delta(p).
func (j *job) usesENSD() bool {
	if j.jo.ensd == 0 {
		return false
	}
	sm, ok := sampling.FindSampler(j.sampler)
	if !ok {
		return false
	}
	if j.samplerEta(sm) == 0 {
		return false
	}
	uses, _ := sm.Options["uses_ensd"].(bool)
	return uses
}

// samplerEta is the eta the sampler runs with: p.eta, else the option its
// family reads (eta_ddim for timestep samplers, eta_ancestral otherwise).
func (j *job) samplerEta(sm *sampling.Sampler) float64 {
	if j.p.Eta != nil {
		return *j.p.Eta
	}
	if sm.UsesTimesteps() {
		return j.jo.etaDDIM
	}
	return j.jo.etaAncestral
}

// samplerExtras adds what A1111's samplers write into
// extra_generation_params when they start: "Discard penultimate sigma",
// "Schedule type" (the label the Automatic scheduler resolves to, for
// k-diffusion samplers), "Beta schedule alpha/beta", and "Eta"/"Eta DDIM"
// when eta differs from the family default. hrPass selects the hires
// pass's variant ("Hires schedule type").
func (j *job) samplerExtras(samplerName, scheduler string, hrPass bool) {
	sm, ok := sampling.FindSampler(samplerName)
	if !ok {
		return
	}
	if sm.UsesTimesteps() {
		if eta := j.samplerEta(sm); eta != 0 && !hrPass {
			j.extra.Set("Eta DDIM", eta)
		}
		return
	}
	if discard, _ := sm.Options["discard_next_to_last_sigma"].(bool); j.jo.discardPenultimate && !discard {
		j.extra.Set("Discard penultimate sigma", true)
	}
	name := scheduler
	if name == "" || name == "Automatic" {
		name, _ = sm.Options["scheduler"].(string)
	}
	if sc, ok := sampling.FindScheduler(name); ok && sc.Label != "Automatic" {
		if !hrPass {
			j.extra.Set("Schedule type", sc.Label)
		} else if cur, _ := j.extra.Get("Schedule type"); cur != any(sc.Label) {
			j.extra.Set("Hires schedule type", sc.Label)
		}
		if sc.Label == "Beta" {
			j.extra.Set("Beta schedule alpha", j.jo.betaAlpha)
			j.extra.Set("Beta schedule beta", j.jo.betaBeta)
		}
	}
	if uses, _ := sm.Options["uses_ensd"].(bool); uses && !hrPass {
		if eta := j.samplerEta(sm); eta != 1.0 {
			j.extra.Set("Eta", eta)
		}
	}
}

func at[T any](xs []T, i int) T {
	var zero T
	if i < 0 || i >= len(xs) {
		return zero
	}
	return xs[i]
}

// nilUnless returns v when cond holds, else nil (A1111's `x if cond else None`).
func nilUnless(cond bool, v any) any {
	if cond {
		return v
	}
	return nil
}
