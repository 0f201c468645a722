// Package queue runs jobs one at a time, in order of arrival, as A1111's
// queue_lock does for txt2img, img2img, extras, interrogate and the refresh
// routes: exclusivity is per job, not per denoising step.
//
// Unlike A1111's threading.Lock, the queue is bounded: a job that would have
// to wait behind capacity other waiting jobs is refused at once with
// ErrQueueFull (ollama's fail-fast admission). A waiting job whose context is
// done leaves the queue without running. /progress, /interrupt and /skip must
// not go through the queue; they read processing.State instead, and
// TaskStatus and Snapshot never wait for the running job.
//
// There is no worker goroutine. The job function runs on its caller's
// goroutine, and the right to run is handed from the finishing job to the
// oldest live waiter under one mutex, so the order is strict FIFO and the
// queue owns no goroutine that could leak. A panic or runtime.Goexit in a job
// function still hands the queue on.
package queue

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/sdapi/sdapi/internal/apierr"
)

// Queue serialises jobs. The zero value is not usable; call New.
type Queue struct {
	capacity int

	mu       sync.Mutex // guards everything below and every job's state and err
	closed   bool
	running  *job   // the job that holds the queue; nil only when waiting is empty
	waiting  []*job // in order of arrival; waiting[0] runs next
	finished []string
	stats    Stats // counters only; Running, RunningTask and Waiting are filled by Snapshot
}

// Stats is a snapshot of the queue for /metrics, /progress and tests. At any
// instant Accepted == Completed + Dropped + Waiting, plus one while a job is
// running.
type Stats struct {
	// Running is the name of the job that holds the queue, "" when idle
	// (give jobs non-empty names, or a running job looks idle here).
	Running string
	// RunningTask is that job's task id (A1111 1.10 /progress current_task),
	// "" when idle or when the job has none.
	RunningTask string
	// Waiting is the number of jobs waiting behind the running one.
	Waiting int

	Accepted  uint64 // jobs admitted (they ran, are running or waiting, or were dropped)
	Completed uint64 // jobs whose function ran and returned (or panicked)
	Failed    uint64 // the part of Completed that returned an error or panicked
	Dropped   uint64 // admitted jobs that never ran: context done while waiting, or Close
	Rejected  uint64 // jobs refused at submission with ErrQueueFull or ErrClosed
}

type jobState uint8

const (
	stateWaiting jobState = iota
	stateRunning
	stateDone // finished, or will never run (err says why)
)

type job struct {
	name   string
	task   string
	ctx    context.Context // the caller's context, plus Close's cancellation while running
	cancel context.CancelCauseFunc
	turn   chan struct{} // closed when the job leaves the waiting list: it runs, or err says why not
	done   chan struct{} // closed when the job no longer holds the queue

	state jobState // guarded by Queue.mu
	err   error    // guarded by Queue.mu; set before turn is closed when the job will not run
}

// New returns an open queue on which capacity jobs may wait besides the one
// running. A negative capacity counts as 0: a job is admitted only when the
// queue is idle.
func New(capacity int) *Queue {
	return &Queue{capacity: max(capacity, 0)}
}

// Do runs fn when every job admitted before it has left the queue, and
// returns fn's error. It is DoTask without a task id.
func (q *Queue) Do(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	return q.DoTask(ctx, "", name, fn)
}

// DoTask runs fn exclusively, after every job admitted before it, and returns
// fn's error. name labels the job in Snapshot and in errors; taskID, when not
// empty, makes the job visible to TaskStatus (A1111's force_task_id).
//
// DoTask returns at once, without running fn, an error wrapping ErrClosed
// after Close, or ErrQueueFull when capacity jobs are already waiting. While
// the job waits, ctx being done drops it: fn never runs and the error wraps
// ctx.Err() (and the cancellation cause, when one was given). A job still
// waiting when Close is called gets an error wrapping ErrClosed.
//
// Once fn runs, DoTask returns only after fn has returned. fn's context is
// cancelled when ctx is (the client went away) and when Close gives up
// waiting (cause ErrClosed); what to do then is fn's decision. A panic in fn
// is recovered and returned as a *PanicError wrapping ErrJobPanicked, and the
// next job runs. Calling Do from inside fn on the same queue deadlocks, as
// with any non-reentrant lock.
func (q *Queue) DoTask(ctx context.Context, taskID, name string, fn func(ctx context.Context) error) (err error) {
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	j := &job{
		name:   name,
		task:   taskID,
		ctx:    jctx,
		cancel: cancel,
		turn:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if err := q.admit(j); err != nil {
		return err
	}

	select {
	case <-j.turn:
	case <-jctx.Done():
		if q.leave(j) {
			return j.err
		}
		<-j.turn // it was handed the queue or refused meanwhile
	}
	if err := q.refusal(j); err != nil {
		return err
	}
	if jctx.Err() != nil { // handed the queue, but the client is gone already
		q.release(j, false, nil)
		return notRun(j)
	}

	err = errJobExited // kept if fn calls runtime.Goexit
	defer func() { q.release(j, true, err) }()
	err = call(jctx, name, fn)
	return err
}

// call runs fn, turning a panic into a *PanicError.
func call(ctx context.Context, name string, fn func(ctx context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Job: name, Value: v, Stack: debug.Stack()}
		}
	}()
	return fn(ctx)
}

