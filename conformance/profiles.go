package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/sdapi/sdapi/gen"
)

// Profile describes a server family as a set of claims the harness checks
// rather than believes: a check a claim covers still runs, and only a claim
// whose symptom was observed turns the check into a skip (claims.go).
type Profile struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// NotApplicable maps a requirement ID or a label to a claim that the
	// check does not apply to this server (a feature it lacks).
	NotApplicable map[string]Claim `json:"not_applicable,omitempty"`
	// Divergences maps a requirement ID to a documented divergence from
	// A1111 v1.10.
	Divergences map[string]Claim `json:"divergences,omitempty"`
	// MissingRoutes maps a route, "METHOD /path" as the contract names it
	// (GET /options may exist while POST /options does not), to why the
	// server lacks it. Its symptom is fixed: that route answers 404 or 405.
	MissingRoutes map[string]string `json:"missing_routes,omitempty"`
	// PixelTolerance is the largest per-channel difference (0–255) two
	// runs of the same seed may show; 0 demands bit-exact output.
	PixelTolerance int `json:"pixel_tolerance"`
}

// Claim is one documented difference: why the server differs, and the
// symptoms (any one suffices) a failing check must show for the claim to
// count as observed.
type Claim struct {
	Why      string    `json:"why"`
	Symptoms []Symptom `json:"symptoms"`
}

// Symptom is what the harness expects to see when a claim holds. Every
// field that is set must match: Status the status of the exchange the
// check failed on, Body a regular expression on that exchange's body,
// Message a regular expression on the failure message.
type Symptom struct {
	Status  int    `json:"status,omitempty"`
	Body    string `json:"body,omitempty"`
	Message string `json:"message,omitempty"`
}

func (s Symptom) String() string {
	var parts []string
	if s.Status != 0 {
		parts = append(parts, fmt.Sprintf("answers %d", s.Status))
	}
	if s.Body != "" {
		parts = append(parts, fmt.Sprintf("body matches `%s`", s.Body))
	}
	if s.Message != "" {
		parts = append(parts, fmt.Sprintf("failure matches `%s`", s.Message))
	}
	return strings.Join(parts, ", ")
}

// Expected renders the claim's symptoms for people.
func (c Claim) Expected() string {
	var parts []string
	for _, s := range c.Symptoms {
		parts = append(parts, s.String())
	}
	return strings.Join(parts, "; or ")
}

// claim builds a Claim.
func claim(why string, symptoms ...Symptom) Claim { return Claim{Why: why, Symptoms: symptoms} }

// notApplicable returns the not-applicable claim covering r and the key it
// is filed under (r's ID or one of its labels), or ok false.
func (p Profile) notApplicable(r Requirement) (Claim, string, bool) {
	if c, ok := p.NotApplicable[r.ID]; ok {
		return c, r.ID, true
	}
	for _, l := range r.Labels {
		if c, ok := p.NotApplicable[l]; ok {
			return c, l, true
		}
	}
	return Claim{}, "", false
}

// routeMissing reports whether the profile claims method path is missing,
// and why. path is the contract's path (with /sdapi/v1).
func (p Profile) routeMissing(method, path string) (string, bool) {
	why, ok := p.MissingRoutes[routeKey(method, path)]
	return why, ok
}

func routeKey(method, path string) string {
	path, _, _ = strings.Cut(path, "?")
	return strings.ToUpper(method) + " " + path
}

// Symptoms shared by several claims.
var (
	// sd.cpp answers a route it does not serve (or a method it does not
	// serve on a route it has) with httplib's bare 404: no body.
	sdcppBare404 = Symptom{Status: 404, Body: `^$`}
	// n_iter is never read: batch_size 2 × n_iter 2 gives two images and
	// two seeds ("len:2" in Gomega's rendering, "got 2" in a sentence).
	sdcppNIter = Symptom{Message: `len:2\b|got 2\b`}
	// std::to_string prints floats with six decimals.
	sdcppCFG = Symptom{Body: `CFG scale: \d+\.\d{6},`, Message: `CFG scale`}
	// Forge comments out api_middleware: FastAPI's default error body.
	forgeDetailOnly = Symptom{Body: `^\{"detail":("[^"]*"|\{[^{}]*\}|\[.*\])\}$`}
	forgeServerErr  = Symptom{Status: 500, Body: `^Internal Server Error$`}
	// koboldcpp answers info "" (not a JSON string) and parameters {}.
	koboldNoInfo   = Symptom{Body: `"info":\s*""`}
	koboldOneImage = Symptom{Message: `len:1\b|got 1\b`}
)

