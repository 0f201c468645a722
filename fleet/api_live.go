package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"slices"

	"github.com/sdapi/sdapi/processing/queue"
	"github.com/sdapi/sdapi/server"
)

// TaskStatus implements server.Jobs: a task of this API is active once a
// worker started it, queued before; its place is among this API's waiting
// jobs.
func (a *API) TaskStatus(taskID string) queue.TaskInfo {
	var ti queue.TaskInfo
	if taskID == "" {
		return ti
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	waiting := 0
	for _, p := range a.order {
		if p.worker != "" {
			ti.Active = ti.Active || p.taskID == taskID
			continue
		}
		waiting++
		if p.taskID == taskID && !ti.Queued {
			ti.Queued, ti.QueuePosition = true, waiting
		}
	}
	if ti.Queued {
		ti.QueueLength = waiting
	}
	ti.Completed = slices.Contains(a.finished, taskID)
	if lt := a.local.TaskStatus(taskID); lt.Active || lt.Queued {
		return lt
	}
	return ti
}

// target is the job /progress reports and /interrupt and /skip reach, and
// its worker: the oldest job of this API that a worker runs, else (taskID
// "") any job a live worker runs. taskID selects that task's job instead.
func (a *API) target(ctx context.Context, taskID string) (job, worker string) {
	a.mu.Lock()
	for _, p := range a.order {
		if p.worker != "" && (taskID == "" || p.taskID == taskID) {
			a.mu.Unlock()
			return p.id, p.worker
		}
	}
	a.mu.Unlock()
	if taskID != "" {
		return "", ""
	}
	for _, hb := range a.heartbeats(ctx) {
		if hb.Job != "" {
			return hb.Job, hb.Worker
		}
	}
	return "", ""
}

// heartbeats are the live workers' last heartbeats, as the catalog
// follows them: the same view routes jobs and reports the fleet.
func (a *API) heartbeats(context.Context) []heartbeat { return a.cat.live() }

// Live implements server.Jobs: the state of the target job, asked of its
// worker; this process's own state when no worker runs one (idle, or a
// local extras job).
func (a *API) Live(ctx context.Context, taskID string, withImage bool) server.LiveState {
	local := func() server.LiveState {
		ls := server.LiveState{StateSnapshot: a.state.Snapshot()}
		if withImage {
			ls.Image, ls.ImageStep = a.state.CurrentImage()
		}
		return ls
	}
	job, worker := a.target(ctx, taskID)
	if worker == "" {
		return local()
	}
	var lm liveMsg
	if err := a.ask(ctx, worker, "state", stateRequest{Job: job, Image: withImage}, &lm); err != nil {
		a.log.Warn("fleet: worker state", "worker", worker, "err", err)
		return local()
	}
	ls := server.LiveState{StateSnapshot: lm.State, ImageStep: lm.ImageStep}
	if len(lm.ImagePNG) > 0 {
		if img, err := png.Decode(bytes.NewReader(lm.ImagePNG)); err == nil {
			ls.Image = img
		}
	}
	return ls
}

// Interrupt implements server.Jobs: it reaches the worker of the target
// job, or this process's state when none runs one (A1111 sets the flag
// even when idle).
func (a *API) Interrupt(ctx context.Context) { a.signal(ctx, "interrupt", a.state.Interrupt) }

// Skip implements server.Jobs, as Interrupt.
func (a *API) Skip(ctx context.Context) { a.signal(ctx, "skip", a.state.Skip) }

func (a *API) signal(ctx context.Context, what string, local func()) {
	job, worker := a.target(ctx, "")
	if worker == "" {
		local()
		return
	}
	if err := a.ask(ctx, worker, what, stateRequest{Job: job}, nil); err != nil {
		a.log.Warn("fleet: "+what, "worker", worker, "job", job, "err", err)
	}
}

// ask sends a request to a worker and decodes its answer into out (nil:
// none expected).
func (a *API) ask(ctx context.Context, worker, what string, req stateRequest, out any) error {
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	ctx, done := context.WithTimeout(ctx, requestTimeout)
	defer done()
	m, err := a.c.NC.RequestWithContext(ctx, workerSubject(worker, what), data)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(m.Data, out)
}
