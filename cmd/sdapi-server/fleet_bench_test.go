package main_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdapi/sdapi/internal/refserver"
	"github.com/sdapi/sdapi/internal/testenv"
)

// BenchmarkFleet measures what the fleet adds (make bench-fleet): the
// latency of one small job at a time, in-process versus through the fleet
// with one worker (the difference is the fleet's overhead per job), and the
// throughput of small jobs with 1, 2 and 4 workers of one thread each.
func BenchmarkFleet(b *testing.B) {
	if ortErr != "" {
		testenv.Missing(b, ortErr)
	}
	job := fleetJob(1)
	b.Run("latency/in-process", func(b *testing.B) {
		url := benchServer(b, "--threads", "1")
		benchJobs(b, url, job, 1)
	})
	b.Run("latency/fleet-1-worker", func(b *testing.B) {
		url := benchFleet(b, 1)
		benchJobs(b, url, job, 1)
	})
	for _, n := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("throughput/workers-%d", n), func(b *testing.B) {
			url := benchFleet(b, n)
			benchJobs(b, url, job, 2*n)
		})
	}
}

// benchJobs sends b.N jobs, clients at a time, after a warm-up that loads
// the model wherever it runs, and reports jobs/s.
func benchJobs(b *testing.B, url string, job map[string]any, clients int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	run := func(n int) {
		var wg sync.WaitGroup
		next := make(chan struct{}, n)
		for range n {
			next <- struct{}{}
		}
		close(next)
		for range clients {
			wg.Go(func() {
				for range next {
					a, err := postFleet(ctx, url, job)
					if err != nil || a.status != http.StatusOK {
						b.Errorf("job: %v %d %s", err, a.status, a.body)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	run(2 * clients) // warm-up: models load on first use
	b.ResetTimer()
	start := time.Now()
	run(b.N)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
}

// benchServer starts an sdapi-server for the benchmark and returns its URL.
func benchServer(b *testing.B, args ...string) string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	s, err := refserver.Start(ctx, refserver.Options{Binary: binary, DataDir: b.TempDir(), Args: args, KillAfter: exitTimeout})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Stop() })
	return s.URL
}

// benchFleet starts an API with embedded NATS and n workers and returns
// the API's URL.
func benchFleet(b *testing.B, n int) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	ln.Close()
	url := benchServer(b, "--role", "api", "--nats", "embedded", "--nats-listen", addr)
	for range n {
		benchServer(b, "--role", "worker", "--nats", "nats://"+addr, "--threads", "1")
	}
	// Jobs go to the workers the API has heard of: wait for all n.
	want := fmt.Sprintf("sdapi_fleet_workers_alive %d\n", n)
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		resp, err := http.Get(url + "/metrics")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), want) {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("the API never had %d live workers", n)
		}
	}
	return url
}
