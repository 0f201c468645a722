package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/catalog"
	"github.com/sdapi/sdapi/server"
)

// Worker pulls jobs from the fleet's stream, one at a time, and runs them
// on its server.
type Worker struct {
	c     *Conn
	id    string
	srv   *server.Server
	cat   *catalog.Catalog
	state *processing.State
	log   *slog.Logger
	// hard is the running job's context: Abort cancels it, and the job
	// goes back to the stream for another worker.
	hard  context.Context
	abort context.CancelFunc

	mu      sync.Mutex
	running *runningJob // nil when idle
	// consumers are the consumers of the jobs it can run: its
	// checkpoints' and anyKey's, by key.
	consumers map[string]jetstream.Consumer
	turn      int // the consumer next tries first, for fairness

	done      atomic.Uint64 // jobs finished
	redeliver atomic.Uint64 // redelivered jobs taken
}

type runningJob struct {
	id, task, kind string
}

// NewWorker returns a worker named id (unique in the fleet) whose jobs'
// live state is state and whose installed models are cat; Run gives it
// the server to run them on.
func NewWorker(c *Conn, id string, cat *catalog.Catalog, state *processing.State, log *slog.Logger) *Worker {
	hard, abort := context.WithCancel(context.Background())
	return &Worker{c: c, id: id, cat: cat, state: state, log: log, hard: hard, abort: abort}
}

// Abort cancels the running job, which Run hands back to the stream.
func (w *Worker) Abort() { w.abort() }

// ID is the worker's name in the fleet.
func (w *Worker) ID() string { return w.id }

// Run takes and runs jobs until ctx is done; the job running then goes on
// until it ends or Abort is called, and Run returns after it.
func (w *Worker) Run(ctx context.Context, srv *server.Server) error {
	w.srv = srv
	if err := w.pullModels(ctx); err != nil {
		return fmt.Errorf("fleet worker: %w", err)
	}
	// A ring says a job was published; a redelivered one rings nothing,
	// and is found within pollEvery.
	ring := make(chan struct{}, 1)
	rsub, err := w.c.NC.Subscribe(ringSubject+".>", func(*nats.Msg) {
		select {
		case ring <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return fmt.Errorf("fleet worker: subscribe %s: %w", ringSubject, err)
	}
	defer func() { _ = rsub.Unsubscribe() }()
	stopLive, err := w.serveLive()
	if err != nil {
		return err
	}
	defer stopLive()
	// In the bucket before it says it is ready: its models are listed.
	w.putHeartbeat(ctx, w.heartbeat())
	var wg sync.WaitGroup
	wg.Go(func() { w.heartbeatLoop(ctx) })
	defer wg.Wait()
	w.log.Info("fleet worker ready", "worker", w.id, "checkpoints", len(w.cat.Checkpoints()))
	for ctx.Err() == nil {
		if m := w.next(ctx); m != nil {
			w.handle(m)
			continue
		}
		select {
		case <-ctx.Done():
		case <-ring:
		case <-time.After(pollEvery):
		}
	}
	return nil
}

// pollEvery is how often an idle worker looks for jobs no ring announced
// (redelivered ones).
const pollEvery = time.Second

// pullModels makes the worker pull the jobs of its catalog's checkpoints
// (and extras), and only those.
func (w *Worker) pullModels(ctx context.Context) error {
	keys := []string{anyKey}
	for _, ck := range w.cat.Checkpoints() {
		keys = append(keys, modelKey(ck))
	}
	consumers := map[string]jetstream.Consumer{}
	for _, k := range keys {
		cons, err := w.c.modelJobs(ctx, k)
		if err != nil {
			return err
		}
		consumers[k] = cons
	}
	w.mu.Lock()
	w.consumers = consumers
	w.mu.Unlock()
	return nil
}

// next takes a job from one of the worker's consumers, nil when none has
// one; each call starts with the next consumer, so that no model starves
// another.
func (w *Worker) next(ctx context.Context) jetstream.Msg {
	w.mu.Lock()
	keys := slices.Sorted(maps.Keys(w.consumers))
	consumers := maps.Clone(w.consumers)
	w.turn++
	turn := w.turn
	w.mu.Unlock()
	for i := range keys {
		k := keys[(turn+i)%len(keys)]
		batch, err := consumers[k].FetchNoWait(1)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("fleet worker: fetch", "model", k, "err", err)
			}
			continue
		}
		for m := range batch.Messages() {
			return m
		}
		if err := batch.Error(); err != nil && ctx.Err() == nil {
			w.log.Warn("fleet worker: fetch", "model", k, "err", err)
			if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				_ = w.pullModels(ctx) // removed while idle: recreate it
			}
		}
	}
	return nil
}

