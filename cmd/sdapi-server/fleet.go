package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/sdapi/sdapi/fleet"
	"github.com/sdapi/sdapi/server"
)

// The roles of --role.
const (
	roleAll    = "all"    // HTTP API and jobs in one process (the default)
	roleAPI    = "api"    // HTTP API; jobs run on the fleet's workers
	roleWorker = "worker" // runs the fleet's jobs; serves /metrics only
)

// fleetFlags are the flags of a fleet on NATS JetStream.
type fleetFlags struct {
	role    string
	nats    string
	listen  string
	creds   string
	ackWait time.Duration
}

func (f *fleetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.role, "role", roleAll, `"all": API and jobs in this process; "api": HTTP API, jobs on the fleet's workers; "worker": run the fleet's jobs, serve /metrics only (api and worker need --nats)`)
	fs.StringVar(&f.nats, "nats", "", `NATS server URL(s) of the fleet (nats://host:4222, tls://..., comma-separated for a cluster), or "embedded" to start one in this process (JetStream store in DATA-DIR/nats); none: no fleet`)
	fs.StringVar(&f.listen, "nats-listen", "", "with --nats embedded: host:port other processes join the embedded NATS server on (none: this process only)")
	fs.StringVar(&f.creds, "nats-creds", "", "NATS credentials file (user JWT and seed)")
	fs.DurationVar(&f.ackWait, "nats-ack-wait", 30*time.Second, "a job whose worker sent no ack for this long is redelivered to another worker (running jobs send in-progress acks at a third of it)")
}

// check validates the fleet flags once, after parsing.
func (f fleetFlags) check() error {
	switch f.role {
	case roleAll, roleAPI, roleWorker:
	default:
		return fmt.Errorf("--role %q: want all, api or worker", f.role)
	}
	if f.role != roleAll && f.nats == "" {
		return fmt.Errorf("--role %s needs --nats (a NATS URL or embedded)", f.role)
	}
	if f.listen != "" && f.nats != fleet.Embedded {
		return errors.New("--nats-listen needs --nats embedded")
	}
	if f.ackWait < 3*time.Millisecond {
		return errors.New("--nats-ack-wait must be positive")
	}
	return nil
}

// workerID names this process in the fleet: host and pid, unique on a
// machine and readable in logs.
func workerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "worker"
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}

// connectFleet joins (or starts) the fleet's NATS when --nats is set; nil
// without it.
func connectFleet(ctx context.Context, log *slog.Logger, cfg config, id string) (*fleet.Conn, error) {
	if cfg.fleet.nats == "" {
		return nil, nil
	}
	// The APIs bound the fleet's queue: they admit jobs.
	queueSize := cfg.queueSize
	if cfg.fleet.role == roleWorker {
		queueSize = 0
	}
	return fleet.Connect(ctx, fleet.Config{
		URL:       cfg.fleet.nats,
		Listen:    cfg.fleet.listen,
		StoreDir:  filepath.Join(cfg.dataDir, "nats"),
		Creds:     cfg.fleet.creds,
		Name:      "sdapi-" + cfg.fleet.role + "-" + id,
		QueueSize: queueSize,
		AckWait:   cfg.fleet.ackWait,
	}, log)
}

// runWorker runs w until the returned stop is called; stop lets the
// running job finish until its ctx is done, then aborts it (it goes back
// to the stream), and returns once the worker has stopped.
func runWorker(w *fleet.Worker, srv *server.Server, log *slog.Logger) (stop func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.Run(ctx, srv); err != nil {
			log.Error("fleet worker stopped", "worker", w.ID(), "err", err)
		}
	}()
	return func(grace context.Context) {
		cancel()
		select {
		case <-done:
		case <-grace.Done():
			w.Abort()
			<-done
		}
	}
}
