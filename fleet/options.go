package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/options"
	"github.com/sdapi/sdapi/server"
)

// Options shares /options across the fleet through the sdapi_options
// key-value bucket, one key per option: a POST on any API instance is put
// there (Share), and every process applies each value it sees as a POST of
// that one key would (SetFromAPI: validated, saved in its settings file).
// override_settings never reach the bucket: they stay per job.
type Options struct {
	c     *Conn
	store *options.Store
	log   *slog.Logger
	stop  func()
}

var _ server.OptionsSharer = (*Options)(nil)

// validKey is what a NATS key-value key may hold; A1111's option names
// are identifiers, so all of them do.
var validKey = regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`)

// ShareOptions applies the bucket's values to store, now and as they
// change, until Close.
func ShareOptions(ctx context.Context, c *Conn, store *options.Store, log *slog.Logger) (*Options, error) {
	wctx, cancel := context.WithCancel(context.Background())
	watcher, err := c.options.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("fleet: watch options: %w", err)
	}
	o := &Options{c: c, store: store, log: log}
	var wg sync.WaitGroup
	o.stop = func() { cancel(); _ = watcher.Stop(); wg.Wait() }
	initial := make(chan struct{})
	wg.Go(func() {
		once := sync.OnceFunc(func() { close(initial) })
		defer once()
		for e := range watcher.Updates() {
			if e == nil { // the values stored before the watch are all in
				once()
				continue
			}
			o.apply(wctx, e)
		}
	})
	select {
	case <-initial:
	case <-ctx.Done():
		o.Close()
		return nil, ctx.Err()
	}
	return o, nil
}

func (o *Options) apply(ctx context.Context, e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		return
	}
	var v any
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		o.log.Warn("fleet: bad shared option", "key", e.Key(), "err", err)
		return
	}
	if err := o.store.SetFromAPI(ctx, map[string]any{e.Key(): v}); err != nil {
		// A value this process cannot take (a checkpoint it lacks) leaves
		// its own value in place.
		o.log.Warn("fleet: shared option not applied here", "key", e.Key(), "err", err)
	}
}

// Share implements server.OptionsSharer: it puts each value applied here
// into the bucket.
func (o *Options) Share(ctx context.Context, values map[string]any) error {
	for k, v := range values {
		if !validKey.MatchString(k) {
			o.log.Warn("fleet: option not shared: key unfit for NATS", "key", k)
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if _, err := o.c.options.Put(ctx, k, b); err != nil {
			return fmt.Errorf("fleet: share option %s: %w", k, err)
		}
	}
	return nil
}

// TrackCheckpoint keeps an API's sd_model_checkpoint naming a checkpoint
// of the fleet, now and as workers come and go: the shared value once a
// live worker has it (a value no worker had when it was shared is refused
// here, as a POST of it would be), else what a worker's select_checkpoint
// loads, the first listed. A1111 sets the option when it loads the model;
// an API loads none, so this stands for that load.
func (o *Options) TrackCheckpoint(cat *Catalog) {
	track := func() {
		cur := o.store.String("sd_model_checkpoint")
		if _, err := cat.LookupCheckpoint(cur); err == nil {
			return
		}
		ctx, done := context.WithTimeout(context.Background(), requestTimeout)
		defer done()
		if e, err := o.c.options.Get(ctx, "sd_model_checkpoint"); err == nil {
			o.apply(ctx, e)
			if _, err := cat.LookupCheckpoint(o.store.String("sd_model_checkpoint")); err == nil {
				return
			}
		}
		if ck, err := processing.SelectCheckpoint(cat, cur); err == nil {
			if err := processing.PublishCheckpoint(o.store, ck); err != nil {
				o.log.Warn("fleet: publish checkpoint", "err", err)
			}
		}
	}
	cat.OnChange(track)
	track()
}

// Close stops applying the bucket's changes.
func (o *Options) Close() { o.stop() }
