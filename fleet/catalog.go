package fleet

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing/catalog"
	"github.com/sdapi/sdapi/server"
)

// workerCatalog is what a worker has installed, in its heartbeat: the
// fleet's listings are the union of the live workers' catalogs, and a job
// goes only to the workers holding its checkpoint.
type workerCatalog struct {
	Checkpoints []catalog.Checkpoint `json:"checkpoints"`
	VAEs        []catalog.VAE        `json:"vaes"`
}

// modelKey names a checkpoint in subjects and consumer names: its short
// hash, the same on every worker holding the same files (titles carry it,
// so the listings' dedup by title agrees), or a hash of its title when it
// has none.
func modelKey(ck catalog.Checkpoint) string {
	if ck.Hash != nil {
		return "h" + strings.ToLower(*ck.Hash)
	}
	sum := sha256.Sum256([]byte(ck.Title))
	return "t" + hex.EncodeToString(sum[:5])
}

// anyKey is the subject and consumer of the jobs every worker may run
// (extras, which need no checkpoint).
const anyKey = "any"

// Catalog is the fleet's server.Catalogs: the union of the catalogs of
// the live workers, as their heartbeats carry them, kept current by a
// watch on the workers bucket (so that routing a job reads memory, not
// NATS); LoRAs, embeddings and upscalers are asked of the live workers on
// each listing (listings.go).
type Catalog struct {
	c    *Conn
	log  *slog.Logger
	stop func()

	mu       sync.Mutex
	seen     map[string]seenWorker // by worker id
	onChange func()                // after a worker's checkpoints change
}

var _ server.Catalogs = (*Catalog)(nil)

// seenWorker is a worker's last heartbeat and when this process got it: a
// worker not heard of for workerTTL is dead (its entry expires without a
// delete marker, so the watch alone does not tell).
type seenWorker struct {
	hb heartbeat
	at time.Time
}

// WatchCatalogs follows the workers' catalogs until Close; it returns once
// the heartbeats stored now are read.
func WatchCatalogs(ctx context.Context, c *Conn, log *slog.Logger) (*Catalog, error) {
	wctx, cancel := context.WithCancel(context.Background())
	watcher, err := c.workers.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("fleet: watch workers: %w", err)
	}
	k := &Catalog{c: c, log: log, seen: map[string]seenWorker{}}
	var wg sync.WaitGroup
	k.stop = func() { cancel(); _ = watcher.Stop(); wg.Wait() }
	initial := make(chan struct{})
	wg.Go(func() {
		once := sync.OnceFunc(func() { close(initial) })
		defer once()
		for e := range watcher.Updates() {
			if e == nil {
				once()
				continue
			}
			k.update(e)
		}
	})
	select {
	case <-initial:
	case <-ctx.Done():
		k.Close()
		return nil, ctx.Err()
	}
	return k, nil
}

func (k *Catalog) update(e jetstream.KeyValueEntry) {
	k.mu.Lock()
	old, had := k.seen[e.Key()]
	changed := false
	if e.Operation() != jetstream.KeyValuePut {
		delete(k.seen, e.Key()) // a worker that stopped
		changed = had
	} else {
		var hb heartbeat
		if err := json.Unmarshal(e.Value(), &hb); err != nil {
			k.mu.Unlock()
			k.log.Warn("fleet: bad heartbeat", "worker", e.Key(), "err", err)
			return
		}
		k.seen[e.Key()] = seenWorker{hb: hb, at: time.Now()}
		changed = !had || !slices.Equal(titles(old.hb), titles(hb))
	}
	onChange := k.onChange
	k.mu.Unlock()
	if changed && onChange != nil {
		onChange()
	}
}

func titles(hb heartbeat) []string {
	out := make([]string, len(hb.Catalog.Checkpoints))
	for i, ck := range hb.Catalog.Checkpoints {
		out[i] = ck.Title
	}
	return out
}

// OnChange calls f (on the watch's goroutine) whenever a worker comes,
// goes, or lists other checkpoints.
func (k *Catalog) OnChange(f func()) {
	k.mu.Lock()
	k.onChange = f
	k.mu.Unlock()
}

// Close stops following the workers.
func (k *Catalog) Close() { k.stop() }

