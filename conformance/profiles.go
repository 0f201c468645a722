package conformance

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Profile describes a server family: which checks apply to it and which
// documented divergences from A1111 v1.10 to expect. A check that does not
// apply is skipped with the reason; a check with a documented divergence
// runs, and a failure is reported as that divergence (skipped, never
// passed). Sources: ../shared/notes/sdapi-contract.md §12.
type Profile struct {
	Name        string
	Description string
	// NotApplicable maps a requirement ID or a label to why the check does
	// not apply.
	NotApplicable map[string]string
	// Divergences maps a requirement ID to the documented divergence.
	Divergences map[string]string
	// MissingRoutes maps a path (without /sdapi/v1) the server does not
	// serve to the reason; the coverage sweep reports them as missing.
	MissingRoutes map[string]string
	// PixelTolerance is the largest per-channel difference (0–255) two
	// runs of the same seed may show; 0 demands bit-exact output.
	PixelTolerance int
}

// notApplicable reports why r does not apply, or "".
func (p Profile) notApplicable(r Requirement) string {
	if why := p.NotApplicable[r.ID]; why != "" {
		return why
	}
	for _, l := range r.Labels {
		if why := p.NotApplicable[l]; why != "" {
			return why
		}
	}
	return ""
}

const (
	forgeErrors  = "Forge comments out api_middleware: error bodies are FastAPI defaults {detail}, no A1111 {error,detail,body,errors} shape"
	koboldSubset = "koboldcpp serves only sd-models, options (GET, 2 keys), samplers, latent-upscale-modes, upscalers, txt2img, img2img and interrogate"
	sdcppSubset  = "sd-server serves only txt2img, img2img, loras, upscalers, latent-upscale-modes, samplers, schedulers, sd-models and GET options"
)

