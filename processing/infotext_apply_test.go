package processing

import (
	"errors"
	"strings"
	"testing"
)

const pastedInfotext = "a cat\nNegative prompt: blurry\n" +
	"Steps: 25, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234, Size: 640x448, " +
	"Model hash: 6ce0161689, Denoising strength: 0.4, Clip skip: 2, ENSD: 31337, Hires upscale: 1.5, Hires upscaler: Latent, Version: v1.10.1"

func TestApplyInfotext(t *testing.T) {
	pr, _ := newProcessor(t)
	p := DefaultTxt2Img()
	p.Prompt = "a dog"
	p.Steps = 10
	p.markSet("prompt")
	p.markSet("steps")
	p.OverrideSettings = map[string]any{"eta_noise_seed_delta": 5.0}
	pasted, err := p.ApplyInfotext(pastedInfotext, pr.Options)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"prompt (set by request)", p.Prompt, "a dog"},
		{"steps (set by request)", p.Steps, 10},
		{"negative_prompt", p.NegativePrompt, "blurry"},
		{"sampler_name", deref(p.SamplerName), "DPM++ 2M"},
		{"scheduler", deref(p.Scheduler), "Automatic"}, // Karras is DPM++ 2M's automatic choice
		{"cfg_scale", p.CFGScale, 6.5},
		{"seed", p.Seed, int64(1234)},
		{"width", p.Width, 640},
		{"height", p.Height, 448},
		{"denoising_strength", derefF(p.DenoisingStrength), 0.4},
		{"enable_hr", p.EnableHR, true},
		{"hr_scale", p.HRScale, 1.5},
		{"hr_upscaler", deref(p.HRUpscaler), "Latent"},
		{"hr_sampler_name", deref(p.HRSamplerName), "Use same sampler"},
		{"CLIP override", p.OverrideSettings["CLIP_stop_at_last_layers"], 2.0},
		{"ENSD kept from request", p.OverrideSettings["eta_noise_seed_delta"], 5.0},
		{"model hash not swapped", p.OverrideSettings["sd_model_checkpoint"], nil},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if _, ok := p.OverrideSettings["randn_source"]; ok {
		t.Error("RNG absent from infotext must not override")
	}
	// What it returns is what it set, with the values set: the request's
	// own fields are absent.
	for k, want := range map[string]any{"negative_prompt": "blurry", "sampler_name": "DPM++ 2M", "seed": int64(1234), "width": 640,
		"denoising_strength": 0.4, "enable_hr": true, "hr_upscaler": "Latent"} {
		if pasted[k] != want {
			t.Errorf("pasted[%s] = %#v, want %#v", k, pasted[k], want)
		}
	}
	if _, ok := pasted["prompt"]; ok {
		t.Error("prompt, set by the request, reported as pasted")
	}
	if o, _ := pasted["override_settings"].(map[string]any); o["CLIP_stop_at_last_layers"] != 2.0 {
		t.Errorf("pasted override_settings = %v, want the CLIP override", pasted["override_settings"])
	}
}

func TestApplyInfotextDefaultClipSkipIsNoOverride(t *testing.T) {
	pr, _ := newProcessor(t)
	p := DefaultTxt2Img()
	if _, err := p.ApplyInfotext("x\nSteps: 20, Sampler: Euler, Seed: 1", pr.Options); err != nil {
		t.Fatal(err)
	}
	if len(p.OverrideSettings) != 0 {
		t.Fatalf("overrides = %v, want none (Clip skip 1 equals the option)", p.OverrideSettings)
	}
	if p.EnableHR {
		t.Fatal("enable_hr without Hires keys")
	}
}

// A number infotext cannot hold, and nan or inf where a float is read
// (they would pass range checks), are refused as invalid requests.
func TestApplyInfotextBadNumber(t *testing.T) {
	for _, field := range []string{"Steps: many", "Denoising strength: nan", "Denoising strength: -inf", "CFG scale: NaN", "Variation seed strength: inf"} {
		t.Run(field, func(t *testing.T) {
			p := DefaultImg2Img()
			_, err := p.ApplyInfotext("x\n"+field+", Sampler: Euler, Seed: 1", nil)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestInfotextRoundTrip(t *testing.T) {
	pr, _ := newProcessor(t)
	p := smallTxt2Img()
	p.NegativePrompt = "blurry"
	out, err := pr.Process(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	q := DefaultTxt2Img()
	if _, err := q.ApplyInfotext(out.Infotexts[0], pr.Options); err != nil {
		t.Fatal(err)
	}
	out2, err := pr.Process(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	if out2.Infotexts[0] != out.Infotexts[0] {
		t.Fatalf("round trip:\n%s\n%s", out.Infotexts[0], out2.Infotexts[0])
	}
}

func TestJSHiresExtraParams(t *testing.T) {
	pr, _ := newProcessor(t)
	p := smallTxt2Img()
	p.EnableHR = true
	ds := 0.5
	p.DenoisingStrength = &ds
	p.markSet("subseed_strength")
	out, err := pr.Process(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	js := out.JS()
	want := `"extra_generation_params": {"Denoising strength": 0.5, "Hires prompt": null, "Hires negative prompt": null, "Hires schedule type": null, "Hires upscale": 2.0}`
	if !strings.Contains(js, want) || !strings.Contains(js, `"subseed_strength": 0.0`) || !strings.Contains(js, `"denoising_strength": 0.5`) {
		t.Fatalf("js = %s", js)
	}
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func derefF(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}