// handle runs one job: announced to its API, kept alive with in-progress
// acks, cancelled by its API's cancel message, answered, then acked.
func (w *Worker) handle(m jetstream.Msg) {
	ctx := w.hard
	var jm jobMsg
	if err := json.Unmarshal(m.Data(), &jm); err != nil {
		w.log.Error("fleet worker: bad job, dropped", "err", err)
		_ = m.Term()
		return
	}
	if md, err := m.Metadata(); err == nil && md.NumDelivered > 1 {
		w.redeliver.Add(1)
		w.log.Info("fleet worker: redelivered job", "job", jm.ID, "delivery", md.NumDelivered)
	}
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sub, err := w.c.NC.Subscribe(cancelSubject(jm.ID), func(*nats.Msg) { cancel(errClientGone) })
	if err != nil {
		w.log.Warn("fleet worker: subscribe cancel", "err", err)
	} else {
		defer func() { _ = sub.Unsubscribe() }()
	}
	if jm.BodyBlob != "" {
		if jm.Request.Body, err = w.c.blobs.GetBytes(jctx, jm.BodyBlob); err != nil {
			// Its API is gone (it deletes the body when it stops waiting).
			w.log.Warn("fleet worker: job body gone, dropped", "job", jm.ID, "err", err)
			_ = m.Term()
			return
		}
	}
	w.log.Info("fleet worker: job started", "job", jm.ID, "kind", jm.Request.Kind, "task", jm.TaskID)
	w.setRunning(&runningJob{id: jm.ID, task: jm.TaskID, kind: jm.Request.Kind})
	defer w.setRunning(nil)
	w.publish(startedSubject(jm.API), startedMsg{Job: jm.ID, Worker: w.id})

	stopKeep := w.keepAlive(m)
	out := w.srv.Execute(jctx, jm.Request)
	stopKeep()
	switch {
	case ctx.Err() != nil: // this worker stops: another one runs it
		_ = m.Nak()
		return
	case jctx.Err() != nil: // its client went away: nobody reads it
		_ = m.Term()
		return
	}
	out.Worker = w.id
	if err := w.answer(ctx, jm, out); err != nil {
		w.log.Error("fleet worker: answer", "job", jm.ID, "err", err)
		_ = m.NakWithDelay(w.c.cfg.AckWait) // not at once: NATS may be away
		return
	}
	w.done.Add(1)
	actx, done := context.WithTimeout(ctx, requestTimeout)
	defer done()
	if err := m.DoubleAck(actx); err != nil {
		w.log.Warn("fleet worker: ack", "job", jm.ID, "err", err)
	}
}

var errClientGone = errors.New("fleet: the client went away")

// keepAlive sends in-progress acks while the job runs, so that AckWait
// bounds the silence of a dead worker, not the length of a job.
func (w *Worker) keepAlive(m jetstream.Msg) (stop func()) {
	every := w.c.cfg.AckWait / 3
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				if err := m.InProgress(); err != nil {
					w.log.Warn("fleet worker: in-progress ack", "err", err)
				}
			}
		}
	})
	return func() { close(quit); wg.Wait() }
}

// answer publishes the job's output to its API, through the blob store
// when it is too large for a message.
func (w *Worker) answer(ctx context.Context, jm jobMsg, out *server.WorkOutput) error {
	name := "out-" + jm.ID + "-" + w.id
	data, err := w.c.pack(ctx, resultMsg{Job: jm.ID, Output: out}, name, out, resultMsg{Job: jm.ID, Blob: name})
	if err != nil {
		return err
	}
	if err := w.c.NC.Publish(resultSubject(jm.API), data); err != nil {
		return err
	}
	// Flushed before the ack: a worker killed after the ack has sent it.
	fctx, done := context.WithTimeout(ctx, requestTimeout)
	defer done()
	return w.c.NC.FlushWithContext(fctx)
}

func (w *Worker) publish(subj string, v any) {
	data, err := json.Marshal(v)
	if err == nil {
		err = w.c.NC.Publish(subj, data)
	}
	if err != nil {
		w.log.Warn("fleet worker: publish", "subject", subj, "err", err)
	}
}

func (w *Worker) setRunning(r *runningJob) {
	w.mu.Lock()
	w.running = r
	w.mu.Unlock()
}

func (w *Worker) current() (job runningJob, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running == nil {
		return runningJob{}, false
	}
	return *w.running, true
}