// Profiles are the server families the notes document.
var Profiles = map[string]Profile{
	"a1111": {
		Name:           "a1111",
		Description:    "AUTOMATIC1111 stable-diffusion-webui v1.10 (the contract's reference behaviour)",
		PixelTolerance: 8,
		NotApplicable:  map[string]string{},
	},
	"a1111-1.9": {
		Name:           "a1111-1.9",
		Description:    "AUTOMATIC1111 v1.9",
		PixelTolerance: 8,
		Divergences: map[string]string{
			"TXT2IMG-006": "A1111 ≤1.9 answers 404 'Sampler not found' for sampler names it does not know (1.10 falls back to the first sampler)",
		},
		NotApplicable: map[string]string{},
	},
	"forge": {
		Name:           "forge",
		Description:    "lllyasviel/stable-diffusion-webui-forge (A1111 1.10 API on Gradio 4 / pydantic v2)",
		PixelTolerance: 8,
		MissingRoutes: map[string]string{
			"/sd-vae":             "Forge replaces /sd-vae with /sd-modules",
			"/train/embedding":    "Forge has no train/* routes",
			"/train/hypernetwork": "Forge has no train/* routes",
		},
		Divergences: map[string]string{
			"ERR-008":  forgeErrors,
			"OPT-003":  forgeErrors,
			"HDR-001":  "Forge has no api_middleware, so no X-Process-Time header",
			"LIST-001": "Forge answers /sd-vae with 404 (replaced by /sd-modules)",
			"LIST-002": "Forge's get_embeddings uses sd_hijack, which it does not import (500)",
			"OPT-004":  "Forge ignores some override_settings (Forge#1610)",
			"AUTH-001": forgeErrors,
			"AUTH-002": forgeErrors,
		},
		NotApplicable: map[string]string{},
	},
	"sdnext": {
		Name:           "sdnext",
		Description:    "vladmandic/sdnext (its own API models)",
		PixelTolerance: 8,
		MissingRoutes: map[string]string{
			"/latent-upscale-modes": "SD.Next does not serve it",
			"/realesrgan-models":    "SD.Next does not serve it",
			"/schedulers":           "SD.Next (at the documented commit) does not serve it",
			"/server-kill":          "SD.Next does not serve server-*",
			"/server-restart":       "SD.Next does not serve server-*",
			"/server-stop":          "SD.Next does not serve server-*",
		},
		Divergences: map[string]string{
			"LIST-001": "SD.Next lacks /latent-upscale-modes, /realesrgan-models and /schedulers",
			"ERR-008":  "SD.Next's error body adds a code key and its png-info raises KeyError 500 without parameters",
			"PNG-001":  "SD.Next's png-info raises KeyError (500) on a PNG without parameters (Auto-Photoshop#445)",
			"PNG-002":  "SD.Next parses infotext with its own code",
		},
		NotApplicable: map[string]string{
			LAuth: "SD.Next applies --auth to the API only with --api-only, and answers 401 'Unauthorized'",
		},
	},
	"koboldcpp": {
		Name:           "koboldcpp",
		Description:    "LostRuins/koboldcpp's A1111 emulation (hand-written http.server branches)",
		PixelTolerance: 8,
		MissingRoutes:  missingExcept("/sd-models", "/options", "/samplers", "/latent-upscale-modes", "/upscalers", "/txt2img", "/img2img", "/interrogate"),
		NotApplicable: map[string]string{
			LProgress:     "koboldcpp has no /progress",
			LInterrupt:    "koboldcpp has no /interrupt or /skip",
			LPNGInfo:      "koboldcpp has no /png-info",
			LExtras:       "koboldcpp has no /extra-* routes",
			LAuth:         "koboldcpp has no basic auth on the emulated API",
			LInfotext:     "koboldcpp answers info \"\" and writes no infotext",
			LNegative:     "koboldcpp does not validate request bodies",
			"OPT-002":     "koboldcpp has no POST /options",
			"OPT-003":     "koboldcpp has no POST /options",
			"OPT-004":     "koboldcpp has no override_settings",
			"TXT2IMG-004": "koboldcpp answers parameters {}",
			"TXT2IMG-005": "koboldcpp answers info \"\"",
			"TXT2IMG-007": "koboldcpp returns exactly one image (batch_size and n_iter ignored)",
			"TXT2IMG-008": "koboldcpp ignores send_images",
			"SEED-003":    "koboldcpp answers info \"\", so the resolved seed is not reported",
			"SEED-004":    "koboldcpp answers info \"\"",
			"SEED-005":    "koboldcpp returns exactly one image",
			"SEED-006":    "koboldcpp has no subseed variation",
			"IMG2IMG-003": "koboldcpp does not answer A1111's 404",
			"HDR-001":     "koboldcpp has no api_middleware",
		},
		Divergences: map[string]string{
			"ERR-001":      "koboldcpp matches paths with endswith and answers its own bodies",
			"ERR-002":      "koboldcpp answers its own bodies",
			"ERR-007":      "koboldcpp has no png-info",
			"ERR-008":      "koboldcpp returns a failed generation as 200 with images [\"\"]",
			"OPT-001":      "koboldcpp answers only {samples_format, sd_model_checkpoint}",
			"FLAGS-001":    "koboldcpp has no /cmd-flags",
			"LIST-001":     koboldSubset,
			"LIST-002":     koboldSubset,
			"LIST-003":     koboldSubset,
			"TXT2IMG-001":  "koboldcpp answers parameters {} and info \"\" (not JSON)",
			"TXT2IMG-002":  "koboldcpp rounds width/height down to multiples of 64 and clamps the longest side",
			"IMG2IMG-001":  "koboldcpp uses only init_images[0] and (at the documented commit) no mask",
			"UPSTREAM-001": "koboldcpp returns exactly one image and ignores restore_faces and tiling",
			"UPSTREAM-002": "koboldcpp has no scripts: script_name \"sd upscale\" is ignored",
		},
	},
	"sdcpp": {
		Name:           "sdcpp",
		Description:    "leejet/stable-diffusion.cpp sd-server (routes_sdapi.cpp)",
		PixelTolerance: 8,
		MissingRoutes:  missingExcept("/txt2img", "/img2img", "/loras", "/upscalers", "/latent-upscale-modes", "/samplers", "/schedulers", "/sd-models", "/options"),
		NotApplicable: map[string]string{
			LProgress:     "sd-server has no /progress",
			LInterrupt:    "sd-server has no /interrupt or /skip",
			LPNGInfo:      "sd-server has no /png-info",
			LExtras:       "sd-server has no /extra-* routes",
			LAuth:         "sd-server has no basic auth",
			LNegative:     "sd-server answers 400 {\"error\"} rather than FastAPI's 422",
			"OPT-002":     "sd-server has no POST /options",
			"OPT-003":     "sd-server has no POST /options",
			"OPT-004":     "sd-server has no override_settings",
			"SEED-006":    "sd-server has no subseed variation",
			"TXT2IMG-008": "sd-server ignores send_images",
			"HDR-001":     "sd-server has no api_middleware",
			"INFO-002":    "sd-server's PNG metadata is its own",
			"INFO-003":    "sd-server has no /png-info",
		},
		Divergences: map[string]string{
			"ERR-001":      "sd-server answers its own 404 body",
			"ERR-002":      "sd-server answers its own 405 body",
			"ERR-008":      "sd-server errors are {\"error\": ...}",
			"OPT-001":      "sd-server answers only {samples_format, sd_model_checkpoint}",
			"FLAGS-001":    "sd-server has no /cmd-flags",
			"LIST-001":     sdcppSubset,
			"LIST-002":     sdcppSubset,
			"LIST-003":     sdcppSubset,
			"TXT2IMG-005":  "sd-server's info carries a subset of the keys",
			"TXT2IMG-006":  "sd-server answers 400 {\"error\":\"prompt required\"} to an empty prompt",
			"TXT2IMG-007":  "sd-server treats batch_size as batch_count",
			"IMG2IMG-003":  "sd-server answers 400 {\"error\"}",
			"INFO-001":     "sd-server writes its own infotext",
			"UPSTREAM-001": "sd-server treats batch_size as batch_count, reads sampler_name (not sampler_index) and ignores restore_faces",
			"UPSTREAM-002": "sd-server has no scripts: script_name \"sd upscale\" is ignored",
		},
	},
	"reference": {
		Name:           "reference",
		Description:    "the sdapi reference server (cmd/sdapi-server): A1111 v1.10's contract, bit-exact on CPU",
		PixelTolerance: 0,
		NotApplicable:  map[string]string{},
	},
}

