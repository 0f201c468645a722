package server_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/runnertest"
)

// BenchmarkTxt2imgOverhead is the server's own share of a txt2img request:
// HTTP, request validation, Params, the queue, Process, PNG encoding with
// the infotext chunk, base64 and JSON, over loopback, with a runner that
// returns pre-made 512×512 images at once. Target: under 10 ms for one
// image.
func BenchmarkTxt2imgOverhead(b *testing.B) {
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("images=%d", n), func(b *testing.B) {
			env := newGenServer(b)
			premade := make([]image.Image, n)
			for i := range premade {
				premade[i] = runnertest.SeedImage(int64(1000+i), 512, 512)
			}
			env.Runner.GenerateFn = func(_ context.Context, _ int, req runner.Request) (runner.Result, error) {
				return runner.Result{Images: premade[:len(req.Prompts)]}, nil
			}
			body := mustJSON(b, map[string]any{"prompt": "a lighthouse at dusk", "steps": 20, "width": 512, "height": 512,
				"batch_size": n, "seed": 42, "sampler_name": "Euler a"})
			url := env.URL + "/sdapi/v1/txt2img"
			post := func() int {
				resp, err := env.Client.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				size, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
				return int(size)
			}
			size := post() // warm up: model load, connection
			b.SetBytes(int64(size))
			b.ReportAllocs()
			start := time.Now()
			b.ResetTimer()
			for b.Loop() {
				post()
			}
			b.StopTimer()
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/op")
		})
	}
}
