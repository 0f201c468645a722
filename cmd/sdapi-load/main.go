// Command sdapi-load is the load check of `make load`: it starts the real
// sdapi-server on loopback with the emitted test model, sends N concurrent
// small txt2img requests while it polls /sdapi/v1/progress, and checks that
// every request got exactly one answer, 200 or 503 (queue full); that
// /progress stayed fast; and that goroutines and memory came back down.
// It writes load.json and load.md, and exits 1 when a check fails.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sdapi/sdapi/internal/refserver"
	"github.com/sdapi/sdapi/milestones"
)

// Result is load.json: the figures a milestone's run record keeps
// (milestones.Load, which reads this file back, so the two cannot drift
// apart) and the rest of the run's.
type Result struct {
	Date time.Time `json:"date"`
	milestones.Load
	Mismatched   int     `json:"mismatched"` // a 200 whose info names another request's prompt or seed
	ProgressPoll int     `json:"progress_polls"`
	ProgressMax  float64 `json:"progress_max_ms"`
	// Server figures from /metrics at their highest during the burst;
	// milestones.Load has them before the burst (after one warm-up request
	// loaded the model) and after it.
	GoroutinesPeak float64 `json:"goroutines_peak"`
	HeapPeak       float64 `json:"heap_inuse_bytes_peak"`
	// Server counters: jobs completed and rejected during the burst.
	JobsOK       float64  `json:"server_jobs_ok"`
	JobsRejected float64  `json:"server_jobs_rejected"`
	FailureCause []string `json:"failure_causes,omitempty"`
}

type config struct {
	binary, out, dataDir          string
	requests, queueSize, steps    int
	size                          int
	p99Limit                      time.Duration
	heapLimit                     float64
	goroutineSlack                float64
	timeout, settle, pollInterval time.Duration
	threads                       int
}

func main() {
	var c config
	flag.StringVar(&c.binary, "server", "bin/sdapi-server", "sdapi-server binary")
	flag.StringVar(&c.out, "out", "out/load", "directory for load.json and load.md")
	flag.StringVar(&c.dataDir, "data-dir", "", "server data dir (default: a temporary one)")
	flag.IntVar(&c.requests, "requests", 200, "concurrent txt2img requests")
	flag.IntVar(&c.queueSize, "queue-size", 64, "the server's --queue-size")
	flag.IntVar(&c.steps, "steps", 3, "sampling steps per request")
	flag.IntVar(&c.size, "size", 64, "width and height")
	flag.IntVar(&c.threads, "threads", 1, "the server's --threads")
	flag.DurationVar(&c.p99Limit, "progress-p99", 50*time.Millisecond, "limit of /progress p99 latency")
	flag.Float64Var(&c.heapLimit, "heap-growth", 64<<20, "limit of heap-in-use growth from before to after, bytes")
	flag.Float64Var(&c.goroutineSlack, "goroutine-slack", 2, "goroutines allowed above the baseline afterwards")
	flag.DurationVar(&c.timeout, "timeout", 5*time.Minute, "bound of the whole run")
	flag.DurationVar(&c.settle, "settle", 10*time.Second, "how long goroutines may take to come back down")
	flag.DurationVar(&c.pollInterval, "poll", 10*time.Millisecond, "interval of /progress polls")
	flag.Parse()
	res, err := run(c)
	if res != nil {
		if werr := write(c.out, res); werr != nil {
			fmt.Fprintln(os.Stderr, "sdapi-load:", werr)
			os.Exit(1)
		}
		fmt.Print(markdown(res))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdapi-load:", err)
		os.Exit(1)
	}
}

