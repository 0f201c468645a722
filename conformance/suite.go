package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// suiteState is built once per run in BeforeSuite.
type suiteState struct {
	cfg     Config
	profile Profile
	spec    *Spec
	client  *Client
	started time.Time
	// flags is the target's /cmd-flags answer (nil when it has none);
	// version is info.version from its first generation.
	flags   map[string]any
	version string
	sampler string
	caps    map[string]capability
	long    *longJob
	// prober sends the capability probes: client, or a client for
	// Config.ProbeTarget.
	prober *Client
}

type capability struct {
	skip string // the check cannot run: why
	fail string // the probe broke the contract: why
}

var suite *suiteState

var _ = BeforeSuite(func(ctx SpecContext) {
	Expect(Cfg.Target).NotTo(BeEmpty(), "set the target: --target URL (sdapi-conform), SDAPI_TARGET or -target (go test)")
	p, err := LookupProfile(Cfg.Profile)
	Expect(err).NotTo(HaveOccurred())
	spec, err := LoadSpec(ctx, Cfg.SpecPath, Cfg.Target)
	Expect(err).NotTo(HaveOccurred())
	// What is judged travels in the JSON report too, so a milestone record
	// made from report.json alone names its target (milestones reads
	// these entry names).
	for _, e := range [][2]string{{"target", Cfg.Target}, {"identity", Cfg.Identity}, {"profile", p.Name}, {"spec-source", spec.Source}, {"spec-sha256", spec.SHA256}} {
		if e[1] != "" {
			AddReportEntry(e[0], e[1], ReportEntryVisibilityNever)
		}
	}
	s := &suiteState{cfg: Cfg, profile: p, spec: spec, started: time.Now(), caps: map[string]capability{}}
	s.client = NewClient(Cfg, spec)
	s.prober = s.client
	if Cfg.ProbeTarget != "" {
		pc := Cfg
		pc.Target, pc.Observe = Cfg.ProbeTarget, nil
		s.prober = NewClient(pc, spec)
		s.prober.unrecorded = true
	}
	suite = s
	theLedger = newLedger()
	resetClaims()

	ex := s.client.Do(ctx, Request{Method: http.MethodGet, Path: APIPrefix + "/cmd-flags"})
	Expect(ex.Err).NotTo(HaveOccurred(), "the target %s does not answer: %v", Cfg.Target, ex.Err)
	if ex.Status == http.StatusOK {
		_ = json.Unmarshal(ex.Body, &s.flags) // identity only; FLAGS-001 judges the body
	}
	s.sampler = pickSampler(ctx)
}, NodeTimeout(2*time.Minute))

// pickSampler prefers Euler, matched without regard to case against the
// listed names and aliases and sent as the server spells it (sd.cpp lists
// "euler"); otherwise the first listed sampler that is not a "default"
// placeholder.
func pickSampler(ctx context.Context) string {
	ex := suite.client.Do(ctx, Request{Method: http.MethodGet, Path: APIPrefix + "/samplers"})
	var list []listedSampler
	if ex.Status != http.StatusOK || json.Unmarshal(ex.Body, &list) != nil || len(list) == 0 {
		return "Euler"
	}
	return chooseSampler(list)
}

// chooseSampler is pickSampler's choice from a non-empty list.
func chooseSampler(list []listedSampler) string {
	for _, s := range list {
		if s.names("Euler") {
			return s.Name
		}
	}
	for _, s := range list {
		if !strings.EqualFold(s.Name, "default") {
			return s.Name
		}
	}
	return list[0].Name
}

// call sends r and fails the spec on a transport error or a response
// that breaks the spec.
func call(ctx context.Context, r Request) *Exchange {
	ex := suite.client.Do(ctx, r)
	ExpectWithOffset(1, ex.Err).NotTo(HaveOccurred(), "%s %s", r.Method, r.Path)
	skipIfSubstituted(ex)
	ExpectWithOffset(1, ex.Violation).To(BeEmpty(), "expected a response matching the contract (openapi/sdapi.yaml), got one that breaks it: %s\n%s", firstLine(ex.Violation), ex.Describe())
	return ex
}

