package server_test

// The generation queue seen through the API: one job at a time, FIFO,
// 503 when full, /progress and /interrupt while a job runs, a client that
// goes away.

import (
	"context"
	"errors"
	"fmt"
	"image"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/runnertest"
)

// blockingRunner blocks every Generate until release is closed (or ctx
// ends), after reporting one step with a preview.
func blockingRunner(env *genEnv, started chan<- string, release <-chan struct{}) {
	env.Runner.GenerateFn = func(ctx context.Context, _ int, req runner.Request) (runner.Result, error) {
		if req.OnStep != nil {
			req.OnStep(runner.Progress{Step: 1, Steps: req.Steps, Preview: []image.Image{runnertest.SeedImage(7, req.Width, req.Height)}})
		}
		started <- req.Prompts[0]
		select {
		case <-release:
			return runnertest.SeedPattern(req), nil
		case <-ctx.Done():
			return runner.Result{}, fmt.Errorf("%w: %w", runner.ErrInterrupted, ctx.Err())
		}
	}
}

func TestQueueFull503(t *testing.T) {
	t.Parallel()
	env := newGenServer(t, withQueueCap(0))
	started, release := make(chan string, 4), make(chan struct{})
	blockingRunner(env, started, release)
	done := make(chan int, 1)
	go func() {
		res := env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, simpleTxt2Img()))
		done <- res.Status
	}()
	waitFor(t, started)
	res := env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, simpleTxt2Img()))
	assertStatus(t, res, http.StatusServiceUnavailable)
	assertJSON(t, res.Body, httpExc(503, "Queue is full"))
	close(release)
	if got := waitFor(t, done); got != 200 {
		t.Errorf("the running job: got %d, want 200", got)
	}
	m := env.doRaw(t, env.newRequest(t, http.MethodGet, "/metrics", nil))
	for _, want := range []string{`sdapi_jobs_total{mode="txt2img",outcome="rejected"} 1`, `sdapi_jobs_total{mode="txt2img",outcome="ok"} 1`,
		"sdapi_queue_depth 0", "sdapi_job_duration_seconds_count{mode=\"txt2img\"} 1", "sdapi_step_duration_seconds_bucket"} {
		if !strings.Contains(string(m.Body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func waitFor[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatal("timed out")
		var zero T
		return zero
	}
}

// Test16ConcurrentInOrder: 16 clients, each admitted after the previous
// one, all complete with 200 and reach the runner in arrival order.
func Test16ConcurrentInOrder(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	started, release := make(chan string, 32), make(chan struct{})
	blockingRunner(env, started, release)
	var wg sync.WaitGroup
	statuses := make([]int, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, with(simpleTxt2Img(), "prompt", fmt.Sprintf("job %02d", i))))
			statuses[i] = res.Status
		}()
		if i == 0 {
			waitFor(t, started)
		} else {
			waitUntil(t, func() bool { return env.Queue.Snapshot().Waiting == i })
		}
	}
	close(release)
	wg.Wait()
	var order []string
	order = append(order, "job 00")
	for range 15 {
		order = append(order, waitFor(t, started))
	}
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("job %d: status %d", i, s)
		}
		if want := fmt.Sprintf("job %02d", i); order[i] != want {
			t.Errorf("run %d was %q, want %q (FIFO)", i, order[i], want)
		}
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestProgressWhileRunning(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	started, release := make(chan string, 4), make(chan struct{})
	blockingRunner(env, started, release)
	done := make(chan int, 2)
	go func() {
		done <- env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, with(simpleTxt2Img(), "force_task_id", "task(a)"))).Status
	}()
	waitFor(t, started)
	go func() {
		done <- env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, with(simpleTxt2Img(), "force_task_id", "task(b)"))).Status
	}()
	waitUntil(t, func() bool { return env.Queue.Snapshot().Waiting == 1 })

	start := time.Now()
	res := env.do(t, http.MethodGet, "/sdapi/v1/progress", nil)
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("/progress took %v while a job runs", d)
	}
	assertStatus(t, res, http.StatusOK)
	var pr struct {
		Progress     float64
		CurrentImage *string `json:"current_image"`
		State        struct {
			Job      string
			JobCount int `json:"job_count"`
		}
	}
	pr = decode[struct {
		Progress     float64
		CurrentImage *string `json:"current_image"`
		State        struct {
			Job      string
			JobCount int `json:"job_count"`
		}
	}](t, res.Body)
	if pr.State.JobCount != 1 || pr.State.Job == "" || pr.Progress <= 0 {
		t.Errorf("progress while running: %s", res.Body)
	}
	if pr.CurrentImage == nil {
		t.Errorf("no current_image while a preview exists")
	} else {
		decodeB64Image(t, *pr.CurrentImage)
	}
	res = env.do(t, http.MethodGet, "/sdapi/v1/progress?skip_current_image=true", nil)
	if strings.Contains(string(res.Body), `"current_image":"`) {
		t.Errorf("skip_current_image ignored")
	}

	ip := env.do(t, http.MethodPost, "/internal/progress", []byte(`{"id_task":"task(a)","id_live_preview":-1}`))
	assertStatus(t, ip, http.StatusOK)
	a := decode[map[string]any](t, ip.Body)
	if a["active"] != true || a["queued"] != false || a["live_preview"] == nil || !strings.HasPrefix(a["live_preview"].(string), "data:image/png;base64,") {
		t.Errorf("/internal/progress active task: %s", ip.Body)
	}
	again := decode[map[string]any](t, env.do(t, http.MethodPost, "/internal/progress", mustJSON(t, map[string]any{"id_task": "task(a)", "id_live_preview": a["id_live_preview"]})).Body)
	if again["live_preview"] != nil {
		t.Errorf("same preview sent twice for the same id_live_preview")
	}
	ip = env.do(t, http.MethodPost, "/internal/progress", []byte(`{"id_task":"task(b)"}`))
	assertJSON(t, ip.Body, `{"active":false,"queued":true,"completed":false,"progress":null,"eta":null,"live_preview":null,"id_live_preview":-1,"textinfo":"In queue: 1/1"}`)

	close(release)
	waitFor(t, done)
	waitFor(t, done)
	ip = env.do(t, http.MethodPost, "/internal/progress", []byte(`{"id_task":"task(a)"}`))
	assertJSON(t, ip.Body, `{"active":false,"queued":false,"completed":true,"progress":null,"eta":null,"live_preview":null,"id_live_preview":-1,"textinfo":"Waiting..."}`)
}