func run(c config) (*Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if c.dataDir == "" {
		d, err := os.MkdirTemp("", "sdapi-load-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		c.dataDir = d
	}
	srv, err := startServer(ctx, c)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	base := srv.URL

	client := &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: c.requests + 8,
	}}
	body := func(i int) []byte {
		b, _ := json.Marshal(map[string]any{
			"prompt": fmt.Sprintf("load request %d", i), "seed": 1000 + i,
			"width": c.size, "height": c.size, "steps": c.steps, "sampler_name": "Euler a",
		})
		return b
	}
	// Warm-up: the first request loads the model; the baseline is after it.
	if st, _, err := post(ctx, client, base+"/sdapi/v1/txt2img", body(-1)); err != nil || st != http.StatusOK {
		return nil, fmt.Errorf("warm-up request: status %d: %w\n%s", st, err, srv.log)
	}
	before, err := scrape(ctx, client, base)
	if err != nil {
		return nil, err
	}
	res := &Result{Date: time.Now().UTC(),
		Load: milestones.Load{Requests: c.requests, QueueSize: c.queueSize, Steps: c.steps, Size: c.size,
			GoroutinesBefore: before.goroutines, HeapBefore: before.heap},
		GoroutinesPeak: before.goroutines, HeapPeak: before.heap}

	// Pollers: /progress (latency) and /metrics (peaks), until the burst ends.
	burstDone := make(chan struct{})
	var pollWG sync.WaitGroup
	every := func(interval time.Duration, poll func()) {
		pollWG.Go(func() {
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				poll()
				select {
				case <-burstDone:
					return
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	var lat []time.Duration
	every(c.pollInterval, func() {
		start := time.Now()
		if st, _, err := get(ctx, client, base+"/sdapi/v1/progress?skip_current_image=true"); err == nil && st == http.StatusOK {
			lat = append(lat, time.Since(start))
		}
	})
	every(100*time.Millisecond, func() {
		if m, err := scrape(ctx, client, base); err == nil {
			res.GoroutinesPeak = math.Max(res.GoroutinesPeak, m.goroutines)
			res.HeapPeak = math.Max(res.HeapPeak, m.heap)
		}
	})

	// The burst: every request records its one outcome in its own slot
	// (wg.Wait orders the writes before the reads). That no request is
	// answered twice is judged by the server's own job counts and by each
	// 200 carrying its own request's seed.
	type outcome struct {
		status   int
		err      error
		mismatch bool
	}
	outcomes := make([]outcome, c.requests)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range c.requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, b, err := post(ctx, client, base+"/sdapi/v1/txt2img", body(i))
			o := outcome{status: st, err: err}
			if err == nil && st == http.StatusOK {
				o.mismatch = !answers(b, i)
			}
			outcomes[i] = o
		}()
	}
	wg.Wait()
	res.WallSeconds = time.Since(start).Seconds()
	close(burstDone)
	pollWG.Wait()

	for i, o := range outcomes {
		switch {
		case o.err != nil:
			res.Failures++
			res.FailureCause = append(res.FailureCause, fmt.Sprintf("request %d: %v", i, o.err))
		case o.status == http.StatusOK:
			res.OK++
			if o.mismatch {
				res.Mismatched++
			}
		case o.status == http.StatusServiceUnavailable:
			res.QueueFull++
		default:
			res.Failures++
			res.FailureCause = append(res.FailureCause, fmt.Sprintf("request %d: status %d", i, o.status))
		}
	}
	slices.Sort(lat)
	res.ProgressPoll = len(lat)
	res.ProgressP50, res.ProgressP99, res.ProgressMax = ms(quantile(lat, 0.50)), ms(quantile(lat, 0.99)), ms(quantile(lat, 1))

	// After: the queue is idle (every request was answered); goroutines
	// must come back to the baseline within settle. The burst's idle
	// keep-alive connections each hold a server goroutine: close them, as
	// clients going away would.
	client.CloseIdleConnections()
	var after metrics
	deadline := time.Now().Add(c.settle)
	for {
		after, err = scrape(ctx, client, base)
		if err != nil {
			return res, err
		}
		if after.goroutines <= before.goroutines+c.goroutineSlack || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling another process: no event to wait on
	}
	res.GoroutinesAfter, res.HeapAfter = after.goroutines, after.heap
	res.JobsOK = after.jobsOK - before.jobsOK
	res.JobsRejected = after.jobsRejected - before.jobsRejected

	res.Checks = []milestones.LoadCheck{
		{Name: "every request answered once, 200 or 503", OK: res.Failures == 0 && res.OK+res.QueueFull == c.requests,
			Got: fmt.Sprintf("%d × 200, %d × 503, %d failures", res.OK, res.QueueFull, res.Failures)},
		{Name: "every 200 is its own request's image", OK: res.Mismatched == 0, Got: fmt.Sprintf("%d mismatched", res.Mismatched)},
		{Name: "server counted the same jobs", OK: res.JobsOK == float64(res.OK) && res.JobsRejected == float64(res.QueueFull),
			Got: fmt.Sprintf("server: %.0f ok, %.0f rejected", res.JobsOK, res.JobsRejected)},
		{Name: fmt.Sprintf("/progress p99 under %v", c.p99Limit), OK: res.ProgressP99 < ms(c.p99Limit) && res.ProgressPoll > 0,
			Got: fmt.Sprintf("p99 %.2f ms over %d polls", res.ProgressP99, res.ProgressPoll)},
		{Name: "goroutines back to the baseline", OK: res.GoroutinesAfter <= res.GoroutinesBefore+c.goroutineSlack,
			Got: fmt.Sprintf("%.0f before, %.0f peak, %.0f after", res.GoroutinesBefore, res.GoroutinesPeak, res.GoroutinesAfter)},
		{Name: "heap in use bounded", OK: res.HeapAfter-res.HeapBefore < c.heapLimit,
			Got: fmt.Sprintf("%s before, %s peak, %s after", mib(res.HeapBefore), mib(res.HeapPeak), mib(res.HeapAfter))},
	}
	var failed []string
	for _, ch := range res.Checks {
		if !ch.OK {
			failed = append(failed, ch.Name+" ("+ch.Got+")")
		}
	}
	if len(failed) > 0 {
		return res, fmt.Errorf("load checks failed: %s", strings.Join(failed, "; "))
	}
	return res, nil
}

// answers reports whether a txt2img answer is for request i: its info
// names i's prompt and seed.
func answers(body []byte, i int) bool {
	var r struct {
		Images []string `json:"images"`
		Info   string   `json:"info"`
	}
	if json.Unmarshal(body, &r) != nil || len(r.Images) != 1 {
		return false
	}
	var info struct {
		Prompt string `json:"prompt"`
		Seed   int64  `json:"seed"`
	}
	if json.Unmarshal([]byte(r.Info), &info) != nil {
		return false
	}
	return info.Prompt == fmt.Sprintf("load request %d", i) && info.Seed == int64(1000+i)
}

func post(ctx context.Context, c *http.Client, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return do(c, req)
}

func get(ctx context.Context, c *http.Client, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	return do(c, req)
}

func do(c *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// metrics are the /metrics figures the run reads.
type metrics struct {
	goroutines, heap     float64
	jobsOK, jobsRejected float64
}

func scrape(ctx context.Context, c *http.Client, base string) (metrics, error) {
	st, b, err := get(ctx, c, base+"/metrics")
	if err != nil || st != http.StatusOK {
		return metrics{}, fmt.Errorf("GET /metrics: %d: %w", st, err)
	}
	var m metrics
	for line := range strings.Lines(string(b)) {
		name, val, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		switch {
		case name == "go_goroutines":
			m.goroutines = v
		case name == "go_memstats_heap_inuse_bytes":
			m.heap = v
		case strings.HasPrefix(name, "sdapi_jobs_total{") && strings.Contains(name, `mode="txt2img"`) && strings.Contains(name, `outcome="ok"`):
			m.jobsOK += v
		case strings.HasPrefix(name, "sdapi_jobs_total{") && strings.Contains(name, `mode="txt2img"`) && strings.Contains(name, `outcome="rejected"`):
			m.jobsRejected += v
		}
	}
	return m, nil
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

// server is the sdapi-server process and its whole log, for the error of
// a failed warm-up.
type server struct {
	*refserver.Server
	log *refserver.LogBuffer
}

func startServer(ctx context.Context, c config) (*server, error) {
	log := &refserver.LogBuffer{}
	srv, err := refserver.Start(ctx, refserver.Options{
		Binary: c.binary, DataDir: c.dataDir, Log: log,
		Args: []string{"--queue-size", strconv.Itoa(c.queueSize), "--threads", strconv.Itoa(c.threads)},
		// Stop waits without a bound: the server's own --shutdown-timeout bounds it.
	})
	if err != nil {
		return nil, err
	}
	return &server{Server: srv, log: log}, nil
}

func write(dir string, r *Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "load.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return errors.Join(os.WriteFile(filepath.Join(dir, "load.md"), []byte(markdown(r)), 0o644))
}

func markdown(r *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Load run %s\n\n", r.Date.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "%d concurrent txt2img requests (%d×%d, %d steps) against sdapi-server --queue-size %d, /sdapi/v1/progress polled throughout.\n\n",
		r.Requests, r.Size, r.Size, r.Steps, r.QueueSize)
	b.WriteString("| figure | value |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	row("requests", strconv.Itoa(r.Requests))
	row("200 / 503 / failures", fmt.Sprintf("%d / %d / %d", r.OK, r.QueueFull, r.Failures))
	row("burst wall time", fmt.Sprintf("%.2f s", r.WallSeconds))
	row("/progress p50 / p99 / max", fmt.Sprintf("%.2f / %.2f / %.2f ms (%d polls)", r.ProgressP50, r.ProgressP99, r.ProgressMax, r.ProgressPoll))
	row("goroutines before / peak / after", fmt.Sprintf("%.0f / %.0f / %.0f", r.GoroutinesBefore, r.GoroutinesPeak, r.GoroutinesAfter))
	row("heap in use before / peak / after", fmt.Sprintf("%s / %s / %s", mib(r.HeapBefore), mib(r.HeapPeak), mib(r.HeapAfter)))
	b.WriteString("\n| check | result | figures |\n|---|---|---|\n")
	for _, c := range r.Checks {
		res := "pass"
		if !c.OK {
			res = "**FAIL**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Name, res, c.Got)
	}
	for _, f := range r.FailureCause {
		fmt.Fprintf(&b, "\n- %s", f)
	}
	b.WriteString("\n")
	return b.String()
}
