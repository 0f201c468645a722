package server_test

// Fault tests: what a client sees, and what the server is left with, when
// the runner, a model or a client misbehaves.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/runnertest"
)

// secretDir stands for a server directory no client may learn.
const secretDir = "/srv/sdapi-secret/models"

// assertNoLeak fails t if body mentions the server's directories or a
// goroutine stack.
func assertNoLeak(t *testing.T, body []byte) {
	t.Helper()
	for _, s := range []string{secretDir, "sdapi-secret", "goroutine ", ".go:", "panic("} {
		if strings.Contains(string(body), s) {
			t.Errorf("response leaks %q: %s", s, body)
		}
	}
}

// TestRunnerErrorMidBatch: the second of three batches fails. The client
// gets A1111's 500, override_settings are undone, the state is idle, and
// the next request succeeds.
func TestRunnerErrorMidBatch(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	before := env.getOptions(t)
	var calls atomic.Int64
	env.Runner.GenerateFn = func(ctx context.Context, _ int, req runner.Request) (runner.Result, error) {
		if calls.Add(1) == 2 {
			return runner.Result{}, fmt.Errorf("onnxruntime: run %s/x/unet/model.onnx: Status: RUNTIME_EXCEPTION", secretDir)
		}
		return runnertest.SeedPattern(req), nil
	}
	body := simpleTxt2Img()
	body["n_iter"] = 3
	body["override_settings"] = map[string]any{"samples_format": "jpg", "CLIP_stop_at_last_layers": 2}
	res := env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, body))
	assertStatus(t, res, http.StatusInternalServerError)
	assertJSON(t, res.Body, `{"error":"Exception","detail":"","body":"","errors":"internal server error"}`)
	assertNoLeak(t, res.Body)
	if n := calls.Load(); n != 2 {
		t.Errorf("runner called %d times, want 2 (the batch after the failure must not run)", n)
	}
	if after := env.getOptions(t); !reflect.DeepEqual(after, before) {
		t.Errorf("override_settings not restored after the failure")
	}
	prog := decode[map[string]any](t, env.do(t, http.MethodGet, "/sdapi/v1/progress", nil).Body)
	if st, _ := prog["state"].(map[string]any); st["job_count"] != float64(0) {
		t.Errorf("state after failure: %v", prog["state"])
	}
	if q := env.Queue.Snapshot(); q.Running != "" || q.Waiting != 0 {
		t.Errorf("queue after failure: %+v", q)
	}
	env.Runner.GenerateFn = nil
	assertStatus(t, env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, simpleTxt2Img())), http.StatusOK)
}

// TestRunnerPanicIsA500: a panic in the runner, on the queue's goroutine,
// is a 500 without the panic text, and the server keeps serving.
func TestRunnerPanicIsA500(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	env.Runner.GenerateFn = func(context.Context, int, runner.Request) (runner.Result, error) {
		panic("index out of range at " + secretDir + "/x.go:12")
	}
	res := env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, simpleTxt2Img()))
	assertStatus(t, res, http.StatusInternalServerError)
	assertNoLeak(t, res.Body)
	env.Runner.GenerateFn = nil
	assertStatus(t, env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, simpleTxt2Img())), http.StatusOK)
}