// TestInterruptReturnsImagesSoFar: the first batch finishes, the second
// blocks until /interrupt cancels it; the answer is 200 with one image.
func TestInterruptReturnsImagesSoFar(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	blocked := make(chan struct{})
	ctxSeen := make(chan error, 1)
	env.Runner.GenerateFn = func(ctx context.Context, _ int, req runner.Request) (runner.Result, error) {
		if req.Seeds[0] == 100 {
			return runnertest.SeedPattern(req), nil
		}
		close(blocked)
		<-ctx.Done()
		ctxSeen <- ctx.Err()
		return runner.Result{}, fmt.Errorf("%w: %w", runner.ErrInterrupted, ctx.Err())
	}
	done := make(chan []byte, 1)
	go func() {
		res := env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, with(simpleTxt2Img(), "seed", 100, "n_iter", 3)))
		assertStatus(t, res, http.StatusOK)
		done <- res.Body
	}()
	waitFor(t, blocked)
	assertStatus(t, env.do(t, http.MethodPost, "/sdapi/v1/interrupt", nil), http.StatusOK)
	if err := waitFor(t, ctxSeen); !errors.Is(err, context.Canceled) {
		t.Errorf("runner ctx: %v", err)
	}
	r := decode[genResponse](t, waitFor(t, done))
	if len(r.Images) != 1 {
		t.Errorf("interrupted job: got %d images, want the 1 finished", len(r.Images))
	}
	if n := len(env.Runner.Calls()); n != 2 {
		t.Errorf("runner called %d times after interrupt, want 2 (no third batch)", n)
	}
	m := env.doRaw(t, env.newRequest(t, http.MethodGet, "/metrics", nil))
	if !strings.Contains(string(m.Body), `sdapi_jobs_total{mode="txt2img",outcome="interrupted"} 1`) {
		t.Errorf("/metrics does not count the interrupted job")
	}
}

// TestClientGoneCancelsJob: the client's disconnect reaches the runner's
// context, and the next job runs.
func TestClientGoneCancelsJob(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	started, release := make(chan string, 4), make(chan struct{})
	blockingRunner(env, started, release)
	ctx, cancel := context.WithCancel(t.Context())
	req := env.newRequest(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, simpleTxt2Img())).WithContext(ctx)
	errc := make(chan error, 1)
	go func() {
		resp, err := env.Client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitFor(t, started)
	cancel()
	if err := waitFor(t, errc); err == nil {
		t.Errorf("cancelled request got an answer")
	}
	waitUntil(t, func() bool { return env.Queue.Snapshot().Running == "" })
	close(release)
	assertStatus(t, env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, simpleTxt2Img())), http.StatusOK)
}
