package conformance

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
)

// ProgressEvent tells Config.Progress where the run stands. Every check
// that runs gives two events: one with Started set when it begins, one
// when it has ended (State and RunTime set). Checks the label filter
// leaves out give none.
type ProgressEvent struct {
	// Done counts the checks that have ended, Total those that will run.
	Done, Total int
	// ID is the requirement the check judges ("" for a check outside the
	// catalogue); Text is the check's full name.
	ID, Text string
	// Started is set on the event that opens a check.
	Started bool
	// State, RunTime and Failure describe an ended check (Failure is the
	// failure or skip message, "" when it passed).
	State   types.SpecState
	RunTime time.Duration
	Failure string
}

// progressCount is the run's counter for Config.Progress (a process runs
// one check at a time).
type progressCount struct {
	total, done int
	running     bool
}

// registerReports registers the run's reporting nodes: the progress
// events and the report files.
func (suite *Suite) registerReports() {
	p := &suite.progress
	ReportBeforeSuite(func(r Report) {
		p.total, p.done, p.running = r.PreRunStats.SpecsThatWillRun, 0, false
	})
	ReportBeforeEach(func(r SpecReport) {
		// A check the label filter left out arrives already skipped.
		p.running = !r.State.Is(types.SpecStateSkipped | types.SpecStatePending)
		if !p.running || suite.cfg.Progress == nil {
			return
		}
		suite.cfg.Progress(ProgressEvent{Done: p.done, Total: p.total, ID: requirementOf(r),
			Text: r.FullText(), Started: true})
	})
	ReportAfterEach(func(r SpecReport) {
		if !p.running {
			return
		}
		p.running = false
		p.done++
		if suite.cfg.Progress == nil {
			return
		}
		suite.cfg.Progress(ProgressEvent{Done: p.done, Total: p.total, ID: requirementOf(r),
			Text: r.FullText(), State: r.State, RunTime: r.RunTime, Failure: r.Failure.Message})
	})
	ReportAfterSuite("sdapi-conform reports", suite.writeReports)
}
