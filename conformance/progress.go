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

// progress is the run's counter; the suite runs serially.
var progress struct {
	total, done int
	running     bool
}

var _ = ReportBeforeSuite(func(r Report) {
	progress.total, progress.done, progress.running = r.PreRunStats.SpecsThatWillRun, 0, false
})

var _ = ReportBeforeEach(func(r SpecReport) {
	// A check the label filter left out arrives already skipped.
	progress.running = !r.State.Is(types.SpecStateSkipped | types.SpecStatePending)
	if !progress.running || Cfg.Progress == nil {
		return
	}
	Cfg.Progress(ProgressEvent{Done: progress.done, Total: progress.total, ID: requirementOf(r),
		Text: r.FullText(), Started: true})
})

var _ = ReportAfterEach(func(r SpecReport) {
	if !progress.running {
		return
	}
	progress.running = false
	progress.done++
	if Cfg.Progress == nil {
		return
	}
	Cfg.Progress(ProgressEvent{Done: progress.done, Total: progress.total, ID: requirementOf(r),
		Text: r.FullText(), State: r.State, RunTime: r.RunTime, Failure: r.Failure.Message})
})
