package queue_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sdapi/sdapi/processing/queue"
)

// Ensure 16 concurrent requests complete in the order they were accepted
// (issue 4: "16 concurrent requests all complete, in order").
func TestStrictFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 16
		q := queue.New(n)
		ctx := t.Context()

		first := submit(ctx, q, "", "first", gated)
		<-first.started

		var order []int // appended by job functions, which the queue serialises
		calls := make([]*call, n)
		for i := range n {
			calls[i] = submit(ctx, q, "", fmt.Sprintf("job-%d", i), func(context.Context, *call) error {
				s := q.Snapshot()
				if want := fmt.Sprintf("job-%d", i); s.Running != want {
					t.Errorf("job %d: Snapshot().Running = %q, want %q", i, s.Running, want)
				}
				if s.Waiting != n-1-i {
					t.Errorf("job %d: Snapshot().Waiting = %d, want %d", i, s.Waiting, n-1-i)
				}
				order = append(order, i)
				return nil
			})
			synctest.Wait() // submitter i is now waiting, so i+1 arrives after it
			if got := q.Snapshot().Waiting; got != i+1 {
				t.Fatalf("after submitter %d: Waiting = %d, want %d", i, got, i+1)
			}
		}

		close(first.release)
		for i, c := range calls {
			if err := <-c.result; err != nil {
				t.Errorf("job %d: DoTask = %v, want nil", i, err)
			}
		}
		if want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}; !slices.Equal(order, want) {
			t.Errorf("run order = %v, want %v", order, want)
		}
		s := q.Snapshot()
		if s.Accepted != n+1 || s.Completed != n+1 || s.Waiting != 0 || s.Running != "" {
			t.Errorf("Snapshot() = %+v, want %d accepted and completed, idle", s, n+1)
		}
		checkInvariant(t, s)
	})
}

// Ensure no two job functions ever overlap, under real scheduling.
func TestOneAtATime(t *testing.T) {
	const n = 64
	q := queue.New(n)
	var inFlight, maxInFlight, runs atomic.Int32
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			err := q.Do(t.Context(), fmt.Sprintf("job-%d", i), func(context.Context) error {
				cur := inFlight.Add(1)
				for {
					m := maxInFlight.Load()
					if cur <= m || maxInFlight.CompareAndSwap(m, cur) {
						break
					}
				}
				runtime.Gosched() // give another job the chance to overlap, if it could
				runs.Add(1)
				inFlight.Add(-1)
				return nil
			})
			if err != nil {
				t.Errorf("Do = %v, want nil", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := maxInFlight.Load(); got != 1 {
		t.Errorf("max jobs in flight = %d, want 1", got)
	}
	if got := runs.Load(); got != n {
		t.Errorf("runs = %d, want %d", got, n)
	}
	checkInvariant(t, q.Snapshot())
}

// Ensure a job that would wait behind capacity others is refused at once
// (the test's own goroutine would deadlock the bubble if Do blocked).
func TestQueueFull(t *testing.T) {
	for _, tc := range []struct {
		name     string
		capacity int
		waiters  int // jobs that fit behind the running one
	}{
		{"capacity 0", 0, 0},
		{"negative capacity counts as 0", -3, 0},
		{"capacity 1", 1, 1},
		{"capacity 4", 4, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q := queue.New(tc.capacity)
				ctx := t.Context()
				running := submit(ctx, q, "", "running", gated)
				<-running.started
				waiting := make([]*call, tc.waiters)
				for i := range waiting {
					waiting[i] = submit(ctx, q, "", fmt.Sprintf("waiter-%d", i), nil)
				}
				synctest.Wait()

				called := false
				err := q.Do(ctx, "one too many", func(context.Context) error { called = true; return nil })
				if !errors.Is(err, queue.ErrQueueFull) {
					t.Errorf("Do on a full queue = %v, want ErrQueueFull", err)
				}
				if called {
					t.Error("the refused job ran")
				}
				s := q.Snapshot()
				if s.Rejected != 1 || s.Waiting != tc.waiters {
					t.Errorf("Snapshot() = %+v, want Rejected 1, Waiting %d", s, tc.waiters)
				}
				checkInvariant(t, s)

				close(running.release)
				for _, c := range append(waiting, running) {
					if err := <-c.result; err != nil {
						t.Errorf("DoTask = %v, want nil", err)
					}
				}
				// Once drained, the queue admits again.
				if err := q.Do(ctx, "after", func(context.Context) error { return nil }); err != nil {
					t.Errorf("Do after draining = %v, want nil", err)
				}
			})
		})
	}
}

