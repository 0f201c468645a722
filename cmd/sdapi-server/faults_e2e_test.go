package main_test

// Process-level fault and security tests of the real binary.

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sdapi/sdapi/runner/onnxgen"
)

// longTxt2Img runs far longer than any grace period in these tests.
func longTxt2Img() map[string]any {
	return map[string]any{"prompt": "long", "width": 64, "height": 64, "steps": 150, "n_iter": 100, "seed": 1} // n_iter at --max-images
}

// waitRunning polls /progress until a generation job is running.
func waitRunning(t *testing.T, p *proc) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		r := call(t, http.MethodGet, p.url, "/sdapi/v1/progress?skip_current_image=true", nil)
		st := decode[struct {
			Progress float64 `json:"progress"`
			State    struct {
				JobCount int `json:"job_count"`
			} `json:"state"`
		}](t, r)
		if st.State.JobCount > 0 || st.Progress > 0 {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("server exited: %v\n%s", p.waitErr, p.log)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no job running within %v", startTimeout)
}

// TestSIGTERMDuringJob: SIGTERM stops accepting at once, answers the
// waiting job 503, cancels the running one after --shutdown-timeout, and
// exits 0 within that plus a bound.
func TestSIGTERMDuringJob(t *testing.T) {
	t.Parallel()
	const grace = time.Second
	p := startServer(t, "", "--shutdown-timeout", grace.String())
	type answer struct {
		status int
		err    error
	}
	send := func(out chan<- answer) {
		req := newReq(t, http.MethodPost, p.url, "/sdapi/v1/txt2img", longTxt2Img())
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			out <- answer{err: err}
			return
		}
		resp.Body.Close()
		out <- answer{status: resp.StatusCode}
	}
	running, waiting := make(chan answer, 1), make(chan answer, 1)
	go send(running)
	waitRunning(t, p)
	go send(waiting)
	// The second request is queued once the server counts it.
	deadline := time.Now().Add(httpTimeout)
	for !strings.Contains(string(call(t, http.MethodGet, p.url, "/metrics", nil).Body), "sdapi_queue_depth 1") {
		if time.Now().After(deadline) {
			t.Fatalf("second job never queued:\n%s", call(t, http.MethodGet, p.url, "/metrics", nil).Body)
		}
		time.Sleep(10 * time.Millisecond) // polling a remote process: no channel to wait on
	}

	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Accepting stops while the running job still has its grace period.
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port))
	refused := false
	for !refused && time.Since(start) < grace {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			refused = true
			break
		}
		c.Close()
		time.Sleep(5 * time.Millisecond) // polling the listener of another process
	}
	if !refused {
		t.Errorf("still accepting connections %v after SIGTERM", grace)
	}
	if code := p.waitExit(grace + 5*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0\n%s", code, p.log)
	}
	took := time.Since(start)
	t.Logf("exited %v after SIGTERM", took.Round(time.Millisecond))
	if w := <-waiting; w.err == nil && w.status != http.StatusServiceUnavailable {
		t.Errorf("waiting job: %d, want 503 (or a closed connection)", w.status)
	}
	if r := <-running; r.err == nil && r.status != http.StatusOK && r.status != http.StatusServiceUnavailable {
		t.Errorf("running job: %d, want 200 (interrupted) or 503", r.status)
	}
	if took < grace/2 {
		t.Errorf("exited after %v: the running job was not given its grace period", took)
	}
}

// TestBrokenModelFiles: a checkpoint with a corrupt or missing part does
// not stop the server from starting; selecting it answers an error that
// names the model and the part, without server paths, and the server goes
// on serving the good model.
func TestBrokenModelFiles(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ckpts := filepath.Join(data, "models", "Stable-diffusion")
	for _, name := range []string{"a-good-model", "corrupt-unet", "missing-unet"} {
		if err := onnxgen.Emit(filepath.Join(ckpts, name), onnxgen.Config{Size: onnxgen.Tiny}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(ckpts, "corrupt-unet", "unet", "model.onnx"), []byte("\x08\x07garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(ckpts, "missing-unet", "unet")); err != nil {
		t.Fatal(err)
	}
	p := startServer(t, data)
	v := validator(t, p)
	small := map[string]any{"prompt": "x", "width": 64, "height": 64, "steps": 2}
	for _, name := range []string{"corrupt-unet", "missing-unet"} {
		if r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/options", map[string]any{"sd_model_checkpoint": name}); r.Status != http.StatusOK {
			t.Fatalf("select %s: %d %s", name, r.Status, r.Body)
		}
		r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/txt2img", small)
		if r.Status != http.StatusInternalServerError {
			t.Errorf("%s: %d %s, want 500", name, r.Status, r.Body)
		}
		for _, want := range []string{name, "unet"} {
			if !bytes.Contains(r.Body, []byte(want)) {
				t.Errorf("%s: error does not name %q: %s", name, want, r.Body)
			}
		}
		if bytes.Contains(r.Body, []byte(data)) {
			t.Errorf("%s: error leaks the data directory: %s", name, r.Body)
		}
		if p.exited() {
			t.Fatalf("server exited on %s: %v\n%s", name, p.waitErr, p.log)
		}
	}
	if r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/options", map[string]any{"sd_model_checkpoint": "a-good-model"}); r.Status != http.StatusOK {
		t.Fatalf("select a-good-model: %d %s", r.Status, r.Body)
	}
	if r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/txt2img", small); r.Status != http.StatusOK {
		t.Errorf("good model after broken ones: %d %s", r.Status, r.Body)
	}
}

// TestInputURLsOnTheBinary: without --api-enable-requests an init image
// URL is refused; with it, a loopback URL is still refused.
func TestInputURLsOnTheBinary(t *testing.T) {
	t.Parallel()
	body := func(u string) map[string]any {
		return map[string]any{"init_images": []string{u}, "width": 64, "height": 64, "steps": 2}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Requests not allowed"},
		{[]string{"--api-enable-requests"}, "Request to local resource not allowed"},
	} {
		t.Run(strings.Join(append([]string{"flags"}, tc.args...), " "), func(t *testing.T) {
			t.Parallel()
			p := startServer(t, "", tc.args...)
			// The server's own /metrics: a loopback URL that would answer.
			r := do(t, validator(t, p), http.MethodPost, p.url, "/sdapi/v1/img2img", body(p.url+"/metrics"))
			if r.Status != http.StatusInternalServerError || !bytes.Contains(r.Body, []byte(tc.want)) {
				t.Errorf("%d %s, want 500 %q", r.Status, r.Body, tc.want)
			}
		})
	}
}