// live are the heartbeats of the workers heard of within workerTTL, by id.
func (k *Catalog) live() []heartbeat {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []heartbeat
	for id, s := range k.seen {
		if time.Since(s.at) > workerTTL {
			delete(k.seen, id)
			continue
		}
		out = append(out, s.hb)
	}
	slices.SortFunc(out, func(a, b heartbeat) int { return cmp.Compare(a.Worker, b.Worker) })
	return out
}

// Checkpoints implements server.Catalogs: every live worker's checkpoints,
// once per title, in the order one worker's catalog lists them (by model
// directory name).
func (k *Catalog) Checkpoints() []catalog.Checkpoint {
	var out []catalog.Checkpoint
	titles := map[string]bool{}
	for _, hb := range k.live() {
		for _, ck := range hb.Catalog.Checkpoints {
			if !titles[ck.Title] {
				titles[ck.Title] = true
				out = append(out, ck)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b catalog.Checkpoint) int {
		return cmp.Or(cmp.Compare(a.ModelName, b.ModelName), cmp.Compare(a.Title, b.Title))
	})
	return out
}

// LookupCheckpoint implements server.Catalogs over the live workers'
// checkpoints, with the catalog's own alias rule.
func (k *Catalog) LookupCheckpoint(name string) (catalog.Checkpoint, error) {
	for _, ck := range k.Checkpoints() {
		if ck.Matches(name) {
			return ck, nil
		}
	}
	return catalog.Checkpoint{}, apierr.NotFound("checkpoint %q: not on any live worker", name)
}

// VAEs implements server.Catalogs: every live worker's VAEs, once per
// name, sorted by name.
func (k *Catalog) VAEs() []catalog.VAE {
	var out []catalog.VAE
	names := map[string]bool{}
	for _, hb := range k.live() {
		for _, v := range hb.Catalog.VAEs {
			if !names[v.ModelName] {
				names[v.ModelName] = true
				out = append(out, v)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b catalog.VAE) int { return cmp.Compare(a.ModelName, b.ModelName) })
	return out
}

// RefreshCheckpoints implements server.Catalogs: every live worker
// rescans its checkpoints; the listings have their answers when it
// returns.
func (k *Catalog) RefreshCheckpoints(ctx context.Context) error {
	return k.refresh(ctx, refreshCheckpoints)
}

// RefreshVAEs implements server.Catalogs, as RefreshCheckpoints.
func (k *Catalog) RefreshVAEs(ctx context.Context) error { return k.refresh(ctx, refreshVAEs) }

// What a refresh request rescans.
const (
	refreshCheckpoints = "checkpoints"
	refreshVAEs        = "vae"
	refreshLoras       = "loras"
	refreshEmbeddings  = "embeddings"
)

// refreshRequest asks a worker to rescan; refreshAnswer is its heartbeat
// after the rescan (its catalog changes with checkpoints and VAEs only),
// or why the rescan failed.
type refreshRequest struct {
	What string `json:"what"`
}

type refreshAnswer struct {
	Heartbeat heartbeat `json:"heartbeat"`
	Error     string    `json:"error,omitempty"`
}

// refreshTimeout bounds a worker's rescan: new models are hashed, LoRA
// and embedding files read.
const refreshTimeout = 2 * time.Minute

func (k *Catalog) refresh(ctx context.Context, what string) error {
	req, err := json.Marshal(refreshRequest{What: what})
	if err != nil {
		return err
	}
	ctx, done := context.WithTimeout(ctx, refreshTimeout)
	defer done()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []string
	)
	for _, hb := range k.live() {
		wg.Go(func() {
			m, err := k.c.NC.RequestWithContext(ctx, workerSubject(hb.Worker, "refresh"), req)
			var ans refreshAnswer
			if err == nil {
				err = json.Unmarshal(m.Data, &ans)
			}
			if err != nil { // it died meanwhile: its heartbeat goes too
				k.log.Warn("fleet: refresh", "worker", hb.Worker, "err", err)
				return
			}
			if ans.Error != "" {
				mu.Lock()
				errs = append(errs, ans.Error)
				mu.Unlock()
				return
			}
			k.mu.Lock()
			k.seen[hb.Worker] = seenWorker{hb: ans.Heartbeat, at: time.Now()}
			k.mu.Unlock()
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		slices.Sort(errs)
		return fmt.Errorf("fleet: refresh %s: %s", what, strings.Join(errs, "; "))
	}
	return nil
}
