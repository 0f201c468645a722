package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/options"
	"github.com/sdapi/sdapi/processing/queue"
	"github.com/sdapi/sdapi/server"
)

// finishedKept is how many finished task ids TaskStatus remembers, as
// A1111's modules/progress.py keeps 16.
const finishedKept = 16

// API is the server.Jobs of an API process: generation jobs go to the
// fleet's workers; a job without a WorkRequest (extras) runs in this
// process's own queue.
type API struct {
	c     *Conn
	id    string
	opts  *options.Store // the shared sd_model_checkpoint
	cat   *Catalog       // which checkpoints the live workers have
	local *queue.Queue
	state *processing.State // this process's: idle unless a local job runs
	log   *slog.Logger
	subs  []*nats.Subscription

	inflight   sync.WaitGroup // Run calls waiting for a worker's answer
	duplicates atomic.Uint64  // results dropped: their job was answered

	mu       sync.Mutex
	closed   bool
	pending  map[string]*pendingJob // by job id
	order    []*pendingJob          // in order of submission
	finished []string               // task ids of the last jobs answered
}

var _ server.Jobs = (*API)(nil)

// pendingJob is a job this API published and waits for.
type pendingJob struct {
	id, taskID string
	seq        uint64       // its stream sequence, to delete it when the client goes
	worker     string       // the worker running it, "" while it waits
	result     chan *result // buffered 1: the first result wins
}

type result struct {
	out *server.WorkOutput
	err error
}

// NewAPI subscribes to the answers of this API's jobs. local runs the jobs
// that stay here and state is their live state; a generation job goes to
// the workers of cat that have its checkpoint, resolved with opts.
func NewAPI(c *Conn, local *queue.Queue, state *processing.State, opts *options.Store, cat *Catalog, log *slog.Logger) (*API, error) {
	a := &API{c: c, id: nuid.Next(), local: local, state: state, opts: opts, cat: cat, log: log, pending: map[string]*pendingJob{}}
	for subj, h := range map[string]nats.MsgHandler{
		resultSubject(a.id):  a.onResult,
		startedSubject(a.id): a.onStarted,
		maxDeliveriesSubject: a.onMaxDeliveries,
	} {
		sub, err := c.NC.Subscribe(subj, h)
		if err != nil {
			a.unsubscribe()
			return nil, fmt.Errorf("subscribe %s: %w", subj, err)
		}
		a.subs = append(a.subs, sub)
	}
	return a, nil
}

// Close refuses new jobs (queue.ErrClosed) and waits for the jobs in
// flight to be answered. When ctx is done first, they answer ErrClosed and
// are taken off the fleet. Then it stops taking answers.
func (a *API) Close(ctx context.Context) error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	idle := make(chan struct{})
	go func() { a.inflight.Wait(); close(idle) }()
	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		a.mu.Lock()
		for id, p := range a.pending {
			delete(a.pending, id) // its answer, if one comes, is dropped
			p.result <- &result{err: queue.ErrClosed}
		}
		a.mu.Unlock()
		<-idle
		err = fmt.Errorf("fleet: jobs in flight cancelled on close: %w", ctx.Err())
	}
	a.unsubscribe()
	return err
}

func (a *API) unsubscribe() {
	for _, s := range a.subs {
		_ = s.Unsubscribe()
	}
}

// Run implements server.Jobs.
func (a *API) Run(ctx context.Context, w *server.Work) error {
	if w.Request == nil {
		return a.local.DoTask(ctx, w.TaskID, w.Kind, w.Local)
	}
	key, checkpoint, err := a.route(w)
	if err != nil {
		return err
	}
	p := &pendingJob{id: nuid.Next(), taskID: w.TaskID, result: make(chan *result, 1)}
	msg := jobMsg{ID: p.id, API: a.id, TaskID: w.TaskID, Request: *w.Request}
	msg.Request.Checkpoint = checkpoint
	if len(msg.Request.Body) > a.c.inlineLimit() {
		name := "in-" + p.id
		if _, err := a.c.blobs.PutBytes(ctx, name, msg.Request.Body); err != nil {
			return fmt.Errorf("fleet: job %q: store body: %w", w.Kind, err)
		}
		defer func() { _ = a.c.blobs.Delete(context.WithoutCancel(ctx), name) }()
		msg.Request.Body, msg.BodyBlob = nil, name
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	// Registered before it is published: the answer may come at once.
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return apierr.ShuttingDown("fleet: job %q: the API is closing", w.Kind)
	}
	a.inflight.Add(1)
	defer a.inflight.Done()
	a.pending[p.id] = p
	a.order = append(a.order, p)
	a.mu.Unlock()
	ack, err := a.c.JS.Publish(ctx, jobsSubject+"."+key, data, jetstream.WithMsgID(p.id))
	if err != nil {
		a.forget(p, false)
		if isStreamFull(err) {
			return apierr.QueueFull("fleet: job %q: the job stream is full", w.Kind)
		}
		return fmt.Errorf("fleet: job %q: publish: %w", w.Kind, err)
	}
	a.mu.Lock()
	p.seq = ack.Sequence
	a.mu.Unlock()
	if err := a.c.NC.Publish(ringSubject+"."+key, nil); err != nil {
		a.log.Warn("fleet: ring", "err", err) // workers poll anyway
	}

	select {
	case r := <-p.result:
		if errors.Is(r.err, queue.ErrClosed) || errors.Is(r.err, errNoWorkerFinished) {
			a.forget(p, false)
			a.cancel(p)
			return fmt.Errorf("fleet: job %q not finished: %w", w.Kind, r.err)
		}
		a.forget(p, true)
		if r.err != nil {
			return r.err
		}
		w.Output = r.out
		return nil
	case <-ctx.Done():
		a.forget(p, false)
		a.cancel(p)
		return fmt.Errorf("fleet: job %q not run: %w", w.Kind, ctx.Err())
	}
}