// missingExcept lists every route of the contract except the given ones.
func missingExcept(present ...string) map[string]string {
	out := map[string]string{}
	for _, p := range allContractPaths {
		if !slices.Contains(present, p) {
			out[p] = "not among the routes this server emulates"
		}
	}
	return out
}

// allContractPaths is the route table of sdapi-contract §3 (without /sdapi/v1).
var allContractPaths = []string{
	"/txt2img", "/img2img", "/extra-single-image", "/extra-batch-images", "/png-info", "/progress",
	"/interrogate", "/interrupt", "/skip", "/options", "/cmd-flags", "/samplers", "/schedulers",
	"/upscalers", "/latent-upscale-modes", "/sd-models", "/sd-vae", "/hypernetworks", "/face-restorers",
	"/realesrgan-models", "/prompt-styles", "/embeddings", "/refresh-embeddings", "/refresh-checkpoints",
	"/refresh-vae", "/create/embedding", "/create/hypernetwork", "/train/embedding", "/train/hypernetwork",
	"/memory", "/unload-checkpoint", "/reload-checkpoint", "/scripts", "/script-info", "/extensions",
	"/loras", "/refresh-loras", "/server-kill", "/server-restart", "/server-stop",
}

// ProfileNames lists the profiles, sorted.
func ProfileNames() []string {
	var out []string
	for n := range Profiles {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// LookupProfile returns the named profile.
func LookupProfile(name string) (Profile, error) {
	p, ok := Profiles[name]
	if !ok {
		return Profile{}, fmt.Errorf("unknown profile %q (known: %s)", name, strings.Join(ProfileNames(), ", "))
	}
	return p, nil
}

// activeProfile is the profile of the current run (a1111 until the suite
// has started).
func activeProfile() Profile {
	if suite != nil {
		return suite.profile
	}
	return Profiles["a1111"]
}