// Ensure a waiting job whose context is done leaves the queue at once,
// frees its place, and never runs, wherever it waits.
func TestCancelledWaiterDropped(t *testing.T) {
	cause := errors.New("client went away")
	for _, tc := range []struct {
		name   string
		target int   // which of three waiters is cancelled
		cause  error // nil: plain cancel
	}{
		{"first waiter", 0, nil},
		{"middle waiter", 1, nil},
		{"last waiter", 2, nil},
		{"with a cause", 1, cause},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q := queue.New(3)
				running := submit(t.Context(), q, "", "running", gated)
				<-running.started

				var order []string
				var cancels []context.CancelCauseFunc
				var waiters []*call
				for i := range 3 {
					ctx, cancel := context.WithCancelCause(t.Context())
					cancels = append(cancels, cancel)
					name := fmt.Sprintf("waiter-%d", i)
					waiters = append(waiters, submit(ctx, q, "", name, func(context.Context, *call) error {
						order = append(order, name)
						return nil
					}))
					synctest.Wait()
				}

				cancels[tc.target](tc.cause)
				synctest.Wait()
				ok, err := waiters[tc.target].returned()
				if !ok {
					t.Fatal("the cancelled waiter is still blocked while another job runs")
				}
				if !errors.Is(err, context.Canceled) {
					t.Errorf("DoTask = %v, want it to wrap context.Canceled", err)
				}
				if tc.cause != nil && !errors.Is(err, tc.cause) {
					t.Errorf("DoTask = %v, want it to wrap the cause %v", err, tc.cause)
				}
				s := q.Snapshot()
				if s.Waiting != 2 || s.Dropped != 1 {
					t.Errorf("Snapshot() = %+v, want Waiting 2, Dropped 1", s)
				}
				checkInvariant(t, s)

				close(running.release)
				for i, c := range waiters {
					if err := <-c.result; i != tc.target && err != nil {
						t.Errorf("waiter %d: DoTask = %v, want nil", i, err)
					}
				}
				if waiters[tc.target].ran() {
					t.Error("the cancelled waiter ran")
				}
				var want []string
				for i := range 3 {
					if i != tc.target {
						want = append(want, fmt.Sprintf("waiter-%d", i))
					}
				}
				if !slices.Equal(order, want) {
					t.Errorf("run order = %v, want %v", order, want)
				}
				checkInvariant(t, q.Snapshot())
				for _, cancel := range cancels {
					cancel(nil)
				}
			})
		})
	}
}

// Ensure a waiter whose deadline passes while a long job runs is dropped at
// its deadline, not when the long job ends.
func TestWaiterDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := queue.New(1)
		start := time.Now()
		long := submit(t.Context(), q, "", "long", func(context.Context, *call) error {
			time.Sleep(10 * time.Minute) // the bubble's fake clock: a long job
			return nil
		})
		<-long.started

		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		err := q.Do(ctx, "impatient", func(context.Context) error {
			t.Error("the expired waiter ran")
			return nil
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Do = %v, want it to wrap context.DeadlineExceeded", err)
		}
		if got := time.Since(start); got != time.Minute {
			t.Errorf("Do returned after %v, want 1m0s", got)
		}
		if err := <-long.result; err != nil {
			t.Errorf("long job = %v, want nil", err)
		}
	})
}

// Ensure a waiter cancelled just as the queue is handed on is dropped,
// whether it notices first or the handoff does (drop on dequeue), and the
// job behind it runs.
func TestCancelAtHandoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := queue.New(2)
		running := submit(t.Context(), q, "", "running", gated)
		<-running.started
		ctx, cancel := context.WithCancel(t.Context())
		victim := submit(ctx, q, "", "victim", nil)
		synctest.Wait()
		next := submit(t.Context(), q, "", "next", nil)
		synctest.Wait()

		cancel()
		close(running.release) // races with the victim noticing its cancellation

		if err := <-victim.result; !errors.Is(err, context.Canceled) {
			t.Errorf("victim: DoTask = %v, want it to wrap context.Canceled", err)
		}
		if err := <-next.result; err != nil {
			t.Errorf("next: DoTask = %v, want nil", err)
		}
		if victim.ran() {
			t.Error("the cancelled victim ran")
		}
		s := q.Snapshot()
		if s.Completed != 2 || s.Dropped != 1 {
			t.Errorf("Snapshot() = %+v, want Completed 2, Dropped 1", s)
		}
		checkInvariant(t, s)
	})
}

