package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sdapi/sdapi/processing/catalog"
	"github.com/sdapi/sdapi/processing/extranet"
	"github.com/sdapi/sdapi/processing/upscale"
	"github.com/sdapi/sdapi/server"
)

// workerCats is a worker's own listings, as its server has them.
type workerCats struct {
	loras []extranet.Lora
	embs  server.EmbeddingSplit
	ups   []upscale.Upscaler
}

var _ server.Catalogs = (*workerCats)(nil)

func (*workerCats) Checkpoints() []catalog.Checkpoint { return nil }
func (*workerCats) VAEs() []catalog.VAE               { return nil }
func (*workerCats) LookupCheckpoint(string) (catalog.Checkpoint, error) {
	return catalog.Checkpoint{}, errors.New("none")
}
func (*workerCats) RefreshCheckpoints(context.Context) error           { return nil }
func (*workerCats) RefreshVAEs(context.Context) error                  { return nil }
func (*workerCats) RefreshLoras(context.Context) error                 { return nil }
func (*workerCats) RefreshEmbeddings(context.Context) error            { return nil }
func (w *workerCats) Loras(context.Context) []extranet.Lora            { return w.loras }
func (w *workerCats) Embeddings(context.Context) server.EmbeddingSplit { return w.embs }
func (w *workerCats) Upscalers(context.Context) []upscale.Upscaler {
	return append(upscale.Builtin(), w.ups...)
}

// serveListings plays a live worker answering listings requests from cats
// with the worker's own code.
func serveListings(t *testing.T, c *Conn, worker string, cats server.Catalogs) {
	t.Helper()
	sub, err := c.NC.Subscribe(workerSubject(worker, "listings"), func(m *nats.Msg) { answerListings(c, worker, cats, m) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
}

func lora(rel string, meta map[string]any) extranet.Lora {
	name := strings.TrimSuffix(rel[strings.LastIndex(rel, "/")+1:], ".safetensors")
	return extranet.Lora{Name: name, Alias: name, Path: "/data/Lora/" + rel, Rel: rel, Metadata: meta}
}

func modelUpscaler(name, family string) upscale.Upscaler {
	path := "/data/" + family + "/" + name + ".onnx"
	return upscale.Upscaler{Name: name, ModelName: &family, ModelPath: &path, Scale: 4}
}

func names[T any](xs []T, name func(T) string) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, name(x))
	}
	return out
}

func loraName(l extranet.Lora) string        { return l.Name }
func embName(e extranet.Embedding) string    { return e.Name }
func upscalerName(u upscale.Upscaler) string { return u.Name }

