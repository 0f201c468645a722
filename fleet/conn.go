package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Embedded is the --nats value that starts a NATS server in the process.
const Embedded = "embedded"

// Config says how to reach NATS and how to shape the fleet's streams.
type Config struct {
	// URL is a NATS URL or comma-separated list (nats://, tls://), or
	// Embedded.
	URL string
	// Listen is the host:port an embedded server accepts other processes
	// on; "" accepts none (this process only).
	Listen string
	// StoreDir is an embedded server's JetStream store.
	StoreDir string
	// Creds is a NATS credentials file (JWT and seed); "" is none.
	Creds string
	// Name names the connection in the NATS server's monitoring.
	Name string
	// QueueSize bounds the jobs stream: jobs waiting or running across the
	// fleet; the last API process to start sets it. 0 (a worker's) keeps
	// the bound the stream has, or leaves a new one unbounded until an API
	// starts.
	QueueSize int
	// AckWait is how long a job may go without an ack or in-progress ack
	// before it is redelivered to another worker; 0 is 30 s.
	AckWait time.Duration
}

// Conn is a connection to the fleet's NATS, with the embedded server when
// there is one.
type Conn struct {
	NC  *nats.Conn
	JS  jetstream.JetStream
	cfg Config
	ns  *natsserver.Server
	// closed is closed once the connection is, after a drain.
	closed chan struct{}
	log    *slog.Logger

	stream  jetstream.Stream
	blobs   jetstream.ObjectStore
	workers jetstream.KeyValue
	options jetstream.KeyValue
}

// Connect connects to NATS (starting the embedded server first when
// cfg.URL is Embedded) and creates or updates the fleet's stream, consumer
// and buckets.
func Connect(ctx context.Context, cfg Config, log *slog.Logger) (*Conn, error) {
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	c := &Conn{cfg: cfg, log: log, closed: make(chan struct{})}
	opts := []nats.Option{nats.Name(cfg.Name), nats.MaxReconnects(-1),
		nats.ClosedHandler(func(*nats.Conn) { close(c.closed) })}
	if cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	url := cfg.URL
	if url == Embedded {
		ns, err := startEmbedded(cfg)
		if err != nil {
			return nil, err
		}
		c.ns = ns
		opts = append(opts, nats.InProcessServer(ns))
		url = ""
		if cfg.Listen != "" {
			log.Info("nats listening", "url", ns.ClientURL(), "store", cfg.StoreDir)
		}
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("nats connect: %w", err)
	}
	c.NC = nc
	if c.JS, err = jetstream.New(nc); err != nil {
		c.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if err := c.setup(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// startEmbedded starts a NATS server with JetStream in this process.
func startEmbedded(cfg Config) (*natsserver.Server, error) {
	o := &natsserver.Options{
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		DontListen: cfg.Listen == "",
		ServerName: cfg.Name,
	}
	if cfg.Listen != "" {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("--nats-listen %q: %w", cfg.Listen, err)
		}
		if o.Port, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("--nats-listen %q: port: %w", cfg.Listen, err)
		}
		o.Host = host
	}
	ns, err := natsserver.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded nats: not ready within 10s")
	}
	return ns, nil
}

// setup creates what the fleet uses, or updates it to this process's
// configuration (the queue size and ack wait of the last process to start
// win).
func (c *Conn) setup(ctx context.Context) error {
	maxMsgs := int64(c.cfg.QueueSize)
	if maxMsgs <= 0 {
		maxMsgs = -1
		if st, err := c.JS.Stream(ctx, jobsStream); err == nil {
			maxMsgs = st.CachedInfo().Config.MaxMsgs
		} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("jobs stream: %w", err)
		}
	}
	var err error
	c.stream, err = c.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        jobsStream,
		Description: "sdapi generation jobs, FIFO, one worker each",
		Subjects:    []string{jobsSubject + ".>"},
		Retention:   jetstream.WorkQueuePolicy,
		MaxMsgs:     maxMsgs,
		Discard:     jetstream.DiscardNew,
		Storage:     jetstream.FileStorage,
		Duplicates:  2 * time.Minute,
	})
	if err != nil {
		return fmt.Errorf("jobs stream: %w", err)
	}
	err = c.stream.DeleteConsumer(ctx, legacyConsumer)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("jobs stream: remove the unrouted consumer: %w", err)
	}
	if c.blobs, err = c.JS.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      blobBucket,
		Description: "sdapi job bodies and results too large for a message",
		TTL:         time.Hour, // what a crashed API never collected
	}); err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	if c.workers, err = c.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      workersBucket,
		Description: "sdapi workers' heartbeats",
		TTL:         workerTTL,
		Storage:     jetstream.MemoryStorage,
	}); err != nil {
		return fmt.Errorf("workers bucket: %w", err)
	}
	if c.options, err = c.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      optionsBucket,
		Description: "sdapi /options shared by the fleet",
	}); err != nil {
		return fmt.Errorf("options bucket: %w", err)
	}
	return nil
}

// modelJobs returns the consumer of the jobs of model key, created when
// it is not there (by the first worker holding the model; the ack wait of
// the last one to start wins). Consumers of distinct keys filter distinct
// subjects, as a work-queue stream requires.
func (c *Conn) modelJobs(ctx context.Context, key string) (jetstream.Consumer, error) {
	cons, err := c.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       modelConsumer(key),
		FilterSubject: jobsSubject + "." + key,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.cfg.AckWait,
		MaxAckPending: -1,
		MaxDeliver:    maxDeliveries,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// A model no worker has held for a day; its jobs, if any, wait
		// in the stream for the next worker to recreate it.
		InactiveThreshold: 24 * time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs consumer %s: %w", key, err)
	}
	return cons, nil
}

// inlineLimit is the largest payload sent in a message; larger ones go
// through the blob store. Half of max_payload leaves room for the JSON
// around it and the headers.
func (c *Conn) inlineLimit() int {
	return int(c.NC.MaxPayload() / 2)
}

// pack is msg as JSON for a message. When that is larger than
// inlineLimit, payload (msg's bulk) goes to the blob store as object blob
// instead and pack is ref, the message naming it; the reader gets payload
// with takeBlob.
func (c *Conn) pack(ctx context.Context, msg any, blob string, payload, ref any) ([]byte, error) {
	data, err := json.Marshal(msg)
	if err != nil || len(data) <= c.inlineLimit() {
		return data, err
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	if _, err := c.blobs.PutBytes(ctx, blob, b); err != nil {
		return nil, fmt.Errorf("store %s: %w", blob, err)
	}
	return json.Marshal(ref)
}

// takeBlob decodes into v the payload pack stored as object blob, and
// deletes the object.
func (c *Conn) takeBlob(ctx context.Context, blob string, v any) error {
	b, err := c.blobs.GetBytes(ctx, blob)
	if err != nil {
		return err
	}
	if err := c.blobs.Delete(ctx, blob); err != nil {
		c.log.Warn("fleet: delete blob", "blob", blob, "err", err) // it expires
	}
	return json.Unmarshal(b, v)
}

// Close drains the connection and stops the embedded server.
func (c *Conn) Close() {
	if c.NC != nil {
		if err := c.NC.Drain(); err == nil {
			<-c.closed
		} else {
			c.NC.Close()
		}
	}
	if c.ns != nil {
		c.ns.Shutdown()
		c.ns.WaitForShutdown()
	}
}