// Ensure the running job's context is cancelled when its caller's is, and
// the next job runs after it returns.
func TestRunningJobSeesCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := queue.New(1)
		cause := errors.New("client went away")
		ctx, cancel := context.WithCancelCause(t.Context())
		running := submit(ctx, q, "", "running", func(ctx context.Context, _ *call) error {
			<-ctx.Done()
			return context.Cause(ctx)
		})
		<-running.started
		next := submit(t.Context(), q, "", "next", nil)
		synctest.Wait()

		cancel(cause)
		if err := <-running.result; !errors.Is(err, cause) {
			t.Errorf("running: DoTask = %v, want %v", err, cause)
		}
		if err := <-next.result; err != nil {
			t.Errorf("next: DoTask = %v, want nil", err)
		}
		s := q.Snapshot()
		if s.Completed != 2 || s.Failed != 1 || s.Dropped != 0 {
			t.Errorf("Snapshot() = %+v, want Completed 2, Failed 1, Dropped 0", s)
		}
		checkInvariant(t, s)
	})
}

// Ensure a job that panics or exits its goroutine does not wedge the queue.
func TestJobPanicRecovered(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		fn      func(context.Context) error
		wantIs  []error
		wantVal func(any) bool
	}{
		{
			name:    "string value",
			fn:      func(context.Context) error { panic("kaboom") },
			wantIs:  []error{queue.ErrJobPanicked},
			wantVal: func(v any) bool { return v == "kaboom" },
		},
		{
			name:    "error value",
			fn:      func(context.Context) error { panic(boom) },
			wantIs:  []error{queue.ErrJobPanicked, boom},
			wantVal: func(v any) bool { return v == boom },
		},
		{
			name:   "nil value",
			fn:     func(context.Context) error { panic(nil) },
			wantIs: []error{queue.ErrJobPanicked},
			wantVal: func(v any) bool {
				_, ok := v.(*runtime.PanicNilError)
				return ok
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q := queue.New(1)
				next := make(chan *call, 1)
				err := q.Do(t.Context(), "panicky", func(ctx context.Context) error {
					next <- submit(t.Context(), q, "", "next", nil) // waits behind the panic
					synctest.Wait()
					return tc.fn(ctx)
				})
				for _, target := range tc.wantIs {
					if !errors.Is(err, target) {
						t.Errorf("Do = %v, want it to wrap %v", err, target)
					}
				}
				var pe *queue.PanicError
				if !errors.As(err, &pe) {
					t.Fatalf("Do = %T, want *queue.PanicError", err)
				}
				if pe.Job != "panicky" || !tc.wantVal(pe.Value) || len(pe.Stack) == 0 {
					t.Errorf("PanicError = {Job %q, Value %v, %d stack bytes}", pe.Job, pe.Value, len(pe.Stack))
				}
				if err := <-(<-next).result; err != nil {
					t.Errorf("next job after the panic: DoTask = %v, want nil", err)
				}
				s := q.Snapshot()
				if s.Completed != 2 || s.Failed != 1 {
					t.Errorf("Snapshot() = %+v, want Completed 2, Failed 1", s)
				}
			})
		})
	}

	t.Run("runtime.Goexit", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := queue.New(1)
			exited := make(chan struct{})
			go func() {
				defer close(exited)
				_ = q.Do(t.Context(), "goexit", func(context.Context) error {
					runtime.Goexit()
					return nil
				})
				t.Error("Do returned on a goroutine that called runtime.Goexit")
			}()
			<-exited
			if err := q.Do(t.Context(), "next", func(context.Context) error { return nil }); err != nil {
				t.Errorf("next job after Goexit: Do = %v, want nil", err)
			}
			s := q.Snapshot()
			if s.Completed != 2 || s.Failed != 1 {
				t.Errorf("Snapshot() = %+v, want Completed 2, Failed 1", s)
			}
		})
	})
}

