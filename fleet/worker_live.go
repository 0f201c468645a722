package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"time"

	"github.com/nats-io/nats.go"
)

// serveLive answers the APIs' state, interrupt, skip, refresh and
// listings requests for this worker.
func (w *Worker) serveLive() (stop func(), err error) {
	var subs []*nats.Subscription
	stop = func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}
	for what, h := range map[string]nats.MsgHandler{
		"state":     w.onState,
		"interrupt": w.onSignal(w.state.Interrupt),
		"skip":      w.onSignal(w.state.Skip),
		"refresh":   w.onRefresh,
		"listings":  w.onListings,
	} {
		s, err := w.c.NC.Subscribe(workerSubject(w.id, what), h)
		if err != nil {
			stop()
			return nil, err
		}
		subs = append(subs, s)
	}
	return stop, nil
}

func (w *Worker) onState(m *nats.Msg) {
	var req stateRequest
	_ = json.Unmarshal(m.Data, &req)
	var lm liveMsg
	if r, ok := w.current(); ok {
		lm.Job = r.id
	}
	lm.State = w.state.Snapshot()
	if req.Image {
		img, step := w.state.CurrentImage()
		if img != nil {
			var b bytes.Buffer
			if png.Encode(&b, img) == nil {
				lm.ImagePNG, lm.ImageStep = b.Bytes(), step
			}
		}
	}
	data, err := json.Marshal(lm)
	if err == nil {
		err = m.Respond(data)
	}
	if err != nil {
		w.log.Warn("fleet worker: state answer", "err", err)
	}
}

// onSignal interrupts or skips the job the request names, when this worker
// still runs it: a late request never stops the next job.
func (w *Worker) onSignal(do func()) nats.MsgHandler {
	return func(m *nats.Msg) {
		var req stateRequest
		_ = json.Unmarshal(m.Data, &req)
		if r, ok := w.current(); ok && (req.Job == "" || req.Job == r.id) {
			do()
		}
		_ = m.Respond(nil)
	}
}

// onRefresh rescans the worker's models, LoRAs or embeddings as
// refresh-checkpoints, refresh-vae, refresh-loras or refresh-embeddings
// would, pulls the jobs of its checkpoints now, and answers its new
// heartbeat (put in the bucket too, for the other APIs).
func (w *Worker) onRefresh(m *nats.Msg) {
	var req refreshRequest
	_ = json.Unmarshal(m.Data, &req)
	var err error
	switch req.What {
	case refreshCheckpoints:
		if err = w.cat.RefreshCheckpoints(); err == nil {
			ctx, done := context.WithTimeout(context.Background(), refreshTimeout)
			err = w.pullModels(ctx)
			done()
		}
	case refreshVAEs:
		err = w.cat.RefreshVAEs()
	case refreshLoras:
		err = w.srv.LocalCatalogs().RefreshLoras(context.Background())
	case refreshEmbeddings:
		err = w.srv.LocalCatalogs().RefreshEmbeddings(context.Background())
	default:
		err = fmt.Errorf("unknown refresh %q", req.What)
	}
	ans := refreshAnswer{Heartbeat: w.heartbeat()}
	if err != nil {
		w.log.Error("fleet worker: refresh", "what", req.What, "err", err)
		ans.Error = err.Error()
	} else {
		w.putHeartbeat(context.Background(), ans.Heartbeat)
	}
	data, err := json.Marshal(ans)
	if err == nil {
		err = m.Respond(data)
	}
	if err != nil {
		w.log.Warn("fleet worker: refresh answer", "err", err)
	}
}

// heartbeat is the worker's entry in the workers bucket now.
func (w *Worker) heartbeat() heartbeat {
	hb := heartbeat{Worker: w.id, Done: w.done.Load(), Redelive: w.redeliver.Load(),
		Catalog: workerCatalog{Checkpoints: w.cat.Checkpoints(), VAEs: w.cat.VAEs()}}
	if r, ok := w.current(); ok {
		hb.Job, hb.Task, hb.Kind = r.id, r.task, r.kind
	}
	return hb
}

func (w *Worker) putHeartbeat(ctx context.Context, hb heartbeat) {
	data, err := json.Marshal(hb)
	if err == nil {
		ctx, done := context.WithTimeout(ctx, requestTimeout)
		defer done()
		_, err = w.c.workers.Put(ctx, w.id, data)
	}
	if err != nil && ctx.Err() == nil {
		w.log.Warn("fleet worker: heartbeat", "err", err)
	}
}

// heartbeatLoop keeps this worker's entry in the workers bucket fresh
// until ctx is done, then deletes it.
func (w *Worker) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		w.putHeartbeat(ctx, w.heartbeat())
		select {
		case <-ctx.Done():
			dctx, done := context.WithTimeout(context.Background(), requestTimeout)
			_ = w.c.workers.Delete(dctx, w.id)
			done()
			return
		case <-t.C:
		}
	}
}
