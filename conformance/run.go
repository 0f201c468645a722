package conformance

import (
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"
)

// RunOptions are the Ginkgo settings of Run.
type RunOptions struct {
	// LabelFilter selects checks, e.g. "listings || errors" or "!slow".
	LabelFilter string
	// Timeout bounds the whole run (default 30 minutes).
	Timeout time.Duration
	// DryRun lists the checks without running them.
	DryRun bool
	// Verbose makes Ginkgo print every check with its report entries.
	Verbose bool
	// NoColor turns off Ginkgo's colours.
	NoColor bool
}

// Result is what Run reports back.
type Result struct {
	Counts
	// OK is true when the suite passed (no failed check, no suite failure).
	OK bool
	// Report is Ginkgo's report of the run (nil when the suite did not run).
	Report *types.Report
	// Claims are the profile's claims as the run judged them, in order;
	// Routes what it saw of the routes the profile claims missing.
	Claims []ClaimResult
	Routes []RouteObservation
}

// Run runs the suite against cfg.Target from an ordinary program, outside
// `go test`: sdapi-conform and examples/txt2img use it. Each call is a
// fresh run (Register), serial and in this process, with Ginkgo's
// default settings plus opts; a program may call it again, one call after
// the other (Ginkgo has one spec tree per process, so never concurrently).
//
// Ginkgo's console reporter writes to the process's standard output
// (ginkgo/v2/formatter.ColorableStdOut; RunSpecs offers no writer of its
// own). A program that reports progress itself through Config.Progress
// owns that decision: sdapi-conform points the writer elsewhere in main.
func Run(cfg Config, opts RunOptions) Result {
	s := Register(cfg)
	sc, rc := types.NewDefaultSuiteConfig(), types.NewDefaultReporterConfig()
	sc.LabelFilter = opts.LabelFilter
	sc.DryRun = opts.DryRun
	sc.Timeout = 30 * time.Minute
	if opts.Timeout > 0 {
		sc.Timeout = opts.Timeout
	}
	rc.Verbose = opts.Verbose
	rc.NoColor = opts.NoColor
	gomega.RegisterFailHandler(s.Fail)
	t := &failT{}
	ok := ginkgo.RunSpecs(t, "sdapi conformance", sc, rc)
	res := Result{OK: ok && !t.failed, Report: s.report}
	if s.report != nil {
		res.Counts = CountSpecs(*s.report)
		res.Claims, res.Routes = s.Claims(), s.RouteObservations()
	}
	if res.Failed > 0 {
		res.OK = false
	}
	return res
}

// Report is Ginkgo's report of the suite's run, once it has ended (nil
// before, and on Ginkgo processes other than the first under ginkgo -p).
func (suite *Suite) Report() *types.Report { return suite.report }

// failT is the minimal GinkgoTestingT RunSpecs needs outside go test.
type failT struct{ failed bool }

func (t *failT) Fail() { t.failed = true }
