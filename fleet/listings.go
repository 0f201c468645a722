package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/sdapi/sdapi/processing/extranet"
	"github.com/sdapi/sdapi/processing/upscale"
	"github.com/sdapi/sdapi/server"
)

// The LoRAs, embeddings and upscalers an API lists are its live workers',
// asked for on each listing: unlike checkpoints they are not in the
// heartbeat (a LoRA's metadata alone can be hundreds of KB) and no job is
// routed by them (a worker resolves a prompt's extra networks itself).

// What a listings request asks for.
const (
	listLoras      = "loras"
	listEmbeddings = "embeddings"
	listUpscalers  = "upscalers"
)

// listingsRequest asks a worker for one of its listings.
type listingsRequest struct {
	What string `json:"what"`
}

// listingsAnswer is a worker's listing What (one of the three fields), or
// why it has none. Too large for a message, it is in the blob store and
// the answer names it (Blob).
type listingsAnswer struct {
	Loras      []extranet.Lora        `json:"loras,omitempty"`
	Embeddings *server.EmbeddingSplit `json:"embeddings,omitempty"`
	Upscalers  []upscale.Upscaler     `json:"upscalers,omitempty"`
	Blob       string                 `json:"blob,omitempty"`
	Error      string                 `json:"error,omitempty"`
}

// listTimeout bounds how long a listing waits for the workers: one that
// has not answered by then is left out of it.
const listTimeout = 5 * time.Second

// Loras implements server.Catalogs: the live workers' LoRAs, once per name
// (the first worker's, by id), in the order of one Lora directory holding
// them all.
func (k *Catalog) Loras(ctx context.Context) []extranet.Lora {
	var out []extranet.Lora
	taken := map[string]bool{}
	for _, a := range k.listings(ctx, listLoras) {
		out = mergeByName(out, a.Loras, func(l extranet.Lora) string { return l.Name }, taken)
	}
	// Stable: a directory's own order for what CompareLoras ties.
	slices.SortStableFunc(out, extranet.CompareLoras)
	return out
}

// Embeddings implements server.Catalogs: each live worker's embeddings
// split by the width of the model loaded on that worker, merged by name
// (the first worker's, by id) in each of loaded and skipped; a name may
// be in both, as in one directory holding two files of that name.
func (k *Catalog) Embeddings(ctx context.Context) server.EmbeddingSplit {
	var out server.EmbeddingSplit
	name := func(e extranet.Embedding) string { return e.Name }
	loaded, skipped := map[string]bool{}, map[string]bool{}
	for _, a := range k.listings(ctx, listEmbeddings) {
		if a.Embeddings == nil {
			continue
		}
		out.Loaded = mergeByName(out.Loaded, a.Embeddings.Loaded, name, loaded)
		out.Skipped = mergeByName(out.Skipped, a.Embeddings.Skipped, name, skipped)
	}
	return out
}

// Upscalers implements server.Catalogs: the built-in upscalers once, then
// the live workers' model upscalers, once per name (the first worker's,
// by id), in the registry's order. They describe the workers' models and
// upscale nothing here.
func (k *Catalog) Upscalers(ctx context.Context) []upscale.Upscaler {
	var models []upscale.Upscaler
	taken := map[string]bool{}
	for _, a := range k.listings(ctx, listUpscalers) {
		var ms []upscale.Upscaler
		for _, u := range a.Upscalers {
			if u.ModelName != nil { // not a built-in: those have no model
				ms = append(ms, u)
			}
		}
		models = mergeByName(models, ms, func(u upscale.Upscaler) string { return u.Name }, taken)
	}
	return upscale.NewRegistry(models...).List()
}

// RefreshLoras implements server.Catalogs: every live worker rescans its
// Lora directory; the next listing has the new files.
func (k *Catalog) RefreshLoras(ctx context.Context) error { return k.refresh(ctx, refreshLoras) }

// RefreshEmbeddings implements server.Catalogs, as RefreshLoras.
func (k *Catalog) RefreshEmbeddings(ctx context.Context) error {
	return k.refresh(ctx, refreshEmbeddings)
}

// mergeByName appends to out the items of one worker's list whose names
// no earlier worker's list had (taken), keeping that list's own order and
// repeats.
func mergeByName[T any](out, list []T, name func(T) string, taken map[string]bool) []T {
	var added []string
	for _, x := range list {
		if n := name(x); !taken[n] {
			out = append(out, x)
			added = append(added, n)
		}
	}
	for _, n := range added {
		taken[n] = true
	}
	return out
}

// listings asks every live worker for its listing what, concurrently, and
// returns the answers, in the order of the workers' ids. A worker that
// does not answer within listTimeout (or before ctx ends), or answers an
// error, is logged and left out: a listing never fails.
func (k *Catalog) listings(ctx context.Context, what string) []listingsAnswer {
	req, err := json.Marshal(listingsRequest{What: what})
	if err != nil {
		k.log.Error("fleet: listing request", "what", what, "err", err)
		return nil
	}
	ctx, done := context.WithTimeout(ctx, listTimeout)
	defer done()
	live := k.live()
	answers := make([]*listingsAnswer, len(live))
	var wg sync.WaitGroup
	for i, hb := range live {
		wg.Go(func() {
			a, err := k.askListing(ctx, hb.Worker, req)
			if err != nil {
				k.log.Warn("fleet: a worker's listing left out", "worker", hb.Worker, "what", what, "err", err)
				return
			}
			answers[i] = a
		})
	}
	wg.Wait()
	var out []listingsAnswer
	for _, a := range answers {
		if a != nil {
			out = append(out, *a)
		}
	}
	return out
}

func (k *Catalog) askListing(ctx context.Context, worker string, req []byte) (*listingsAnswer, error) {
	m, err := k.c.NC.RequestWithContext(ctx, workerSubject(worker, "listings"), req)
	if err != nil {
		return nil, err
	}
	var a listingsAnswer
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return nil, err
	}
	if a.Blob != "" {
		blob := a.Blob
		a = listingsAnswer{}
		if err := k.c.takeBlob(ctx, blob, &a); err != nil {
			return nil, fmt.Errorf("read %s: %w", blob, err)
		}
	}
	if a.Error != "" {
		return nil, errors.New(a.Error)
	}
	return &a, nil
}

// onListings answers an API's listings request with this worker's own
// listing.
func (w *Worker) onListings(m *nats.Msg) { answerListings(w.c, w.id, w.srv.LocalCatalogs(), m) }

// answerListings answers the listings request m from cats, through the
// blob store when the answer is too large for a message.
func answerListings(c *Conn, worker string, cats server.Catalogs, m *nats.Msg) {
	ctx, done := context.WithTimeout(context.Background(), listTimeout)
	defer done()
	var req listingsRequest
	var a listingsAnswer
	if err := json.Unmarshal(m.Data, &req); err != nil {
		a.Error = fmt.Sprintf("bad listings request: %v", err)
	}
	switch req.What {
	case listLoras:
		a.Loras = cats.Loras(ctx)
	case listEmbeddings:
		e := cats.Embeddings(ctx)
		a.Embeddings = &e
	case listUpscalers:
		a.Upscalers = cats.Upscalers(ctx)
	default:
		if a.Error == "" {
			a.Error = fmt.Sprintf("unknown listing %q", req.What)
		}
	}
	name := "list-" + worker + "-" + nuid.Next()
	data, err := c.pack(ctx, a, name, a, listingsAnswer{Blob: name})
	if err == nil {
		err = m.Respond(data)
	}
	if err != nil {
		c.log.Warn("fleet worker: listings answer", "what", req.What, "err", err)
	}
}
