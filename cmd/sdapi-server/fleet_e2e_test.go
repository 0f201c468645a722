package main_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sdapi/sdapi/internal/refserver"
	"github.com/sdapi/sdapi/internal/testenv"
)

// The fleet tests run real processes on loopback: one API with the
// embedded NATS server listening, and worker processes joining it.

// fleetAckWait is the workers' --nats-ack-wait: short, so that a killed
// worker's job is redelivered within the test.
const fleetAckWait = "2s"

// workerHeader names the worker that ran a fleet job (server.WorkerHeader).
const workerHeader = "X-Sdapi-Worker"

// fleetJob is a tiny txt2img: 64², few steps, fixed seed.
func fleetJob(steps int) map[string]any {
	return map[string]any{"prompt": "a fleet", "width": 64, "height": 64, "steps": steps, "seed": 4242, "sampler_name": "Euler"}
}

// startFleetAPI starts an API process with the embedded NATS server and
// returns it and the NATS URL workers join.
func startFleetAPI(t *testing.T, args ...string) (*proc, string) {
	t.Helper()
	natsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	api := startServer(t, "", append([]string{"--role", "api", "--nats", "embedded", "--nats-listen", natsAddr}, args...)...)
	return api, "nats://" + natsAddr
}

// startWorker starts a worker process on natsURL, with further flags
// args, and waits until it pulls jobs. Its id in the fleet ends with its
// pid.
func startWorker(t *testing.T, natsURL string, args ...string) *proc {
	t.Helper()
	w := startServer(t, "", append([]string{"--role", "worker", "--nats", natsURL, "--threads", "1", "--nats-ack-wait", fleetAckWait}, args...)...)
	waitLog(t, w, "fleet worker ready")
	return w
}

// waitLog polls p's log until it holds want; the log is written by another
// process, so there is nothing to wait on but the log itself.
func waitLog(t *testing.T, p *proc, want string) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		if strings.Contains(p.log.String(), want) {
			return
		}
		if time.Now().After(deadline) || p.exited() {
			t.Fatalf("no %q in the log of %s:\n%s", want, p.url, p.log)
		}
	}
}

// workerID is the id a worker process has in the fleet (host-pid).
func workerID(p *proc) string { return "-" + strconv.Itoa(p.cmd.Process.Pid) }

type fleetAnswer struct {
	status int
	worker string
	body   []byte
}

