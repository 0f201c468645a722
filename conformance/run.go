package conformance

import (
	"io"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/formatter"
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
	// Quiet silences Ginkgo's own console output (dots, failure blocks,
	// summary); use it with Config.Progress or when only the result counts.
	Quiet bool
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
}

// Run runs the suite against cfg.Target from an ordinary program, outside
// `go test`: sdapi-conform and examples/txt2img use it. Ginkgo runs a suite
// once per process, so call Run once.
func Run(cfg Config, opts RunOptions) Result {
	Cfg = cfg
	sc, rc := ginkgo.GinkgoConfiguration()
	sc.LabelFilter = opts.LabelFilter
	sc.DryRun = opts.DryRun
	sc.Timeout = 30 * time.Minute
	if opts.Timeout > 0 {
		sc.Timeout = opts.Timeout
	}
	rc.Verbose = opts.Verbose
	rc.NoColor = opts.NoColor
	if opts.Quiet {
		saved := formatter.ColorableStdOut
		formatter.ColorableStdOut = io.Discard
		defer func() { formatter.ColorableStdOut = saved }()
	}
	gomega.RegisterFailHandler(FailHandler)
	t := &failT{}
	ok := ginkgo.RunSpecs(t, "sdapi conformance", sc, rc)
	res := Result{OK: ok && !t.failed, Report: LastReport}
	if LastReport != nil {
		res.Counts = CountSpecs(*LastReport)
	}
	if res.Failed > 0 {
		res.OK = false
	}
	return res
}

// failT is the minimal GinkgoTestingT RunSpecs needs outside go test.
type failT struct{ failed bool }

func (t *failT) Fail() { t.failed = true }