// An API lists the union of its live workers' LoRAs, embeddings and
// upscalers, by name, in the order one server holding all the files
// would; a worker's answer too large for a message comes through the blob
// store; a worker that does not answer (gone, or too slow) is left out.
func TestListingsMergeWorkers(t *testing.T) {
	c := testConn(t, 4)
	a := testAPI(t, c, map[string][]catalog.Checkpoint{"w1": {modelA}, "w2": {modelA}, "w3-gone": {modelA}, "w4-slow": {modelA}})
	huge := strings.Repeat("x", 700<<10) // more than half of max_payload
	serveListings(t, c, "w1", &workerCats{
		loras: []extranet.Lora{lora("b.safetensors", nil), lora("sub/a.safetensors", nil)},
		embs: server.EmbeddingSplit{
			Loaded:  []extranet.Embedding{{Name: "e1", Shape: 768, Vectors: 1}},
			Skipped: []extranet.Embedding{{Name: "xl", Shape: 2048, Vectors: 1}},
		},
		ups: []upscale.Upscaler{modelUpscaler("x4", "ESRGAN")},
	})
	serveListings(t, c, "w2", &workerCats{
		loras: []extranet.Lora{lora("a10.safetensors", map[string]any{"big": huge}), lora("a9.safetensors", nil), lora("b.safetensors", map[string]any{"on": "w2"})},
		// w2 has an SDXL model loaded: what w1 skips it loads.
		embs: server.EmbeddingSplit{
			Loaded:  []extranet.Embedding{{Name: "xl", Shape: 2048, Vectors: 1}},
			Skipped: []extranet.Embedding{{Name: "e1", Shape: 768, Vectors: 1}, {Name: "e2", Shape: 768, Vectors: 3}},
		},
		ups: []upscale.Upscaler{modelUpscaler("a2", "RealESRGAN"), modelUpscaler("x4", "RealESRGAN")},
	})
	// w3-gone's heartbeat is still fresh but nothing answers for it.
	slow, err := c.NC.Subscribe(workerSubject("w4-slow", "listings"), func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = slow.Unsubscribe() }()

	// A short deadline for the slow worker: the listing waits no longer.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	loras := a.cat.Loras(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the listing took %v with a worker that never answers", d)
	}
	if got, want := names(loras, loraName), []string{"a9", "a10", "b", "a"}; !slices.Equal(got, want) {
		t.Errorf("Loras: %q, want %q", got, want)
	}
	if len(loras) == 4 && (loras[1].Metadata["big"] != huge || loras[2].Metadata["on"] != nil) {
		t.Errorf("Loras: a10's metadata lost, or b not the first worker's (%v)", loras[2].Metadata)
	}
	if _, err := c.blobs.List(context.Background()); !errors.Is(err, jetstream.ErrNoObjectsFound) {
		t.Errorf("blob store after the listing: %v, want it emptied", err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	embs := a.cat.Embeddings(ctx)
	if got, want := names(embs.Loaded, embName), []string{"e1", "xl"}; !slices.Equal(got, want) {
		t.Errorf("Embeddings loaded: %q, want %q", got, want)
	}
	if got, want := names(embs.Skipped, embName), []string{"xl", "e1", "e2"}; !slices.Equal(got, want) {
		t.Errorf("Embeddings skipped: %q, want %q", got, want)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	ups := a.cat.Upscalers(ctx)
	if got, want := names(ups, upscalerName), []string{"None", "Lanczos", "Nearest", "a2", "x4"}; !slices.Equal(got, want) {
		t.Errorf("Upscalers: %q, want %q", got, want)
	}
	if len(ups) == 5 && *ups[4].ModelName != "ESRGAN" {
		t.Errorf("x4 is %s's, want w1's ESRGAN", *ups[4].ModelName)
	}
}

// With no live worker the listings are those of a server with empty
// directories: no LoRA, no embedding, the built-in upscalers.
func TestListingsNoLiveWorker(t *testing.T) {
	c := testConn(t, 4)
	a := testAPI(t, c, map[string][]catalog.Checkpoint{})
	ctx := context.Background()
	if l := a.cat.Loras(ctx); len(l) != 0 {
		t.Errorf("Loras: %v", l)
	}
	if e := a.cat.Embeddings(ctx); len(e.Loaded)+len(e.Skipped) != 0 {
		t.Errorf("Embeddings: %v", e)
	}
	if got, want := names(a.cat.Upscalers(ctx), upscalerName), names(upscale.Builtin(), upscalerName); !slices.Equal(got, want) {
		t.Errorf("Upscalers: %q, want %q", got, want)
	}
	if err := a.cat.RefreshLoras(ctx); err != nil {
		t.Errorf("RefreshLoras: %v", err)
	}
}

// refresh-loras and refresh-embeddings reach every live worker, through
// the refresh fan-out of the checkpoints.
func TestRefreshLorasReachesWorkers(t *testing.T) {
	c := testConn(t, 4)
	a := testAPI(t, c, map[string][]catalog.Checkpoint{"w1": {modelA}, "w2": {modelA}})
	got := make(chan string, 4)
	for _, w := range []string{"w1", "w2"} {
		sub, err := c.NC.Subscribe(workerSubject(w, "refresh"), func(m *nats.Msg) {
			var req refreshRequest
			_ = json.Unmarshal(m.Data, &req)
			got <- w + " " + req.What
			data, _ := json.Marshal(refreshAnswer{Heartbeat: heartbeat{Worker: w, Catalog: workerCatalog{Checkpoints: []catalog.Checkpoint{modelA}}}})
			_ = m.Respond(data)
		})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Unsubscribe() }()
	}
	if err := a.cat.RefreshLoras(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := a.cat.RefreshEmbeddings(context.Background()); err != nil {
		t.Fatal(err)
	}
	var reqs []string
	for range 4 {
		reqs = append(reqs, <-got)
	}
	slices.Sort(reqs)
	if want := []string{"w1 embeddings", "w1 loras", "w2 embeddings", "w2 loras"}; !slices.Equal(reqs, want) {
		t.Errorf("refresh requests %q, want %q", reqs, want)
	}
}