func postFleet(ctx context.Context, url string, body map[string]any) (fleetAnswer, error) {
	raw, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/sdapi/v1/txt2img", strings.NewReader(string(raw)))
	if err != nil {
		return fleetAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := jobClient.Do(req)
	if err != nil {
		return fleetAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return fleetAnswer{status: resp.StatusCode, worker: resp.Header.Get(workerHeader), body: b}, err
}

// Requirement FLEET-1: concurrent jobs sent to a fleet's API MUST each be
// answered once, with 200, spread over the workers; the same seed MUST
// give the same image whichever worker ran it.
func TestFleetSpreadsJobsOverWorkers(t *testing.T) {
	if ortErr != "" {
		testenv.Missing(t, ortErr)
	}
	api, natsURL := startFleetAPI(t)
	w1, w2 := startWorker(t, natsURL), startWorker(t, natsURL)
	waitMetric(t, api, "sdapi_fleet_workers_alive 2") // their models are listed

	const n = 32 // as the issue asks; tiny jobs (64², one step)
	ctx, cancel := context.WithTimeout(context.Background(), stopJobTimeout)
	defer cancel()
	answers := make([]fleetAnswer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { answers[i], errs[i] = postFleet(ctx, api.url, fleetJob(1)) })
	}
	wg.Wait()

	byWorker := map[string]int{}
	var first string
	for i, a := range answers {
		if errs[i] != nil {
			t.Fatalf("job %d: %v", i, errs[i])
		}
		if a.status != http.StatusOK {
			t.Fatalf("job %d: status %d: %s", i, a.status, a.body)
		}
		var g genAnswer
		if err := json.Unmarshal(a.body, &g); err != nil || len(g.Images) != 1 {
			t.Fatalf("job %d: %v, %d images", i, err, len(g.Images))
		}
		if first == "" {
			first = g.Images[0]
		} else if g.Images[0] != first {
			t.Errorf("job %d (worker %s): image differs from job 0's with the same seed", i, a.worker)
		}
		byWorker[a.worker]++
	}
	for _, w := range []*proc{w1, w2} {
		id := workerID(w)
		got := 0
		for name, c := range byWorker {
			if strings.HasSuffix(name, id) {
				got += c
			}
		}
		if got == 0 {
			t.Errorf("worker %s ran none of %d jobs: %v", id, n, byWorker)
		}
	}
	if len(byWorker) != 2 {
		t.Errorf("jobs ran on %v, want the two workers only", byWorker)
	}
	m := call(t, http.MethodGet, api.url, "/metrics", nil)
	for _, want := range []string{"sdapi_fleet_workers_alive 2", "sdapi_fleet_api_jobs_pending 0", "sdapi_fleet_stream_jobs 0"} {
		if !strings.Contains(string(m.Body), want) {
			t.Errorf("API /metrics lacks %q", want)
		}
	}
}

// Requirement FLEET-2: when the worker running a job is killed, the job
// MUST be redelivered to another worker after the ack deadline and its
// client MUST get one answer, from that worker.
func TestFleetRedeliversKilledWorkersJob(t *testing.T) {
	if ortErr != "" {
		testenv.Missing(t, ortErr)
	}
	api, natsURL := startFleetAPI(t)
	w1, w2 := startWorker(t, natsURL), startWorker(t, natsURL)
	waitMetric(t, api, "sdapi_fleet_workers_alive 2") // their models are listed

	ctx, cancel := context.WithTimeout(context.Background(), stopJobTimeout)
	defer cancel()
	answer := make(chan fleetAnswer, 1)
	go func() {
		a, err := postFleet(ctx, api.url, fleetJob(60))
		if err != nil {
			t.Errorf("txt2img: %v", err)
		}
		answer <- a
	}()
	// Whichever worker took it logs the start; kill that one mid-job.
	victim, survivor := w1, w2
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	for range tick.C {
		if strings.Contains(w2.log.String(), "fleet worker: job started") {
			victim, survivor = w2, w1
			break
		}
		if strings.Contains(w1.log.String(), "fleet worker: job started") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no worker started the job")
		}
	}
	tick.Stop()
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	a := <-answer
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	if !strings.HasSuffix(a.worker, workerID(survivor)) {
		t.Errorf("answered by %q, want the surviving worker (pid %d)", a.worker, survivor.cmd.Process.Pid)
	}
	if m := call(t, http.MethodGet, survivor.url, "/metrics", nil); !strings.Contains(string(m.Body), "sdapi_fleet_worker_redelivered_jobs_total 1") {
		t.Errorf("the survivor's /metrics counts no redelivered job")
	}
}

// Requirement FLEET-3: the fleet's queue MUST stay bounded by --queue-size
// (503 "Queue is full" in A1111's body when full), and a client that goes
// away MUST take its queued job off the queue.
func TestFleetQueueBoundedAndCancelled(t *testing.T) {
	if ortErr != "" {
		testenv.Missing(t, ortErr)
	}
	// One worker, kept busy by a job that outlasts the test: the jobs
	// after it wait in the stream.
	const endless = "100000"
	api, natsURL := startFleetAPI(t, "--queue-size", "2", "--max-steps", endless)
	// With no worker, no checkpoint is on the fleet: A1111's error when
	// none is installed, at once.
	none := func() fleetAnswer {
		ctx, done := context.WithTimeout(context.Background(), stopJobTimeout)
		defer done()
		a, err := postFleet(ctx, api.url, fleetJob(1))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}()
	if none.status != http.StatusInternalServerError || !strings.Contains(string(none.body), "no checkpoint is installed") {
		t.Fatalf("job with no worker: status %d %s, want 500 no checkpoint", none.status, none.body)
	}
	w := startWorker(t, natsURL, "--max-steps", endless)
	waitCatalog(t, api, 2)
	busy, stopBusy := context.WithCancel(context.Background())
	defer stopBusy()
	long := fleetJob(100000)
	go func() { _, _ = postFleet(busy, api.url, long) }()
	waitLog(t, w, "fleet worker: job started")

	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan error, 1)
	go func() {
		_, err := postFleet(ctx, api.url, fleetJob(1))
		waiting <- err
	}()
	// full posts a job that its client gives up on after a second: the
	// answer when the API refused it at once, status 0 when it was queued.
	full := func() fleetAnswer {
		short, done := context.WithTimeout(context.Background(), time.Second)
		defer done()
		a, err := postFleet(short, api.url, fleetJob(1))
		if err != nil {
			return fleetAnswer{}
		}
		return a
	}
	waitMetric(t, api, "sdapi_fleet_stream_jobs 2") // running and queued
	a := full()
	if a.status != http.StatusServiceUnavailable || !strings.Contains(string(a.body), `"detail":"Queue is full"`) {
		t.Fatalf("third job: status %d %s, want 503 Queue is full", a.status, a.body)
	}
	cancel()
	if err := <-waiting; err == nil {
		t.Fatal("cancelled request answered")
	}
	// The cancelled job left the stream, so a new one is admitted and
	// waits (its client cuts it short) instead of answering 503.
	waitMetric(t, api, "sdapi_fleet_stream_jobs 1")
	if a := full(); a.status != 0 {
		t.Fatalf("job after the cancel: status %d %s, want it admitted and waiting", a.status, a.body)
	}
}

