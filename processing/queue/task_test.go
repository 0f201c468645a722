package queue_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/sdapi/sdapi/processing/queue"
)

// Ensure TaskStatus answers what /internal/progress needs from the queue
// while jobs run and wait.
func TestTaskStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := queue.New(4)
		a := submit(t.Context(), q, "task(txt2img-A)", "txt2img", gated)
		<-a.started
		b := submit(t.Context(), q, "task(txt2img-B)", "txt2img", nil)
		synctest.Wait()
		untracked := submit(t.Context(), q, "", "extras", nil)
		synctest.Wait()
		ctx, cancel := context.WithCancel(t.Context())
		dropped := submit(ctx, q, "task(img2img-D)", "img2img", nil)
		synctest.Wait()
		c := submit(t.Context(), q, "task(img2img-C)", "img2img", nil)
		synctest.Wait()
		cancel()
		synctest.Wait() // D leaves the queue

		for _, tc := range []struct {
			id   string
			want queue.TaskInfo
		}{
			{"task(txt2img-A)", queue.TaskInfo{Active: true}},
			{"task(txt2img-B)", queue.TaskInfo{Queued: true, QueuePosition: 1, QueueLength: 3}},
			{"task(img2img-C)", queue.TaskInfo{Queued: true, QueuePosition: 3, QueueLength: 3}},
			{"task(img2img-D)", queue.TaskInfo{}}, // dropped before running
			{"task(unknown)", queue.TaskInfo{}},
			{"", queue.TaskInfo{}},
		} {
			if got := q.TaskStatus(tc.id); got != tc.want {
				t.Errorf("while A runs: TaskStatus(%q) = %+v, want %+v", tc.id, got, tc.want)
			}
		}
		if s := q.Snapshot(); s.Running != "txt2img" || s.RunningTask != "task(txt2img-A)" {
			t.Errorf("Snapshot() = %+v, want running txt2img task(txt2img-A)", s)
		}

		close(a.release)
		for _, r := range []*call{a, b, untracked, c} {
			if err := <-r.result; err != nil {
				t.Errorf("DoTask = %v, want nil", err)
			}
		}
		<-dropped.result
		for _, tc := range []struct {
			id   string
			want queue.TaskInfo
		}{
			{"task(txt2img-A)", queue.TaskInfo{Completed: true}},
			{"task(txt2img-B)", queue.TaskInfo{Completed: true}},
			{"task(img2img-C)", queue.TaskInfo{Completed: true}},
			{"task(img2img-D)", queue.TaskInfo{}},
		} {
			if got := q.TaskStatus(tc.id); got != tc.want {
				t.Errorf("after the jobs: TaskStatus(%q) = %+v, want %+v", tc.id, got, tc.want)
			}
		}
	})
}

// Ensure a failed job's task is completed, not left active (A1111's API path
// skips finish_task on an exception and reports the task active until the
// next one starts).
func TestTaskStatusFailedJob(t *testing.T) {
	q := queue.New(0)
	_ = q.DoTask(t.Context(), "task(x)", "txt2img", func(context.Context) error { panic("oops") })
	if got, want := q.TaskStatus("task(x)"), (queue.TaskInfo{Completed: true}); got != want {
		t.Errorf("TaskStatus = %+v, want %+v", got, want)
	}
}

// Ensure only the last 16 finished tasks are remembered, as A1111's
// finished_tasks.
func TestTaskStatusForgetsOldTasks(t *testing.T) {
	q := queue.New(0)
	for i := range 17 {
		if err := q.DoTask(t.Context(), fmt.Sprintf("task-%d", i), "job", func(context.Context) error { return nil }); err != nil {
			t.Fatalf("DoTask %d = %v", i, err)
		}
	}
	for i := range 17 {
		want := i > 0
		if got := q.TaskStatus(fmt.Sprintf("task-%d", i)).Completed; got != want {
			t.Errorf("task-%d: Completed = %v, want %v", i, got, want)
		}
	}
}
