package main

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
)

// lifecycle implements server.Lifecycle: done closes when the server should
// stop, on a signal (through ctx) or a stop or restart through the API.
type lifecycle struct {
	done    chan struct{}
	once    sync.Once
	restart atomic.Bool
}

func newLifecycle(ctx context.Context) *lifecycle {
	l := &lifecycle{done: make(chan struct{})}
	context.AfterFunc(ctx, l.Stop)
	return l
}

func (l *lifecycle) Stop() { l.once.Do(func() { close(l.done) }) }

// Kill ends the process at once, as A1111's os._exit(0) does.
func (l *lifecycle) Kill() { os.Exit(0) }

// Restart stops serving; main then execs the same binary with the same
// arguments, so settings and flags carry over.
func (l *lifecycle) Restart() error {
	l.restart.Store(true)
	l.Stop()
	return nil
}
