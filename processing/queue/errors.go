package queue

import (
	"errors"
	"fmt"

	"github.com/sdapi/sdapi/internal/apierr"
)

var (
	// ErrQueueFull is the kind (apierr.KindQueueFull) of the error
	// returned at once, without waiting, when the queue already holds its
	// capacity of waiting jobs. The server answers it with 503.
	ErrQueueFull error = apierr.KindQueueFull

	// ErrClosed is the kind (apierr.KindShuttingDown) of the error returned
	// for jobs submitted after Close and for jobs that were still waiting
	// when Close was called. It is also the cancellation cause
	// (context.Cause) of a running job that Close had to cancel.
	ErrClosed error = apierr.KindShuttingDown

	// ErrJobPanicked is wrapped by the error Do returns when the job panicked;
	// the error is a *PanicError carrying the value and the stack.
	ErrJobPanicked = errors.New("job panicked")

	// errJobExited is the error of a job whose function called
	// runtime.Goexit (t.FailNow in a test, for instance). Do never returns it
	// because its goroutine is gone, but the statistics count the job as
	// failed.
	errJobExited = errors.New("job exited without returning")
)

// PanicError reports a job function that panicked. It matches
// ErrJobPanicked with errors.Is, and also the panic value when that value is
// an error.
type PanicError struct {
	Job   string // the job's name
	Value any    // the value passed to panic
	Stack []byte // the panicking goroutine's stack, for the log
}

var _ interface{ Unwrap() []error } = (*PanicError)(nil)

// Error describes the panic without the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("queue: job %q panicked: %v", e.Job, e.Value)
}

// Unwrap returns ErrJobPanicked and, when the panic value is an error, that
// error.
func (e *PanicError) Unwrap() []error {
	if err, ok := e.Value.(error); ok {
		return []error{ErrJobPanicked, err}
	}
	return []error{ErrJobPanicked}
}
