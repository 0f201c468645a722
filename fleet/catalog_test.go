package fleet

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing/catalog"
	"github.com/sdapi/sdapi/server"
)

var modelB = testCheckpoint("model-b", "bbbbbbbbbb")

// The fleet lists the union of its live workers' catalogs, once per
// title, and routes a job to the subject of its checkpoint as processing
// resolves it (override_settings, else the shared option, else the first).
func TestCatalogUnionAndRoute(t *testing.T) {
	c := testConn(t, 4)
	a := testAPI(t, c, map[string][]catalog.Checkpoint{"w1": {modelA}, "w2": {modelB, modelA}})

	var titles []string
	for _, ck := range a.cat.Checkpoints() {
		titles = append(titles, ck.Title)
	}
	if want := []string{modelA.Title, modelB.Title}; !slices.Equal(titles, want) {
		t.Fatalf("Checkpoints: %q, want %q", titles, want)
	}

	tests := []struct {
		name      string
		kind      string
		overrides map[string]any
		want      string
	}{
		{"no override: the first listed", "txt2img", nil, modelKey(modelA)},
		{"override by title", "txt2img", map[string]any{"sd_model_checkpoint": modelB.Title}, modelKey(modelB)},
		{"override by model name", "img2img", map[string]any{"sd_model_checkpoint": "model-b"}, modelKey(modelB)},
		{"override by short hash", "txt2img", map[string]any{"sd_model_checkpoint": "bbbbbbbbbb"}, modelKey(modelB)},
		{"override on no worker: dropped", "txt2img", map[string]any{"sd_model_checkpoint": "model-c"}, modelKey(modelA)},
		{"extras: any worker", "extra-single-image", nil, anyKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &server.Work{Kind: tt.kind, Overrides: tt.overrides, Request: &server.WorkRequest{Kind: tt.kind}}
			got, _, err := a.route(w)
			if err != nil || got != tt.want {
				t.Fatalf("route: %q, %v; want %q", got, err, tt.want)
			}
		})
	}

	// A job for model B reaches B's consumer, which only w2 pulls.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- a.Run(ctx, &server.Work{Kind: "txt2img", Overrides: map[string]any{"sd_model_checkpoint": "model-b"},
			Request: &server.WorkRequest{Kind: "txt2img", Body: []byte(`{}`)}})
	}()
	m, err := modelJobs(t, c, modelB).Next(jetstream.FetchContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject() != jobsSubject+"."+modelKey(modelB) {
		t.Errorf("job on %s", m.Subject())
	}
	var jm jobMsg
	if err := json.Unmarshal(m.Data(), &jm); err != nil {
		t.Fatal(err)
	}
	if jm.Request.Checkpoint != modelB.Title {
		t.Errorf("job carries checkpoint %q, want %q", jm.Request.Checkpoint, modelB.Title)
	}
	data, _ := json.Marshal(resultMsg{Job: jm.ID, Output: &server.WorkOutput{Worker: "w2"}})
	if err := c.NC.Publish(resultSubject(jm.API), data); err != nil {
		t.Fatal(err)
	}
	_ = m.Ack()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// With no checkpoint on any live worker a generation job fails at once,
// as A1111's does with no checkpoint installed; a worker that stopped
// takes its models out of the listings.
func TestCatalogNoLiveWorker(t *testing.T) {
	c := testConn(t, 4)
	a := testAPI(t, c, map[string][]catalog.Checkpoint{"w1": {modelA}})
	if err := c.workers.Delete(context.Background(), "w1"); err != nil {
		t.Fatal(err)
	}
	// The delete reaches the watch asynchronously: poll the listing.
	deadline := time.Now().Add(5 * time.Second)
	for len(a.cat.Checkpoints()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("a stopped worker's checkpoints still listed: %v", a.cat.Checkpoints())
		}
		time.Sleep(5 * time.Millisecond)
	}
	err := a.Run(context.Background(), &server.Work{Kind: "txt2img", Request: &server.WorkRequest{Kind: "txt2img", Body: []byte(`{}`)}})
	if apierr.KindOf(err) != apierr.KindModel {
		t.Fatalf("Run with no live worker: %v, want a model error", err)
	}
	info, err := c.stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("the job was published (%d messages)", info.State.Msgs)
	}
}