const forgeErrors = "Forge comments out api_middleware: error bodies are FastAPI defaults {detail}, not A1111's {error, detail, body, errors}"

// Profiles are the server families the notes document (sdapi-contract §12);
// the sdcpp claims were checked against stable-diffusion.cpp 97d2990
// (examples/server/routes_sdapi.cpp, examples/common/common.cpp, main.cpp).
var Profiles = map[string]Profile{
	"a1111": {
		Name:           "a1111",
		Description:    "AUTOMATIC1111 stable-diffusion-webui v1.10 (the contract's reference behaviour)",
		PixelTolerance: 8,
	},
	"a1111-1.9": {
		Name:           "a1111-1.9",
		Description:    "AUTOMATIC1111 v1.9",
		PixelTolerance: 8,
		Divergences: map[string]Claim{
			"TXT2IMG-006": claim("A1111 ≤1.9 answers 404 'Sampler not found' for sampler names it does not know (1.10 falls back to the first sampler)",
				Symptom{Status: 404, Body: `Sampler not found`}),
		},
	},
	"forge": {
		Name:           "forge",
		Description:    "lllyasviel/stable-diffusion-webui-forge (A1111 1.10 API on Gradio 4 / pydantic v2)",
		PixelTolerance: 8,
		MissingRoutes: map[string]string{
			"GET /sdapi/v1/sd-vae":              "Forge replaces /sd-vae with /sd-modules",
			"POST /sdapi/v1/train/embedding":    "Forge has no train/* routes",
			"POST /sdapi/v1/train/hypernetwork": "Forge has no train/* routes",
		},
		Divergences: map[string]Claim{
			"ERR-008":  claim(forgeErrors, forgeDetailOnly),
			"OPT-003":  claim(forgeErrors+"; the KeyError of an unknown option escapes as Starlette's plain 500", forgeServerErr, forgeDetailOnly),
			"HDR-001":  claim("Forge has no api_middleware, so no X-Process-Time header", Symptom{Message: `X-Process-Time`}),
			"LIST-002": claim("Forge's get_embeddings uses sd_hijack, which it does not import (NameError → 500)", forgeServerErr),
			"OPT-004":  claim("Forge ignores some override_settings (Forge#1610)", Symptom{Message: `Clip skip`}),
		},
	},
	"sdnext": {
		Name:           "sdnext",
		Description:    "vladmandic/sdnext (its own API models)",
		PixelTolerance: 8,
		MissingRoutes: map[string]string{
			"GET /sdapi/v1/latent-upscale-modes": "SD.Next does not serve it",
			"GET /sdapi/v1/realesrgan-models":    "SD.Next does not serve it",
			"GET /sdapi/v1/schedulers":           "SD.Next (at the documented commit) does not serve it",
			"POST /sdapi/v1/server-kill":         "SD.Next does not serve server-*",
			"POST /sdapi/v1/server-restart":      "SD.Next does not serve server-*",
			"POST /sdapi/v1/server-stop":         "SD.Next does not serve server-*",
		},
		Divergences: map[string]Claim{
			"ERR-008": claim("SD.Next's png-info raises KeyError (500) instead of A1111's 'Invalid encoded image' error body", Symptom{Status: 500}),
			"PNG-001": claim("SD.Next's png-info raises KeyError (500) on a PNG without parameters (Auto-Photoshop#445)", Symptom{Status: 500}),
			"PNG-002": claim("SD.Next parses infotext with its own code", Symptom{Message: `parameters differ from parse_generation_parameters`}),
		},
		NotApplicable: map[string]Claim{
			"AUTH-001": claim("SD.Next applies --auth to the API only with --api-only (and answers 401 'Unauthorized')", Symptom{Status: 200}),
			"AUTH-002": claim("SD.Next applies --auth to the API only with --api-only (and answers 401 'Unauthorized')", Symptom{Status: 200}),
		},
	},
	"koboldcpp": {
		Name:           "koboldcpp",
		Description:    "LostRuins/koboldcpp's A1111 emulation (hand-written http.server branches)",
		PixelTolerance: 8,
		MissingRoutes: missingExcept("GET /sdapi/v1/sd-models", "GET /sdapi/v1/options", "GET /sdapi/v1/samplers",
			"GET /sdapi/v1/latent-upscale-modes", "GET /sdapi/v1/upscalers", "POST /sdapi/v1/txt2img",
			"POST /sdapi/v1/img2img", "POST /sdapi/v1/interrogate"),
		NotApplicable: map[string]Claim{
			"AUTH-001":    claim("koboldcpp has no basic auth on the emulated API: a request without credentials is served", Symptom{Status: 200}),
			"AUTH-002":    claim("koboldcpp has no basic auth on the emulated API: a wrong password is served", Symptom{Status: 200}),
			LInfotext:     claim("koboldcpp answers info \"\" and writes no infotext", koboldNoInfo),
			LNegative:     claim("koboldcpp does not validate request bodies (a non-JSON body gives 500)", Symptom{Status: 200}, Symptom{Status: 500}),
			"OPT-004":     claim("koboldcpp has no override_settings (and answers info \"\")", koboldNoInfo),
			"TXT2IMG-004": claim("koboldcpp answers parameters {}", Symptom{Body: `"parameters":\s*\{\}`}),
			"TXT2IMG-005": claim("koboldcpp answers info \"\"", koboldNoInfo),
			"TXT2IMG-007": claim("koboldcpp returns exactly one image (batch_size and n_iter ignored)", koboldOneImage),
			"TXT2IMG-008": claim("koboldcpp ignores send_images", Symptom{Message: `to be empty|no images`}),
			"SEED-003":    claim("koboldcpp answers info \"\", so the resolved seed is not reported", koboldNoInfo),
			"SEED-004":    claim("koboldcpp answers info \"\"", koboldNoInfo),
			"SEED-005":    claim("koboldcpp returns exactly one image", koboldOneImage),
			"SEED-006":    claim("koboldcpp has no subseed variation (and answers info \"\")", koboldNoInfo),
			"IMG2IMG-003": claim("koboldcpp does not answer A1111's 404 for a missing init image", Symptom{Status: 200}, Symptom{Status: 500}),
			"HDR-001":     claim("koboldcpp has no api_middleware", Symptom{Message: `X-Process-Time`}),
		},
		Divergences: map[string]Claim{
			"ERR-001":      claim("koboldcpp matches paths with endswith and answers its own 404 body", Symptom{Status: 404}),
			"ERR-002":      claim("koboldcpp answers an unserved method with its own body", Symptom{Status: 404}, Symptom{Status: 405}),
			"TXT2IMG-001":  claim("koboldcpp answers parameters {} and info \"\" (not a JSON string)", koboldNoInfo),
			"IMG2IMG-001":  claim("koboldcpp uses only init_images[0], ignores batch_size and (at the documented commit) the mask", koboldOneImage),
			"UPSTREAM-001": claim("koboldcpp returns exactly one image and ignores restore_faces and tiling", Symptom{Message: `(?i)tiling|images|face`}),
			"UPSTREAM-002": claim("koboldcpp has no scripts: script_name \"sd upscale\" is ignored", Symptom{Message: `sd upscale`}),
		},
	},
	"sdcpp": {
		Name:           "sdcpp",
		Description:    "leejet/stable-diffusion.cpp sd-server at 97d2990 (examples/server/routes_sdapi.cpp)",
		PixelTolerance: 8,
		MissingRoutes: missingExcept("POST /sdapi/v1/txt2img", "POST /sdapi/v1/img2img", "GET /sdapi/v1/loras",
			"GET /sdapi/v1/upscalers", "GET /sdapi/v1/latent-upscale-modes", "GET /sdapi/v1/samplers",
			"GET /sdapi/v1/schedulers", "GET /sdapi/v1/sd-models", "GET /sdapi/v1/options"),
		NotApplicable: map[string]Claim{
			"AUTH-001": claim("sd-server has no basic auth: a request without credentials is served", Symptom{Status: 200}),
			"AUTH-002": claim("sd-server has no basic auth: a wrong password is served", Symptom{Status: 200}),
			"OPT-002":  claim("sd-server has no POST /options; its GET /options carries only samples_format and sd_model_checkpoint", Symptom{Message: `send_seed`}),
			"OPT-004":  claim("sd-server never reads override_settings", Symptom{Message: `Clip skip`}),
			"SEED-006": claim("sd-server has no subseed variation: batch image i gets seed+i", Symptom{Body: `all_seeds\\":\[900,901\]`}),
		},
		Divergences: map[string]Claim{
			"ERR-001": claim("httplib answers an unknown path 404 with an empty body", sdcppBare404),
			"ERR-002": claim("httplib answers an unserved method 404 (never 405) with an empty body", sdcppBare404),
			"ERR-003": claim("json::parse throws: malformed JSON answers 500 with the raw [json.exception.parse_error…] text",
				Symptom{Status: 500, Body: `json\.exception\.parse_error`}),
			"ERR-004": claim("a wrong type answers 500 with the raw [json.exception.type_error…] text; fields sd-server never reads are not checked at all",
				Symptom{Status: 500, Body: `json\.exception\.type_error`}, Symptom{Status: 200}),
			"ERR-005": claim("only a non-positive width or height is refused (400 {\"error\"}); other out-of-range values are used or ignored",
				Symptom{Status: 400, Body: `width and height must be positive`}, Symptom{Status: 200}),
			"ERR-006": claim("an empty body answers 400 {\"error\":\"empty body\"}; a body that is not an object answers 500 [json.exception…]",
				Symptom{Status: 400, Body: `empty body`}, Symptom{Status: 500, Body: `json\.exception`}),
			"HDR-001":      claim("sd-server has no api_middleware, so no X-Process-Time header", Symptom{Message: `X-Process-Time`}),
			"TXT2IMG-003":  claim("the infotext prints CFG scale with std::to_string (\"5.500000\")", sdcppCFG),
			"TXT2IMG-005":  claim("info carries a subset of Processed.js()'s keys (no subseed, batch_size, index_of_first_image, job_timestamp)", Symptom{Message: `subseed|batch_size|index_of_first_image|job_timestamp`}),
			"TXT2IMG-006":  claim("\"scheduler\": null makes j.value throw: 500 \"type must be string, but is null\"", Symptom{Status: 500, Body: `type must be string, but is null`}),
			"TXT2IMG-007":  claim("sd-server never reads n_iter (batch_count = batch_size)", sdcppNIter),
			"TXT2IMG-009":  claim("an empty or missing prompt answers 400 {\"error\":\"prompt required\"}", Symptom{Status: 400, Body: `prompt required`}),
			"TXT2IMG-011":  claim("batch_size is clamped to 1..8 and n_iter never read", Symptom{Message: `got 8\b`}, sdcppNIter),
			"IMG2IMG-005":  claim("init images or a mask that do not decode are dropped: the request answers 200 with a generated image", Symptom{Status: 200}),
			"ERR-010":      claim("a string where a number is expected answers 500 with the raw [json.exception.type_error…] text", Symptom{Status: 500, Body: `json\.exception\.type_error`}),
			"CORS-001":     claim("main.cpp reflects any Origin with Access-Control-Allow-Credentials: true", Symptom{Message: `reflected with Access-Control-Allow-Credentials: true`}),
			"TXT2IMG-008":  claim("sd-server never reads send_images", Symptom{Message: `to be empty|no images`}),
			"SEED-004":     claim("sd-server never reads n_iter, so batch_size 2 × n_iter 2 gives two seeds", sdcppNIter),
			"SEED-005":     claim("sd-server never reads n_iter, so batch_size 2 × n_iter 2 gives two images", sdcppNIter),
			"INFO-001":     claim("the infotext prints CFG scale with std::to_string (\"6.500000\")", sdcppCFG),
			"IMG2IMG-003":  claim("an img2img request without usable init images answers 200 with a generated image", Symptom{Status: 200}),
			"UPSTREAM-001": claim("sd-server ignores tiling, n_iter and restore_faces; it reads sampler_name, not sampler_index, and without one its infotext says \"Sampler: NONE\"", Symptom{Message: `(?i)tiling|n_iter|face`}),
			"UPSTREAM-002": claim("sd-server has no scripts: script_name \"sd upscale\" is ignored", Symptom{Message: `sd upscale`}),
		},
	},
	"reference": {
		Name:           "reference",
		Description:    "the sdapi reference server (cmd/sdapi-server): A1111 v1.10's contract, bit-exact on CPU",
		PixelTolerance: 0,
	},
}