// sdModel is an item of /sd-models.
type sdModel struct {
	Title     string  `json:"title"`
	ModelName string  `json:"model_name"`
	Hash      *string `json:"hash"`
}

// waitCatalog waits until the API's /sd-models lists n checkpoints: its
// workers' catalogs reached it.
func waitCatalog(t *testing.T, api *proc, n int) []sdModel {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		var models []sdModel
		resp, err := http.Get(api.url + "/sdapi/v1/sd-models")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&models)
			resp.Body.Close()
		}
		if err == nil && len(models) == n {
			return models
		}
		if time.Now().After(deadline) {
			t.Fatalf("/sd-models: %v, %d models; want %d", err, len(models), n)
		}
	}
	return nil
}

// Requirement FLEET-4: across a fleet, /internal/progress MUST report a
// task running on a worker as active with its progress, /progress MUST
// show the fleet's running job, /interrupt MUST reach the worker running
// it, a POST /options on the API MUST reach the workers, extras MUST run
// on a worker, and a client
// that goes away MUST have its running job cancelled on its worker.
func TestFleetLiveStateAndOptions(t *testing.T) {
	if ortErr != "" {
		testenv.Missing(t, ortErr)
	}
	api, natsURL := startFleetAPI(t)
	w1, w2 := startWorker(t, natsURL), startWorker(t, natsURL)
	waitMetric(t, api, "sdapi_fleet_workers_alive 2") // their models are listed

	// Options: set on the API, applied by the workers (saved in their
	// settings files), used by the job's encoding on the worker.
	if r := call(t, http.MethodPost, api.url, "/sdapi/v1/options", map[string]any{"samples_format": "jpg"}); r.Status != http.StatusOK {
		t.Fatalf("POST /options: %d %s", r.Status, r.Body)
	}
	for _, w := range []*proc{w1, w2} {
		waitFile(t, filepath.Join(w.dataDir, "config.json"), `"samples_format": "jpg"`)
	}

	// Extras run on a worker too.
	if r := call(t, http.MethodPost, api.url, "/sdapi/v1/extra-single-image", map[string]any{"image": tinyPNG(t), "upscaling_resize": 2}); r.Status != http.StatusOK {
		t.Fatalf("extra-single-image: %d %s", r.Status, r.Body)
	}
	const extrasOK = `sdapi_jobs_total{mode="extras",outcome="ok"} 1`
	if !strings.Contains(string(call(t, http.MethodGet, w1.url, "/metrics", nil).Body)+string(call(t, http.MethodGet, w2.url, "/metrics", nil).Body), extrasOK) {
		t.Error("no worker ran the extras job")
	}

	ctx, cancel := context.WithTimeout(context.Background(), stopJobTimeout)
	defer cancel()
	job := fleetJob(150) // the most --max-steps allows by default
	job["force_task_id"] = "fleet-task-1"
	answer := make(chan fleetAnswer, 1)
	go func() {
		a, err := postFleet(ctx, api.url, job)
		if err != nil {
			t.Errorf("txt2img: %v", err)
		}
		answer <- a
	}()
	waitActive(t, api, "fleet-task-1")
	if s := getProgress(t, api); s.State.JobCount == 0 || s.State.SamplingSteps != 150 {
		t.Errorf("/progress while the fleet runs the job: %+v", s)
	}
	if r := call(t, http.MethodPost, api.url, "/sdapi/v1/interrupt", nil); r.Status != http.StatusOK {
		t.Fatalf("/interrupt: %d %s", r.Status, r.Body)
	}
	a := <-answer
	if a.status != http.StatusOK {
		t.Fatalf("interrupted job: %d %s", a.status, a.body)
	}
	var g genAnswer
	if err := json.Unmarshal(a.body, &g); err != nil || len(g.Images) != 1 || !strings.HasPrefix(g.Images[0], "/9j/") {
		t.Errorf("want one JPEG image (samples_format set through the API): %v %.20q", err, g.Images)
	}
	ran, idle := w1, w2
	if strings.HasSuffix(a.worker, workerID(w2)) {
		ran, idle = w2, w1
	}
	const interrupted = `sdapi_jobs_total{mode="txt2img",outcome="interrupted"} 1`
	if m := call(t, http.MethodGet, ran.url, "/metrics", nil); !strings.Contains(string(m.Body), interrupted) {
		t.Errorf("the worker that ran the job (%s) counts no interrupted job", a.worker)
	}
	if m := call(t, http.MethodGet, idle.url, "/metrics", nil); strings.Contains(string(m.Body), interrupted) {
		t.Errorf("the other worker counts an interrupted job")
	}
	if m := call(t, http.MethodGet, api.url, "/metrics", nil); !strings.Contains(string(m.Body), interrupted) {
		t.Errorf("the API does not count the fleet's job interrupted")
	}

	// A client that goes away while its job runs: the job is cancelled on
	// the worker running it.
	jctx, jcancel := context.WithCancel(ctx)
	job["force_task_id"] = "fleet-task-2"
	gone := make(chan error, 1)
	go func() {
		_, err := postFleet(jctx, api.url, job)
		gone <- err
	}()
	waitActive(t, api, "fleet-task-2")
	jcancel()
	if err := <-gone; err == nil {
		t.Fatal("the cancelled request got an answer")
	}
	const cancelled = `sdapi_jobs_total{mode="txt2img",outcome="cancelled"} 1`
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	// The job ran on either worker.
	for range tick.C {
		m := string(call(t, http.MethodGet, w1.url, "/metrics", nil).Body) + string(call(t, http.MethodGet, w2.url, "/metrics", nil).Body)
		if strings.Contains(m, cancelled) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no worker counts the job cancelled")
		}
	}
}