func TestClose(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		q := queue.New(1)
		if err := q.Close(t.Context()); err != nil {
			t.Errorf("Close = %v, want nil", err)
		}
		err := q.Do(t.Context(), "late", func(context.Context) error {
			t.Error("a job ran after Close")
			return nil
		})
		if !errors.Is(err, queue.ErrClosed) {
			t.Errorf("Do after Close = %v, want ErrClosed", err)
		}
		if s := q.Snapshot(); s.Rejected != 1 || s.Accepted != 0 {
			t.Errorf("Snapshot() = %+v, want Rejected 1, Accepted 0", s)
		}
		if err := q.Close(t.Context()); err != nil {
			t.Errorf("second Close = %v, want nil", err)
		}
	})

	// Waiters are refused at once; Close returns when the running job does.
	t.Run("lets the running job finish", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := queue.New(2)
			running := submit(t.Context(), q, "", "running", gated)
			<-running.started
			w1 := submit(t.Context(), q, "", "w1", nil)
			w2 := submit(t.Context(), q, "", "w2", nil)
			synctest.Wait()

			closed := make(chan error, 1)
			go func() { closed <- q.Close(t.Context()) }()
			synctest.Wait()
			for _, w := range []*call{w1, w2} {
				ok, err := w.returned()
				if !ok || !errors.Is(err, queue.ErrClosed) {
					t.Errorf("waiter after Close: returned %v, %v; want ErrClosed at once", ok, err)
				}
			}
			select {
			case err := <-closed:
				t.Fatalf("Close returned %v while a job runs", err)
			default:
			}
			if s := q.Snapshot(); s.Running != "running" || s.Waiting != 0 || s.Dropped != 2 {
				t.Errorf("Snapshot() = %+v, want running, 0 waiting, 2 dropped", s)
			}

			close(running.release)
			if err := <-closed; err != nil {
				t.Errorf("Close = %v, want nil", err)
			}
			if err := <-running.result; err != nil {
				t.Errorf("running job = %v, want nil", err)
			}
			if w1.ran() || w2.ran() {
				t.Error("a waiter ran after Close")
			}
			checkInvariant(t, q.Snapshot())
		})
	})

	t.Run("cancels the running job when ctx expires", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := queue.New(1)
			running := submit(t.Context(), q, "", "stubborn", func(ctx context.Context, _ *call) error {
				<-ctx.Done()
				return context.Cause(ctx)
			})
			<-running.started

			start := time.Now()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			err := q.Close(ctx)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Close = %v, want it to wrap context.DeadlineExceeded", err)
			}
			if got := time.Since(start); got != 5*time.Second {
				t.Errorf("Close took %v, want 5s", got)
			}
			if err := <-running.result; !errors.Is(err, queue.ErrClosed) {
				t.Errorf("running job = %v, want cause ErrClosed", err)
			}
			if s := q.Snapshot(); s.Running != "" || s.Completed != 1 || s.Failed != 1 {
				t.Errorf("Snapshot() = %+v, want idle, Completed 1, Failed 1", s)
			}
		})
	})
}

// Ensure nothing the queue started outlives Close: every submitter returns
// and the bubble's goroutine count is back to its baseline (synctest.Test
// also fails if a goroutine of the bubble is still blocked at the end).
func TestNoGoroutinesAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := bubbleGoroutines(t)
		q := queue.New(8)
		running := submit(t.Context(), q, "", "running", func(ctx context.Context, _ *call) error {
			<-ctx.Done()
			return ctx.Err()
		})
		<-running.started
		waiters := make([]*call, 8)
		for i := range waiters {
			waiters[i] = submit(t.Context(), q, "", fmt.Sprintf("w%d", i), nil)
		}
		synctest.Wait()
		if got := bubbleGoroutines(t); got != base+9 {
			t.Fatalf("goroutines with 9 jobs = %d, want %d", got, base+9)
		}

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := q.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close = %v, want it to wrap context.DeadlineExceeded", err)
		}
		for _, c := range append(waiters, running) {
			<-c.result
		}
		synctest.Wait() // every submitter goroutine has exited
		if got := bubbleGoroutines(t); got != base {
			t.Errorf("goroutines after Close = %d, want the baseline %d", got, base)
		}
	})
}

// Ensure a job submitted with a context that is already done never runs,
// even on an idle queue that hands it the turn at once.
func TestDoneContextNeverRuns(t *testing.T) {
	for _, tc := range []struct {
		name string
		busy bool
	}{
		{"idle queue", false},
		{"busy queue", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q := queue.New(1)
				var running *call
				if tc.busy {
					running = submit(t.Context(), q, "", "running", gated)
					<-running.started
				}
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				err := q.Do(ctx, "late", func(context.Context) error {
					t.Error("a job with a done context ran")
					return nil
				})
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Do = %v, want it to wrap context.Canceled", err)
				}
				if s := q.Snapshot(); s.Dropped != 1 {
					t.Errorf("Snapshot() = %+v, want Dropped 1", s)
				}
				if running != nil {
					close(running.release)
					<-running.result
				}
				checkInvariant(t, q.Snapshot())
			})
		})
	}
}