// missingExcept claims every route of the contract missing except the
// given ones.
func missingExcept(present ...string) map[string]string {
	out := map[string]string{}
	for _, r := range contractRoutes {
		if !slices.Contains(present, r) {
			out[r] = "not among the routes this server emulates"
		}
	}
	return out
}

// contractRoutes are the routes of the embedded contract, "METHOD /path",
// /internal/* included, sorted by path then method.
var contractRoutes = func() []string {
	raw, err := gen.GetSpecJSON()
	if err != nil {
		panic("conformance: the embedded spec: " + err.Error())
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		panic("conformance: the embedded spec: " + err.Error())
	}
	type route struct{ method, path string }
	var rs []route
	for path, ops := range doc.Paths {
		for m := range ops {
			switch m {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				rs = append(rs, route{strings.ToUpper(m), path})
			}
		}
	}
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].path != rs[j].path {
			return rs[i].path < rs[j].path
		}
		return rs[i].method < rs[j].method
	})
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.method + " " + r.path
	}
	return out
}()

// LoadProfileFile reads a profile a server's author writes for their own
// server (the JSON form of Profile); a run uses it through
// Config.OwnProfile (Profiles holds the built-in ones only). Its claims
// must name known requirements, labels and routes, and every claim must
// carry a symptom with valid patterns.
func LoadProfileFile(path string) (Profile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Profile{}, err
	}
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Profile{}, fmt.Errorf("profile %s: %w", path, err)
	}
	if p.Name == "" {
		return Profile{}, fmt.Errorf("profile %s: no name", path)
	}
	if err := p.Validate(); err != nil {
		return Profile{}, fmt.Errorf("profile %s: %w", path, err)
	}
	return p, nil
}