// waitActive polls /internal/progress until task id runs with progress.
func waitActive(t *testing.T, api *proc, id string) {
	t.Helper()
	deadline := time.Now().Add(stopJobTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		r := call(t, http.MethodPost, api.url, "/internal/progress", map[string]any{"id_task": id, "live_preview": false})
		var ip struct {
			Active   bool     `json:"active"`
			Progress *float64 `json:"progress"`
		}
		if err := json.Unmarshal(r.Body, &ip); err != nil {
			t.Fatalf("/internal/progress: %v: %s", err, r.Body)
		}
		if ip.Active && ip.Progress != nil && *ip.Progress > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s never ran: last /internal/progress %s", id, r.Body)
		}
	}
}

// waitMetric polls p's /metrics until it holds want.
func waitMetric(t *testing.T, p *proc, want string) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		m := call(t, http.MethodGet, p.url, "/metrics", nil)
		if strings.Contains(string(m.Body), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/metrics never held %q", p.url, want)
		}
	}
}

// waitFile polls a file another process writes until it holds want.
func waitFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(path)
			t.Fatalf("%s never held %s:\n%s", path, want, b)
		}
	}
}

// Requirement FLEET-5: the conformance suite MUST pass against a fleet's
// API (two workers) under --profile reference, as against a single server.
func TestFleetConformance(t *testing.T) {
	if ortErr != "" {
		testenv.Missing(t, ortErr)
	}
	conform := filepath.Join(t.TempDir(), "sdapi-conform")
	if err := refserver.Build(conform, "github.com/sdapi/sdapi/cmd/sdapi-conform"); err != nil {
		t.Fatal(err)
	}
	api, natsURL := startFleetAPI(t, "--api-auth", "conform:secret")
	startWorker(t, natsURL)
	startWorker(t, natsURL)
	waitMetric(t, api, "sdapi_fleet_workers_alive 2")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, conform, "--target", api.url, "--profile", "reference", "--user", "conform", "--password", "secret")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sdapi-conform against the fleet: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	t.Log(lines[len(lines)-1])
}
