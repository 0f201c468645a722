package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/catalog"
	"github.com/sdapi/sdapi/processing/options"
	"github.com/sdapi/sdapi/processing/queue"
	"github.com/sdapi/sdapi/server"
)

// These tests run the API side against a real embedded NATS server, with
// the test playing the worker through the same stream and subjects.

func testConn(t *testing.T, queueSize int) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Connect(ctx, Config{URL: Embedded, StoreDir: t.TempDir(), Name: t.Name(), QueueSize: queueSize, AckWait: time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// testCheckpoint builds a checkpoint as a worker's catalog lists it.
func testCheckpoint(name, hash string) catalog.Checkpoint {
	sum := hash + strings.Repeat("0", 64-len(hash))
	return catalog.Checkpoint{Title: name + " [" + hash + "]", ModelName: name, Filename: "/models/" + name, Hash: &hash, SHA256: &sum}
}

// modelA is the checkpoint of testAPI's live "worker".
var modelA = testCheckpoint("model-a", "aaaaaaaaaa")

// putHeartbeat plays a live worker holding cks.
func putHeartbeat(t *testing.T, c *Conn, worker string, cks ...catalog.Checkpoint) {
	t.Helper()
	data, _ := json.Marshal(heartbeat{Worker: worker, Catalog: workerCatalog{Checkpoints: cks}})
	if _, err := c.workers.Put(context.Background(), worker, data); err != nil {
		t.Fatal(err)
	}
}

// testAPI returns an API whose fleet has one live "worker" holding modelA,
// unless workers are given.
func testAPI(t *testing.T, c *Conn, workers ...map[string][]catalog.Checkpoint) *API {
	t.Helper()
	if len(workers) == 0 {
		workers = []map[string][]catalog.Checkpoint{{"w1": {modelA}}}
	}
	for id, cks := range workers[0] {
		putHeartbeat(t, c, id, cks...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	cat, err := WatchCatalogs(ctx, c, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cat.Close)
	defs, err := server.OptionDefs()
	if err != nil {
		t.Fatal(err)
	}
	opts, err := options.New(defs, filepath.Join(t.TempDir(), "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAPI(c, queue.New(1), processing.NewState(nil), opts, cat, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	return a
}

// modelJobs is the consumer of ck's jobs, as a worker holding it pulls.
func modelJobs(t *testing.T, c *Conn, ck catalog.Checkpoint) jetstream.Consumer {
	t.Helper()
	cons, err := c.modelJobs(context.Background(), modelKey(ck))
	if err != nil {
		t.Fatal(err)
	}
	return cons
}

// takeJob pulls the next job of modelA as a worker would and acks it.
func takeJob(t *testing.T, c *Conn) jobMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := modelJobs(t, c, modelA).Next(jetstream.FetchContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	var jm jobMsg
	if err := json.Unmarshal(m.Data(), &jm); err != nil {
		t.Fatal(err)
	}
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
	return jm
}

func TestAPIAnswersOncePerJob(t *testing.T) {
	tests := []struct {
		name    string
		body    []byte
		results int // results the "worker" publishes for the job
	}{
		{"inline body, one result", []byte(`{"steps":1}`), 1},
		{"inline body, redelivered and answered twice", []byte(`{"steps":1}`), 2},
		// Larger than half of max_payload: through the object store.
		{"body through the blob store", bytes.Repeat([]byte("x"), 700<<10), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConn(t, 4)
			a := testAPI(t, c)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			w := &server.Work{Kind: "txt2img", TaskID: "t1", Request: &server.WorkRequest{Kind: "txt2img", ContentType: "application/json", Body: tt.body}}
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx, w) }()

			jm := takeJob(t, c)
			if jm.BodyBlob != "" {
				b, err := c.blobs.GetBytes(ctx, jm.BodyBlob)
				if err != nil {
					t.Fatal(err)
				}
				jm.Request.Body = b
			}
			if !bytes.Equal(jm.Request.Body, tt.body) || jm.TaskID != "t1" {
				t.Fatalf("worker got body of %d bytes, task %q; want %d bytes, t1", len(jm.Request.Body), jm.TaskID, len(tt.body))
			}
			for i := range tt.results {
				out := &server.WorkOutput{Images: []string{"img"}, Info: "{}", Worker: string(rune('a' + i))}
				data, _ := json.Marshal(resultMsg{Job: jm.ID, Output: out})
				if err := c.NC.Publish(resultSubject(jm.API), data); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.NC.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if w.Output == nil || w.Output.Worker != "a" {
				t.Fatalf("output %+v, want the first result's", w.Output)
			}
			if ti := a.TaskStatus("t1"); !ti.Completed || ti.Active || ti.Queued {
				t.Errorf("TaskStatus after the answer: %+v", ti)
			}
		})
	}
}

func TestAPIQueueFullAndCancel(t *testing.T) {
	c := testConn(t, 1)
	a := testAPI(t, c)
	work := func() *server.Work {
		return &server.Work{Kind: "txt2img", Request: &server.WorkRequest{Kind: "txt2img", Body: []byte(`{}`)}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { first <- a.Run(ctx, work()) }()
	// Wait until the first job is in the stream (a worker would see it).
	cons := modelJobs(t, c, modelA)
	for {
		info, err := cons.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending == 1 {
			break
		}
		select {
		case err := <-first:
			t.Fatalf("first job returned %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	err := a.Run(context.Background(), work())
	if !errors.Is(err, queue.ErrQueueFull) {
		t.Fatalf("second job: %v, want ErrQueueFull", err)
	}
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled job: %v", err)
	}
	info, err := c.stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("the cancelled job is still in the stream (%d messages)", info.State.Msgs)
	}
}

func TestAPIFailsJobNoWorkerFinishes(t *testing.T) {
	c := testConn(t, 4)
	a := testAPI(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- a.Run(ctx, &server.Work{Kind: "txt2img", Request: &server.WorkRequest{Kind: "txt2img", Body: []byte(`{}`)}})
	}()
	cons := modelJobs(t, c, modelA)
	// Each "worker" gives the job back unanswered, as one that dies does.
	for range maxDeliveries {
		m, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Nak(); err != nil {
			t.Fatal(err)
		}
	}
	// The next worker's pull finds the job spent: JetStream drops it and
	// sends the advisory.
	if m, err := cons.Next(jetstream.FetchMaxWait(500 * time.Millisecond)); err == nil {
		t.Fatalf("job delivered a %dth time: %s", maxDeliveries+1, m.Data())
	}
	if err := <-done; !errors.Is(err, errNoWorkerFinished) {
		t.Fatalf("Run: %v, want errNoWorkerFinished", err)
	}
	info, err := c.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("the failed job is still in the stream (%d messages)", info.State.Msgs)
	}
}