// route is the model key of the subject w goes to, and the title of the
// checkpoint it runs on: its checkpoint's, as
// processing resolves it (JobCheckpoint) over the live workers' catalogs,
// or anyKey for extras. A checkpoint no live worker has is never chosen:
// as in A1111, an override naming none is dropped and the shared option's
// model, else the first listed, runs; with no checkpoint on any live
// worker the job fails as A1111's with none installed.
func (a *API) route(w *server.Work) (key, checkpoint string, err error) {
	if w.Request.Kind != processing.Txt2Img.String() && w.Request.Kind != processing.Img2Img.String() {
		return anyKey, "", nil
	}
	ck, err := processing.JobCheckpoint(a.cat, a.opts.String("sd_model_checkpoint"), w.Overrides)
	if err != nil {
		return "", "", fmt.Errorf("fleet: job %q: %w", w.Kind, err)
	}
	return modelKey(ck), ck.Title, nil
}

// isStreamFull reports a publish refused by the stream's limits (discard
// new): the fleet's queue is full.
func isStreamFull(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && strings.Contains(apiErr.Description, "maximum messages exceeded")
}

// cancel takes a job whose client went away off the stream, so no worker
// starts it (or restarts it), and stops it on the worker running it.
func (a *API) cancel(p *pendingJob) {
	ctx, done := context.WithTimeout(context.Background(), requestTimeout)
	defer done()
	if err := a.c.stream.DeleteMsg(ctx, p.seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		a.log.Warn("fleet: delete cancelled job", "job", p.id, "err", err)
	}
	if err := a.c.NC.Publish(cancelSubject(p.id), nil); err != nil {
		a.log.Warn("fleet: cancel job", "job", p.id, "err", err)
	}
}

// forget removes p from the pending jobs; answered records its task id as
// finished.
func (a *API) forget(p *pendingJob, answered bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.pending, p.id)
	if i := slices.Index(a.order, p); i >= 0 {
		a.order = slices.Delete(a.order, i, i+1)
	}
	if answered && p.taskID != "" {
		if len(a.finished) == finishedKept {
			a.finished = slices.Delete(a.finished, 0, 1)
		}
		a.finished = append(a.finished, p.taskID)
	}
}

// onResult hands a job's first result to its waiting Run; a second one
// (the job was redelivered and finished twice) is dropped.
func (a *API) onResult(m *nats.Msg) {
	var rm resultMsg
	if err := json.Unmarshal(m.Data, &rm); err != nil {
		a.log.Warn("fleet: bad result message", "err", err)
		return
	}
	a.mu.Lock()
	p := a.pending[rm.Job]
	if p != nil {
		delete(a.pending, rm.Job) // later results of the job are duplicates
	}
	a.mu.Unlock()
	if p == nil {
		a.duplicates.Add(1) // or the client went away meanwhile
		if rm.Blob != "" {
			go func() { _ = a.c.blobs.Delete(context.Background(), rm.Blob) }()
		}
		return
	}
	if rm.Blob == "" {
		p.result <- &result{out: rm.Output}
		return
	}
	// Read off the subscription's goroutine: the blob may be large.
	go func() {
		ctx, done := context.WithTimeout(context.Background(), time.Minute)
		defer done()
		r := &result{}
		if err := a.c.takeBlob(ctx, rm.Blob, &r.out); err != nil {
			r.err = fmt.Errorf("fleet: job %s: read result: %w", rm.Job, err)
		}
		p.result <- r
	}()
}

// onMaxDeliveries fails a job of this API that no worker finished in
// maxDeliveries deliveries; Run takes it off the stream.
func (a *API) onMaxDeliveries(m *nats.Msg) {
	var adv struct {
		StreamSeq  uint64 `json:"stream_seq"`
		Deliveries uint64 `json:"deliveries"`
	}
	if err := json.Unmarshal(m.Data, &adv); err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range a.order {
		if p.seq == adv.StreamSeq && a.pending[p.id] == p {
			delete(a.pending, p.id)
			p.result <- &result{err: fmt.Errorf("fleet: job %s: %w after %d deliveries", p.id, errNoWorkerFinished, adv.Deliveries)}
		}
	}
}

// errNoWorkerFinished is the error of a job every worker it was handed to
// stopped without answering (it crashed them, or they kept giving it back).
var errNoWorkerFinished = errors.New("no worker finished the job")

// onStarted records which worker runs a job.
func (a *API) onStarted(m *nats.Msg) {
	var sm startedMsg
	if err := json.Unmarshal(m.Data, &sm); err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range a.order {
		if p.id == sm.Job {
			p.worker = sm.Worker
		}
	}
}
