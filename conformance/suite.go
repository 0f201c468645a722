package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/extensions/globals"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"
)

// Suite is one run of the conformance suite: the configuration it judges
// with and what the run has seen. Register builds its spec tree; the specs
// close over it, so nothing of a run lives in a package variable and a
// second run in the same process starts clean. Under `ginkgo -p` every
// process registers its own Suite and judges process 1's target; what the
// report needs travels in the Ginkgo report (ledger.go), and process 1
// writes the report files.
type Suite struct {
	cfg Config
	// tree is the spec the operation-driven checks are generated from
	// (before BeforeSuite has a target); treeErr is why it failed to load.
	tree    *Spec
	treeErr error

	// Set in BeforeSuite, in every process.
	profile Profile
	spec    *Spec
	client  *Client
	// flags is the target's /cmd-flags answer (nil when it has none).
	flags   map[string]any
	sampler string
	caps    map[string]capability
	long    *longJob
	// prober sends the capability probes: client, or a client for
	// Config.ProbeTarget.
	prober *Client

	// current is the running check (a process runs one at a time).
	current atomic.Pointer[specState]
	// rec collects what the running check sees until it is flushed into
	// the check's report (ledger.go).
	rec recorder
	// evidence numbers the evidence files of failures; evidenceTmp is the
	// folder they go to without Config.EvidenceDir.
	evidenceSeq     atomic.Int64
	evidenceImages  atomic.Int64
	evidenceTmpOnce sync.Once
	evidenceTmp     string
	progress        progressCount

	// report and seen are the whole run's report and merged ledger, set
	// by ReportAfterSuite (on process 1 under ginkgo -p).
	report *types.Report
	seen   *ledgerEntry
}

type capability struct {
	skip string // the check cannot run: why
	fail string // the probe broke the contract: why
}

// Register makes cfg's conformance suite Ginkgo's spec tree and returns
// it. It first empties Ginkgo's global tree (ginkgo's extensions/globals),
// so every call starts a fresh suite: call it, register its Fail as
// Gomega's fail handler, then RunSpecs. Run does all three.
func Register(cfg Config) *Suite {
	globals.Reset()
	cfg = withDefaults(cfg)
	s := &Suite{cfg: cfg, caps: map[string]capability{}}
	s.tree, s.treeErr = LoadSpec(context.Background(), cfg.SpecPath, "http://sdapi-conform.invalid")
	if p, err := cfg.profile(); err == nil {
		s.profile = p // BeforeSuite fails the run on an unknown profile
	} else {
		s.profile = Profiles["a1111"]
	}
	// Under ginkgo -p every process judges the target process 1 was
	// given (one server, one identity in the report); each builds its own
	// state from it.
	SynchronizedBeforeSuite(func(SpecContext) []byte { return []byte(s.cfg.Target) },
		func(ctx SpecContext, target []byte) {
			s.cfg.Target = string(target)
			s.beforeSuite(ctx)
		}, NodeTimeout(2*time.Minute))
	s.registerReports()
	// In file order, as the spec files registered themselves before.
	s.authSpecs()
	s.corsSpecs()
	s.coverageSpecs()
	s.effectsSpecs()
	s.errorSpecs()
	s.extrasSpecs()
	s.img2imgSpecs()
	s.img2imgInputSpecs()
	s.infotextSpecs()
	s.listingSpecs()
	s.optionSpecs()
	s.progressSpecs()
	s.requestSpecs()
	s.seedSpecs()
	s.sizeSpecs()
	s.txt2imgSpecs()
	s.upstreamSpecs()
	return s
}

// beforeSuite builds the run's state in each process.
func (suite *Suite) beforeSuite(ctx SpecContext) {
	defer suite.flush()
	cfg := suite.cfg
	Expect(cfg.Target).NotTo(BeEmpty(), "set the target: --target URL (sdapi-conform), SDAPI_TARGET or -target (go test)")
	p, err := cfg.profile()
	Expect(err).NotTo(HaveOccurred())
	spec, err := LoadSpec(ctx, cfg.SpecPath, cfg.Target)
	Expect(err).NotTo(HaveOccurred())
	// What is judged travels in the JSON report too, so a milestone record
	// made from report.json alone names its target (milestones reads
	// these entry names).
	for _, e := range [][2]string{{"target", cfg.Target}, {"identity", cfg.Identity}, {"profile", p.Name}, {"spec-source", spec.Source}, {"spec-sha256", spec.SHA256}} {
		if e[1] != "" {
			AddReportEntry(e[0], e[1], ReportEntryVisibilityNever)
		}
	}
	suite.profile, suite.spec = p, spec
	suite.client = NewClient(cfg, spec)
	suite.client.suite = suite
	suite.prober = suite.client
	if cfg.ProbeTarget != "" {
		pc := cfg
		pc.Target, pc.Observe = cfg.ProbeTarget, nil
		suite.prober = NewClient(pc, spec)
		suite.prober.suite, suite.prober.unrecorded = suite, true
	}

	ex := suite.client.Do(ctx, Request{Method: http.MethodGet, Path: APIPrefix + "/cmd-flags"})
	Expect(ex.Err).NotTo(HaveOccurred(), "the target %s does not answer: %v", cfg.Target, ex.Err)
	if ex.Status == http.StatusOK {
		_ = json.Unmarshal(ex.Body, &suite.flags) // identity only; FLAGS-001 judges the body
	}
	suite.sampler = suite.pickSampler(ctx)
}

// pickSampler prefers Euler, matched without regard to case against the
// listed names and aliases and sent as the server spells it (sd.cpp lists
// "euler"); otherwise the first listed sampler that is not a "default"
// placeholder.
func (suite *Suite) pickSampler(ctx context.Context) string {
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
func (suite *Suite) call(ctx context.Context, r Request) *Exchange {
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
func (suite *Suite) get(ctx context.Context, path string) *Exchange {
	return suite.call(ctx, Request{Method: http.MethodGet, Path: APIPrefix + path})
}

// post is call for a POST of body marshalled as JSON (nil sends no body).
func (suite *Suite) post(ctx context.Context, path string, body any) *Exchange {
	r := Request{Method: http.MethodPost, Path: APIPrefix + path}
	if body != nil {
		b, err := json.Marshal(body)
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
		r.Body = b
	}
	return suite.call(ctx, r)
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
func (suite *Suite) requireCapability(ctx context.Context, need string) {
	c, ok := suite.caps[need]
	if !ok {
		c = suite.probe(ctx, need)
		suite.caps[need] = c
	}
	if c.skip != "" {
		Skip(c.skip, 1)
	}
	if c.fail != "" {
		Fail(c.fail, 1)
	}
}

func (suite *Suite) probe(ctx context.Context, need string) capability {
	var path string
	var body any
	switch need {
	case "auth":
		if suite.cfg.User == "" {
			return capability{skip: "no credentials given: run with --user and --password against a target started with --api-auth"}
		}
		return capability{}
	case "txt2img":
		path, body = "/txt2img", suite.smallTxt2Img(nil)
	case "img2img":
		path, body = "/img2img", suite.smallImg2Img(nil)
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
