// Package runnertest is the fake runner the tests of server, processing
// and processing/scripts share: a runner.Runner that paints deterministic
// images from the request, records every call for the tests that spy on
// what processing asked for, and lets a test replace its behaviour. It
// stands in for the device only; everything above it runs for real.
package runnertest

import (
	"context"
	"sync"

	"github.com/sdapi/sdapi/runner"
)

// Painter makes the result of one batch from its request.
type Painter func(req runner.Request) runner.Result

// GenerateFunc replaces a Runner's behaviour; call counts Generate calls
// from 0.
type GenerateFunc func(ctx context.Context, call int, req runner.Request) (runner.Result, error)

// Runner is the fake. Set its fields before it runs; the zero value paints
// SeedPattern and reports no steps.
type Runner struct {
	// Paint makes each image; nil is SeedPattern.
	Paint Painter
	// ReportSteps calls the request's OnStep once per step before
	// painting, as a sampler does.
	ReportSteps bool
	// Info is what Model returns.
	Info runner.ModelInfo
	// GenerateFn, when set, replaces painting. Tests change it only while
	// no Generate runs.
	GenerateFn GenerateFunc

	mu      sync.Mutex
	calls   []runner.Request
	opened  [][2]string
	openErr map[string]error
}

var _ runner.Runner = (*Runner)(nil)

// Generate records req, then runs GenerateFn or paints.
func (r *Runner) Generate(ctx context.Context, req runner.Request) (runner.Result, error) {
	r.mu.Lock()
	call := len(r.calls)
	r.calls = append(r.calls, req)
	fn := r.GenerateFn
	r.mu.Unlock()
	if fn != nil {
		return fn(ctx, call, req)
	}
	if r.ReportSteps && req.OnStep != nil {
		for s := 1; s <= req.Steps; s++ {
			req.OnStep(runner.Progress{Step: s, Steps: req.Steps})
		}
	}
	paint := r.Paint
	if paint == nil {
		paint = SeedPattern
	}
	return paint(req), nil
}

// Model returns Info.
func (r *Runner) Model() runner.ModelInfo { return r.Info }

// Close does nothing: the fake holds no device.
func (r *Runner) Close() error { return nil }

// Calls returns the requests Generate got so far, in order.
func (r *Runner) Calls() []runner.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]runner.Request(nil), r.calls...)
}

// Open is a model loader (processing.OpenFunc) that returns r: it records
// the checkpoint and VAE directories and fails as FailOpen said.
func (r *Runner) Open(_ context.Context, dir, vaeDir string) (runner.Runner, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opened = append(r.opened, [2]string{dir, vaeDir})
	if err := r.openErr[dir]; err != nil {
		return nil, err
	}
	return r, nil
}

// FailOpen makes Open of the checkpoint in dir fail with err.
func (r *Runner) FailOpen(dir string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.openErr == nil {
		r.openErr = map[string]error{}
	}
	r.openErr[dir] = err
}

// Opened returns the (checkpoint, VAE) directory pairs Open got so far.
func (r *Runner) Opened() [][2]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][2]string(nil), r.opened...)
}

// Models is a model source (processing.ModelProvider) that serves R for
// every checkpoint and records what was asked for.
type Models struct {
	R *Runner
	// Known are the checkpoint names HasCheckpoint accepts.
	Known map[string]bool

	mu     sync.Mutex
	loaded []string
}

// Runner records "checkpoint|vae" and returns R.
func (m *Models) Runner(_ context.Context, checkpoint, vae string) (runner.Runner, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loaded = append(m.loaded, checkpoint+"|"+vae)
	return m.R, nil
}

// HasCheckpoint reports whether name is in Known.
func (m *Models) HasCheckpoint(name string) bool { return m.Known[name] }

// VAEHash knows no VAE.
func (m *Models) VAEHash(string) string { return "" }

// Loaded returns the "checkpoint|vae" pairs Runner was asked for.
func (m *Models) Loaded() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.loaded...)
}
