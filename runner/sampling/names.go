package sampling

import (
	"math"
	"strings"
)

var inf = math.Inf(1)

// samplers is A1111 1.10's all_samplers, in its order: samplers_k_diffusion
// (modules/sd_samplers_kdiffusion.py), samplers_timesteps
// (sd_samplers_timesteps.py), samplers_lcm (sd_samplers_lcm.py).
var samplers = []*Sampler{
	{Name: "DPM++ 2M", Aliases: []string{"k_dpmpp_2m"}, Options: map[string]any{"scheduler": "karras"}, kfn: sampleDPMPP2M},
	{Name: "DPM++ SDE", Aliases: []string{"k_dpmpp_sde"}, Options: map[string]any{"scheduler": "karras", "second_order": true, "brownian_noise": true}, kfn: sampleDPMPPSDE},
	{Name: "DPM++ 2M SDE", Aliases: []string{"k_dpmpp_2m_sde"}, Options: map[string]any{"scheduler": "exponential", "brownian_noise": true}, kfn: sampleDPMPP2MSDEMidpoint},
	{Name: "DPM++ 2M SDE Heun", Aliases: []string{"k_dpmpp_2m_sde_heun"}, Options: map[string]any{"scheduler": "exponential", "brownian_noise": true, "solver_type": "heun"}, kfn: sampleDPMPP2MSDEHeun},
	{Name: "DPM++ 2S a", Aliases: []string{"k_dpmpp_2s_a"}, Options: map[string]any{"scheduler": "karras", "uses_ensd": true, "second_order": true}, kfn: sampleDPMPP2SAncestral},
	{Name: "DPM++ 3M SDE", Aliases: []string{"k_dpmpp_3m_sde"}, Options: map[string]any{"scheduler": "exponential", "discard_next_to_last_sigma": true, "brownian_noise": true}, kfn: sampleDPMPP3MSDE},
	{Name: "Euler a", Aliases: []string{"k_euler_a", "k_euler_ancestral"}, Options: map[string]any{"uses_ensd": true}, kfn: sampleEulerAncestral},
	{Name: "Euler", Aliases: []string{"k_euler"}, Options: map[string]any{}, kfn: sampleEuler},
	{Name: "LMS", Aliases: []string{"k_lms"}, Options: map[string]any{}, kfn: sampleLMS},
	{Name: "Heun", Aliases: []string{"k_heun"}, Options: map[string]any{"second_order": true}, kfn: sampleHeun},
	{Name: "DPM2", Aliases: []string{"k_dpm_2"}, Options: map[string]any{"scheduler": "karras", "discard_next_to_last_sigma": true, "second_order": true}, kfn: sampleDPM2},
	{Name: "DPM2 a", Aliases: []string{"k_dpm_2_a"}, Options: map[string]any{"scheduler": "karras", "discard_next_to_last_sigma": true, "uses_ensd": true, "second_order": true}, kfn: sampleDPM2Ancestral},
	{Name: "DPM fast", Aliases: []string{"k_dpm_fast"}, Options: map[string]any{"uses_ensd": true}, rfn: sampleDPMFast},
	{Name: "DPM adaptive", Aliases: []string{"k_dpm_ad"}, Options: map[string]any{"uses_ensd": true}, rfn: sampleDPMAdaptive},
	{Name: "Restart", Aliases: []string{"restart"}, Options: map[string]any{"scheduler": "karras", "second_order": true}, kfn: sampleRestart},
	{Name: "DDIM", Aliases: []string{"ddim"}, Options: map[string]any{}, tfn: sampleDDIM},
	{Name: "DDIM CFG++", Aliases: []string{"ddim_cfgpp"}, Options: map[string]any{}, tfn: sampleDDIMCFGPP},
	{Name: "PLMS", Aliases: []string{"plms"}, Options: map[string]any{}, tfn: samplePLMS},
	{Name: "UniPC", Aliases: []string{"unipc"}, Options: map[string]any{}, tfn: sampleUniPC},
	{Name: "LCM", Aliases: []string{"k_lcm"}, Options: map[string]any{}, kfn: sampleLCM, lcm: true},
}

// Samplers returns the implemented samplers in A1111 1.10's order (as
// /sdapi/v1/samplers lists them). The slice is a copy; the entries are shared
// and must not be modified.
func Samplers() []*Sampler { return append([]*Sampler(nil), samplers...) }

// FindSampler looks a sampler up by exact, case-sensitive name, as A1111's
// all_samplers_map and find_sampler_config do (aliases are not keys there).
func FindSampler(name string) (*Sampler, bool) {
	for _, sm := range samplers {
		if sm.Name == name {
			return sm, true
		}
	}
	return nil, false
}

// LookupSampler finds a sampler by name or alias, case-insensitively, as
// A1111's sd_samplers.samplers_map does (used by the X/Y/Z script and
// infotext paste, not by the API's resolution).
func LookupSampler(nameOrAlias string) (*Sampler, bool) {
	key := strings.ToLower(nameOrAlias)
	for _, sm := range samplers {
		if strings.ToLower(sm.Name) == key {
			return sm, true
		}
		for _, a := range sm.Aliases {
			if strings.ToLower(a) == key {
				return sm, true
			}
		}
	}
	return nil, false
}

// ResolveSamplerScheduler is A1111 1.10's
// sd_samplers.get_sampler_and_scheduler(sampler_name, scheduler_name) with
// convert_automatic=True, as the API calls it:
//   - the scheduler is looked up by name or label (case-sensitive); unknown or
//     empty gives "Automatic";
//   - a trailing " <label|name|alias>" of any scheduler is cut off the sampler
//     name and selects that scheduler ("DPM++ 2M Karras" → "DPM++ 2M", Karras);
//   - the sampler is looked up by exact name (aliases such as "k_euler_a" are
//     NOT recognised here); unknown or empty gives samplers[0], "DPM++ 2M";
//   - a scheduler equal to the sampler's own default becomes "Automatic".
//
// It returns the sampler name and the scheduler label.
func ResolveSamplerScheduler(samplerName, schedulerName string) (string, string) {
	return resolve(samplerName, schedulerName, true)
}

// FixSamplerScheduler is the same resolution with convert_automatic=False, as
// processing's fix_p_invalid_sampler_and_scheduler applies it.
func FixSamplerScheduler(samplerName, schedulerName string) (string, string) {
	return resolve(samplerName, schedulerName, false)
}

func resolve(samplerName, schedulerName string, convertAutomatic bool) (string, string) {
	def := samplers[0]
	found, ok := FindScheduler(schedulerName)
	if !ok {
		found = schedulers[0]
	}
	name := samplerName
	if name == "" {
		name = def.Name
	}
	for _, sc := range schedulers {
		options := append([]string{sc.Label, sc.Name}, sc.Aliases...)
		for _, opt := range options {
			if strings.HasSuffix(name, " "+opt) {
				found = sc
				name = name[:len(name)-len(opt)-1]
				break
			}
		}
	}
	sm, ok := FindSampler(name)
	if !ok {
		sm = def
	}
	if convertAutomatic {
		if s, ok := sm.Options["scheduler"].(string); ok && s == found.Name {
			found = schedulers[0]
		}
	}
	return sm.Name, found.Label
}