// Validate checks that every claim names a known requirement (or label,
// for not-applicable claims) or route and carries a usable symptom.
func (p Profile) Validate() error {
	var errs []error
	check := func(what string, c Claim) {
		if c.Why == "" {
			errs = append(errs, fmt.Errorf("%s: no why", what))
		}
		if len(c.Symptoms) == 0 {
			errs = append(errs, fmt.Errorf("%s: no expected symptom", what))
		}
		for i, s := range c.Symptoms {
			if s.Status == 0 && s.Body == "" && s.Message == "" {
				errs = append(errs, fmt.Errorf("%s: symptom %d is empty", what, i))
			}
			for _, pat := range []string{s.Body, s.Message} {
				if _, err := regexp.Compile(pat); err != nil {
					errs = append(errs, fmt.Errorf("%s: symptom %d: %w", what, i, err))
				}
			}
		}
	}
	for k, c := range p.Divergences {
		if _, ok := requirementIndex[k]; !ok {
			errs = append(errs, fmt.Errorf("divergence for unknown requirement %s", k))
		}
		check("divergence "+k, c)
	}
	for k, c := range p.NotApplicable {
		if _, ok := requirementIndex[k]; !ok && !slices.Contains(Vocabulary, k) {
			errs = append(errs, fmt.Errorf("not-applicable key %q is neither a requirement nor a label", k))
		}
		check("not applicable "+k, c)
	}
	for r := range p.MissingRoutes {
		if !slices.Contains(contractRoutes, r) {
			errs = append(errs, fmt.Errorf("missing route %q is not a route of the contract (\"METHOD /path\")", r))
		}
	}
	return errors.Join(errs...)
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

// symptomRE compiles a symptom's pattern (patterns are checked by a test).
func symptomRE(pattern string) *regexp.Regexp { return regexp.MustCompile(pattern) }