// TestNoInternalDetailsInErrors: errors that carry file paths reach the
// client without them. A model error still names the model and its part.
func TestNoInternalDetailsInErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		err   error
		want  []string // substrings the body must have
		class string
	}{
		{"plain error", fmt.Errorf("open %s/tiny-sd/unet/model.onnx: permission denied", secretDir), nil, "Exception"},
		{"wrapped os error", fmt.Errorf("decode: %w", &fsPathError{path: secretDir + "/tiny-sd/vae_decoder/model.onnx"}), nil, "Exception"},
		{"model error with path", fmt.Errorf("%w: unet/model.onnx: open %s/tiny-sd/unet/model.onnx: no such file or directory", runner.ErrModel, secretDir),
			[]string{"unet/model.onnx", "cannot load the model"}, "RuntimeError"},
		{"invalid request with path", fmt.Errorf("%w: tiling: not supported by %s/tiny-sd", runner.ErrInvalidRequest, secretDir), []string{"tiling"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newGenServer(t)
			env.Runner.GenerateFn = func(context.Context, int, runner.Request) (runner.Result, error) { return runner.Result{}, tc.err }
			res := env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, simpleTxt2Img()))
			if res.Status < 400 {
				t.Fatalf("status %d", res.Status)
			}
			assertNoLeak(t, res.Body)
			for _, w := range tc.want {
				if !strings.Contains(string(res.Body), w) {
					t.Errorf("body lacks %q: %s", w, res.Body)
				}
			}
			if tc.class != "" {
				if e := decode[a1111Error](t, res.Body); e.Error != tc.class {
					t.Errorf("error class %q, want %q: %s", e.Error, tc.class, res.Body)
				}
			}
		})
	}
}

type fsPathError struct{ path string }

func (e *fsPathError) Error() string { return "read " + e.path + ": input/output error" }

// TestBrokenModelOnSelection: selecting a checkpoint whose files do not
// load answers an error that names it, the server stays up, and selecting
// the good one works again.
func TestBrokenModelOnSelection(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	broken := env.Dirs.addCheckpoint(t, "broken-model")
	assertStatus(t, env.do(t, http.MethodPost, "/sdapi/v1/refresh-checkpoints", nil), http.StatusOK)
	env.Runner.FailOpen(broken, fmt.Errorf("%w: unet/model.onnx: protobuf parsing failed: %s/unet/model.onnx", runner.ErrModel, broken))

	env.postOptions(t, `{"sd_model_checkpoint":"broken-model"}`)
	res := env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, simpleTxt2Img()))
	assertStatus(t, res, http.StatusInternalServerError)
	for _, w := range []string{"broken-model", "unet/model.onnx"} {
		if !strings.Contains(string(res.Body), w) {
			t.Errorf("error does not name %q: %s", w, res.Body)
		}
	}
	if strings.Contains(string(res.Body), filepath.Dir(broken)) {
		t.Errorf("error leaks the model directory: %s", res.Body)
	}
	env.postOptions(t, `{"sd_model_checkpoint":"tiny-sd"}`)
	assertStatus(t, env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, simpleTxt2Img())), http.StatusOK)
}

// TestQueuedClientGoneIsDropped: a client that disconnects while its job
// waits leaves the queue; the runner never sees its job and the queue
// drains to zero.
func TestQueuedClientGoneIsDropped(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	started, release := make(chan string, 4), make(chan struct{})
	blockingRunner(env, started, release)

	first := make(chan int, 1)
	go func() {
		b := simpleTxt2Img()
		b["prompt"] = "first"
		res, err := env.Client.Do(env.newRequest(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, b)))
		if err != nil {
			first <- 0
			return
		}
		res.Body.Close()
		first <- res.StatusCode
	}()
	if got := waitFor(t, started); got != "first" {
		t.Fatalf("running %q", got)
	}

	ctx, cancel := context.WithCancel(t.Context())
	b := simpleTxt2Img()
	b["prompt"] = "gone"
	req := env.newRequest(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, b)).WithContext(ctx)
	errc := make(chan error, 1)
	go func() {
		resp, err := env.Client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitUntil(t, func() bool { return env.Queue.Snapshot().Waiting == 1 })
	cancel()
	if err := waitFor(t, errc); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled request: %v", err)
	}
	waitUntil(t, func() bool { return env.Queue.Snapshot().Waiting == 0 })
	if q := env.Queue.Snapshot(); q.Dropped != 1 {
		t.Errorf("dropped %d jobs, want 1", q.Dropped)
	}
	close(release)
	if got := waitFor(t, first); got != http.StatusOK {
		t.Errorf("first request: %d", got)
	}
	waitUntil(t, func() bool { return env.Queue.Snapshot().Running == "" })
	for _, c := range env.Runner.Calls() {
		if c.Prompts[0] == "gone" {
			t.Errorf("the runner ran the job of a client that had left")
		}
	}
}
