// Package processing is A1111's ProcessImages: it turns generation
// parameters into jobs for a runner, and keeps the shared job state that
// /progress, /interrupt and /skip read and write.
package processing

import (
	"image"
	"sync"
	"time"
)

// State is A1111's shared.state: what the current job is doing. Progress,
// interrupt and skip use it without taking the job lock, so every field is
// guarded by mu rather than by the queue.
type State struct {
	now func() time.Time

	mu                 sync.Mutex // guards everything below
	skipped            bool
	interrupted        bool
	stoppingGeneration bool
	job                string
	jobCount           int
	jobTimestamp       string
	jobNo              int
	samplingStep       int
	samplingSteps      int
	timeStart          time.Time
	textinfo           *string
	currentImage       image.Image
	currentImageStep   int
	// cancelBatch, when set, stops the batch running now; Interrupt and
	// Skip call it so the runner stops within one step.
	cancelBatch func()
}

// StateSnapshot is a copy of State at one instant, with A1111's field names
// (state.dict()) plus what /progress derives from them.
type StateSnapshot struct {
	Skipped            bool
	Interrupted        bool
	StoppingGeneration bool
	Job                string
	JobCount           int
	JobTimestamp       string
	JobNo              int
	SamplingStep       int
	SamplingSteps      int
	Textinfo           *string

	// Progress is 0..1 and EtaRelative the estimated seconds left, both
	// computed as A1111's progressapi does; 0 and 0 when idle.
	Progress    float64
	EtaRelative float64
	// Done is the fraction of the job done, without progressapi's 0.01
	// head start (modules/progress.py's), and Elapsed the seconds since
	// the job began; 0 when idle.
	Done    float64
	Elapsed float64
}

// NewState returns the idle state. now is the clock; nil means time.Now.
func NewState(now func() time.Time) *State {
	if now == nil {
		now = time.Now
	}
	return &State{now: now, jobTimestamp: "0"}
}

// Interrupt asks the running job to stop. As in A1111 the flag is set even
// when idle, and the next Begin clears it.
func (s *State) Interrupt() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.interrupted = true
	if s.cancelBatch != nil {
		s.cancelBatch()
	}
}

// Skip asks the running job to skip the current image (A1111 state.skip()).
func (s *State) Skip() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skipped = true
	if s.cancelBatch != nil {
		s.cancelBatch()
	}
}

// Interrupted reports whether Interrupt was called since the last Begin.
func (s *State) Interrupted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.interrupted
}

// TakeSkip reports whether Skip was called and clears the flag, so that one
// skip request skips one image.
func (s *State) TakeSkip() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.skipped
	s.skipped = false
	return v
}

// Begin starts a job of jobCount batches (A1111 state.begin()).
func (s *State) Begin(job string, jobCount int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.skipped, s.interrupted, s.stoppingGeneration = false, false, false
	s.job = job
	s.jobCount = jobCount
	s.jobNo = 0
	s.jobTimestamp = now.Format("20060102150405")
	s.samplingStep, s.samplingSteps = 0, 0
	s.timeStart = now
	s.textinfo = nil
	s.currentImage, s.currentImageStep = nil, 0
}

// NextBatch moves to batch n (0-based) with the given number of steps.
func (s *State) NextBatch(n, steps int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobNo = n
	s.samplingStep = 0
	s.samplingSteps = steps
}

// Step records the sampling step just finished.
func (s *State) Step(step int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samplingStep = step
}

// SetTextinfo sets the free-text status shown by /progress.
func (s *State) SetTextinfo(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.textinfo = &text
}

// End returns to idle (A1111 state.end()): job cleared, counts zeroed.
func (s *State) End() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.job = ""
	s.jobCount = 0
	s.jobNo = 0
	s.samplingStep, s.samplingSteps = 0, 0
}

// Snapshot returns the state with progress and ETA computed as A1111's
// progressapi does.
func (s *State) Snapshot() StateSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := StateSnapshot{
		Skipped:            s.skipped,
		Interrupted:        s.interrupted,
		StoppingGeneration: s.stoppingGeneration,
		Job:                s.job,
		JobCount:           s.jobCount,
		JobTimestamp:       s.jobTimestamp,
		JobNo:              s.jobNo,
		SamplingStep:       s.samplingStep,
		SamplingSteps:      s.samplingSteps,
	}
	if s.textinfo != nil {
		t := *s.textinfo
		snap.Textinfo = &t
	}
	if s.jobCount == 0 {
		return snap
	}
	done := float64(s.jobNo) / float64(s.jobCount)
	if s.samplingSteps > 0 {
		done += 1 / float64(s.jobCount) * float64(s.samplingStep) / float64(s.samplingSteps)
	}
	// A1111 starts at 0.01 so the ETA division never divides by zero.
	progress := 0.01 + done
	elapsed := s.now().Sub(s.timeStart).Seconds()
	snap.EtaRelative = elapsed/progress - elapsed
	snap.Progress = min(progress, 1)
	snap.Done, snap.Elapsed = min(done, 1), elapsed
	return snap
}

// Skipped reports whether Skip was called, without clearing the flag.
func (s *State) Skipped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.skipped
}

// SetCurrentImage stores the live preview /progress reports as
// current_image (A1111 state.assign_current_image), with the sampling step
// it was taken at.
func (s *State) SetCurrentImage(img image.Image, step int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.currentImage, s.currentImageStep = img, step
}

// CurrentImage returns the latest preview and its step; nil when there is
// none since the last Begin.
func (s *State) CurrentImage() (image.Image, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.currentImage, s.currentImageStep
}

// watchBatch registers cancel as the way to stop the running batch; the
// returned function unregisters it. A skip or interrupt already requested
// cancels at once.
func (s *State) watchBatch(cancel func()) (unwatch func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancelBatch = cancel
	if s.interrupted || s.skipped {
		cancel()
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.cancelBatch = nil
	}
}