// admit puts j in the queue: running at once when the queue is idle,
// waiting otherwise, or refused.
func (q *Queue) admit(j *job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed:
		q.stats.Rejected++
		return apierr.ShuttingDown("queue: job %q: queue closed", j.name)
	case q.running == nil: // nothing waits while nothing runs
		q.stats.Accepted++
		q.start(j)
	case len(q.waiting) >= q.capacity:
		q.stats.Rejected++
		return apierr.QueueFull("queue: job %q: queue full", j.name)
	default:
		q.stats.Accepted++
		j.state = stateWaiting
		q.waiting = append(q.waiting, j)
	}
	return nil
}

// leave removes j, whose context is done, from the waiting list. It reports
// false when j was no longer waiting.
func (q *Queue) leave(j *job) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if j.state != stateWaiting {
		return false
	}
	i := slices.Index(q.waiting, j)
	q.waiting = slices.Delete(q.waiting, i, i+1)
	q.drop(j, notRun(j))
	return true
}

// refusal returns why j, which has its turn, will not run, or nil.
func (q *Queue) refusal(j *job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return j.err
}

// start hands the queue to j. q.mu must be held.
func (q *Queue) start(j *job) {
	j.state = stateRunning
	q.running = j
	close(j.turn)
}

// drop ends j, which never ran, with err. q.mu must be held and j must be off
// the waiting list.
func (q *Queue) drop(j *job, err error) {
	j.state = stateDone
	j.err = err
	q.stats.Dropped++
	close(j.turn)
}

// release ends the running job j and hands the queue to the oldest waiter
// whose context is not done; waiters found with a done context are dropped
// (ollama's drop on dequeue). ran tells whether fn was called and err is its
// result.
func (q *Queue) release(j *job, ran bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.running = nil
	j.state = stateDone
	if ran {
		q.stats.Completed++
		if err != nil {
			q.stats.Failed++
		}
		q.recordFinished(j.task)
	} else {
		q.stats.Dropped++
	}
	close(j.done)

	for len(q.waiting) > 0 {
		next := q.waiting[0]
		q.waiting = slices.Delete(q.waiting, 0, 1)
		if next.ctx.Err() != nil {
			q.drop(next, notRun(next))
			continue
		}
		q.start(next)
		return
	}
}

// notRun is the error of a job dropped because its context is done.
func notRun(j *job) error {
	err := j.ctx.Err()
	if cause := context.Cause(j.ctx); cause != nil && cause != err {
		return fmt.Errorf("queue: job %q not run: %w: %w", j.name, err, cause)
	}
	return fmt.Errorf("queue: job %q not run: %w", j.name, err)
}

// Snapshot returns the queue's state and counters. It never waits for the
// running job.
func (q *Queue) Snapshot() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats
	if q.running != nil {
		s.Running = q.running.name
		s.RunningTask = q.running.task
	}
	s.Waiting = len(q.waiting)
	return s
}

// Close stops admitting jobs (later calls to Do return ErrClosed), ends every
// waiting job with ErrClosed, and waits for the running job to finish. If ctx
// is done first, Close cancels the running job's context with cause
// ErrClosed, still waits for its function to return, and then returns an
// error wrapping ctx.Err(). Close returns nil when the queue is idle or the
// running job finished in time. It may be called more than once.
//
// A job function that ignores its context keeps Close waiting.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		for _, w := range q.waiting {
			q.drop(w, apierr.ShuttingDown("queue: job %q not run: queue closed", w.name))
		}
		q.waiting = nil
	}
	r := q.running
	q.mu.Unlock()

	if r == nil {
		return nil
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		r.cancel(ErrClosed)
		<-r.done
		return fmt.Errorf("queue: running job %q cancelled on close: %w", r.name, ctx.Err())
	}
}
