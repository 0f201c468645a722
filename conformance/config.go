// Package conformance is sdapi-conform's Ginkgo suite: black-box checks that
// judge any server speaking A1111's /sdapi/v1 API against the sdapi contract
// (openapi/sdapi.yaml) and A1111 v1.10's documented behaviour.
//
// The specs live in ordinary files so that two entry points run the same
// suite: cmd/sdapi-conform calls RunSpecs from main(), and
// conformance_suite_test.go makes `go test ./conformance/...` (or
// `ginkgo -p`) run it against a reference server it starts itself. Both
// hand a Config to Register (Run does it for the CLI), which builds the
// spec tree of one run around it; nothing in this package reads the
// environment or keeps a run's state in a package variable.
package conformance

import "time"

// Config is what an entry point tells the suite.
type Config struct {
	// Target is the server's base URL, e.g. http://127.0.0.1:7860. Under
	// ginkgo -p the target given to process 1 is judged by every process.
	Target string
	// User and Password are sent as HTTP basic auth on every request when
	// set; the auth checks run only then.
	User, Password string
	// Profile names the server family (see Profiles); "a1111" by default.
	Profile string
	// OwnProfile, when set, is the profile instead (one LoadProfileFile
	// read); Profile is then its name.
	OwnProfile *Profile
	// SpecPath overrides the embedded OpenAPI document.
	SpecPath string
	// Timeout bounds one HTTP exchange.
	Timeout time.Duration
	// MarkdownReport, JUnitReport and JSONReport are written after the
	// suite when set; EvidenceDir receives the images and the bodies of
	// large requests that the curl lines refer to.
	MarkdownReport, JUnitReport, JSONReport, EvidenceDir string
	// Destructive lets the coverage sweep call the operations that stop
	// the server, unload its model or write files on it.
	Destructive bool
	// LabelFilter is recorded in the report (the entry point applies it).
	LabelFilter string
	// Identity is how the entry point describes the target beyond its URL
	// (for instance "reference server built from ./cmd/sdapi-server").
	Identity string
	// ProbeTarget, when set, receives the capability probes (one small
	// txt2img, img2img and extras request) instead of Target. A validating
	// proxy such as Prism sits at Target and mocks an answer whenever the
	// server behind it answers 501; the probes must see the server's own
	// answer to skip what it does not implement.
	ProbeTarget string
	// Observe, when set, is called with every exchange after it has been
	// validated (for instance to collect a proxy's sl-violations header).
	// Calls overlap only where a check sends requests concurrently.
	Observe func(*Exchange)
	// Progress, when set, receives the suite's progress: one call when a
	// check starts and one when it ends (see ProgressEvent).
	Progress func(ProgressEvent)
}

// DefaultConfig is a Config with the defaults an entry point starts from.
func DefaultConfig() Config { return Config{Profile: "a1111", Timeout: 2 * time.Minute} }

// profile is the run's profile: OwnProfile, or the built-in Profile.
func (cfg Config) profile() (Profile, error) {
	if cfg.OwnProfile != nil {
		return *cfg.OwnProfile, nil
	}
	return LookupProfile(cfg.Profile)
}

// withDefaults fills in the zero fields that have a default.
func withDefaults(cfg Config) Config {
	d := DefaultConfig()
	if cfg.OwnProfile != nil {
		cfg.Profile = cfg.OwnProfile.Name
	}
	if cfg.Profile == "" {
		cfg.Profile = d.Profile
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = d.Timeout
	}
	return cfg
}

// Small generation parameters keep the suite fast on CPU servers: 64×64
// images and 2–4 steps.
const (
	smallSize  = 64
	smallSteps = 3
)
