package queue_test

import (
	"bytes"
	"context"
	"regexp"
	"runtime"
	"testing"

	"github.com/sdapi/sdapi/processing/queue"
)

// call is one DoTask running on its own goroutine.
type call struct {
	started chan struct{} // closed when the job function begins
	release chan struct{} // closed by the test to let a gated job return
	result  chan error    // DoTask's result, buffered
}

// submit starts DoTask on a new goroutine with a job function that signals
// started, then runs body. body may be nil.
func submit(ctx context.Context, q *queue.Queue, task, name string, body func(ctx context.Context, c *call) error) *call {
	c := &call{
		started: make(chan struct{}),
		release: make(chan struct{}),
		result:  make(chan error, 1),
	}
	go func() {
		c.result <- q.DoTask(ctx, task, name, func(ctx context.Context) error {
			close(c.started)
			if body == nil {
				return nil
			}
			return body(ctx, c)
		})
	}()
	return c
}

// gated is a job body that returns when the test closes c.release.
func gated(_ context.Context, c *call) error {
	<-c.release
	return nil
}

// ran reports whether the job function of c has begun.
func (c *call) ran() bool {
	select {
	case <-c.started:
		return true
	default:
		return false
	}
}

// returned reports whether DoTask has returned, and its result.
func (c *call) returned() (bool, error) {
	select {
	case err := <-c.result:
		c.result <- err // keep it for later readers
		return true, err
	default:
		return false, nil
	}
}

// checkInvariant checks Accepted == Completed + Dropped + Waiting (+1 while
// a job runs).
func checkInvariant(t *testing.T, s queue.Stats) {
	t.Helper()
	running := uint64(0)
	if s.Running != "" {
		running = 1
	}
	if got, want := s.Accepted, s.Completed+s.Dropped+uint64(s.Waiting)+running; got != want {
		t.Errorf("Accepted = %d, want Completed+Dropped+Waiting+running = %d (%+v)", got, want, s)
	}
}

var bubbleHeader = regexp.MustCompile(`(?m)^goroutine \d+ \[[^\]]*synctest bubble \d+\]:$`)

// bubbleGoroutines counts the live goroutines of the calling synctest
// bubble. runtime.NumGoroutine would not do: it counts the whole process and
// briefly still counts goroutines that have just exited. The goroutine dump
// lists only live goroutines and tags each with its bubble.
func bubbleGoroutines(t *testing.T) int {
	t.Helper()
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	if !bytes.Contains(buf, []byte("synctest bubble")) {
		t.Fatal("the goroutine dump tags no goroutine with its synctest bubble; the format changed")
	}
	return len(bubbleHeader.FindAll(buf, -1))
}