// skipIfSubstituted skips the running check when ex's answer did not come
// from the server (see Exchange.Substituted).
func skipIfSubstituted(ex *Exchange) {
	if ex.Substituted != "" {
		Skip(fmt.Sprintf("%s %s: %s", ex.Req.Method, ex.Req.Path, ex.Substituted), 2)
	}
}

// get is call for a GET of an API path (without /sdapi/v1).
func get(ctx context.Context, path string) *Exchange {
	return call(ctx, Request{Method: http.MethodGet, Path: APIPrefix + path})
}

// post is call for a POST of body marshalled as JSON (nil sends no body).
func post(ctx context.Context, path string, body any) *Exchange {
	r := Request{Method: http.MethodPost, Path: APIPrefix + path}
	if body != nil {
		b, err := json.Marshal(body)
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
		r.Body = b
	}
	return call(ctx, r)
}

// expectStatus fails unless ex answered code.
func expectStatus(ex *Exchange, code int) {
	ExpectWithOffset(1, ex.Status).To(Equal(code), "expected %d %s from %s %s, got %s\n%s", code, http.StatusText(code), ex.Req.Method, ex.Req.Path, ex.Seen(), ex.Describe())
}

// decode unmarshals ex's body into a T, failing the spec otherwise.
func decode[T any](ex *Exchange) T {
	var v T
	ExpectWithOffset(1, json.Unmarshal(ex.Body, &v)).To(Succeed(), "expected a JSON body of type %T from %s %s, got %s\n%s", v, ex.Req.Method, ex.Req.Path, ex.Seen(), ex.Describe())
	return v
}

// requireCapability skips the running spec when the target cannot do
// need, probing it once per run with a small valid request.
func requireCapability(ctx context.Context, need string) {
	c, ok := suite.caps[need]
	if !ok {
		c = probe(ctx, need)
		suite.caps[need] = c
	}
	if c.skip != "" {
		Skip(c.skip, 1)
	}
	if c.fail != "" {
		Fail(c.fail, 1)
	}
}

func probe(ctx context.Context, need string) capability {
	var path string
	var body any
	switch need {
	case "auth":
		if suite.cfg.User == "" {
			return capability{skip: "no credentials given: run with --user and --password against a target started with --api-auth"}
		}
		return capability{}
	case "txt2img":
		path, body = "/txt2img", smallTxt2Img(nil)
	case "img2img":
		path, body = "/img2img", smallImg2Img(nil)
	case "extras":
		path, body = "/extra-single-image", map[string]any{"image": pngBase64(testImage(32, 32, 1)), "upscaling_resize": 1, "upscaler_1": "None"}
	default:
		panic("conformance: unknown capability " + need)
	}
	b, _ := json.Marshal(body)
	ex := suite.prober.Do(ctx, Request{Method: http.MethodPost, Path: APIPrefix + path, Body: b})
	switch {
	case ex.Err != nil:
		return capability{fail: fmt.Sprintf("probing %s: %v", need, ex.Err)}
	case ex.Status >= 200 && ex.Status < 300:
		return capability{}
	case ex.Status == http.StatusNotImplemented:
		return capability{skip: fmt.Sprintf("skipped: the target answered 501 Not Implemented for %s", need)}
	case missingStatus(ex.Status):
		// Only a profile's claim makes a missing route a skip.
		if why, ok := suite.profile.routeMissing(http.MethodPost, APIPrefix+path); ok {
			return capability{skip: fmt.Sprintf("%s on profile %s: POST %s answered %d (%s)", RouteMissingConfirmed, suite.profile.Name, APIPrefix+path, ex.Status, why)}
		}
	}
	return capability{fail: fmt.Sprintf("a small valid %s request failed:\n%s\n\nReproduce with:\n  %s", need, ex.Describe(), ex.Curl())}
}
