package ort

import (
	"os"
	"testing"

	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/onnxgen"
)

// benchGenerate runs req b.N times and reports per-stage times (ms per
// image generation) and the ratio of wall time to ONNX Runtime time.
func benchGenerate(b *testing.B, r *Runner, req runner.Request) {
	if _, err := r.Generate(b.Context(), req); err != nil { // warm up
		b.Fatal(err)
	}
	var sum runner.Timing
	b.ResetTimer()
	for range b.N {
		res, err := r.Generate(b.Context(), req)
		if err != nil {
			b.Fatal(err)
		}
		t := res.Timing
		sum.Tokenize += t.Tokenize
		sum.TextEncoder += t.TextEncoder
		sum.UNet += t.UNet
		sum.UNetRuns += t.UNetRuns
		sum.Sampler += t.Sampler
		sum.VAEDecode += t.VAEDecode
		sum.Total += t.Total
	}
	n := float64(b.N)
	ms := func(ns int64) float64 { return float64(ns) / 1e6 / n }
	b.ReportMetric(ms(sum.Tokenize), "tokenize-ms")
	b.ReportMetric(ms(sum.TextEncoder), "textenc-ms")
	b.ReportMetric(float64(sum.UNet)/1e6/float64(sum.UNetRuns), "unet-ms/step")
	b.ReportMetric(ms(sum.Sampler), "sampler-ms")
	b.ReportMetric(ms(sum.VAEDecode), "vaedec-ms")
	b.ReportMetric(ms(sum.Total), "total-ms")
	b.ReportMetric(float64(sum.Total)/float64(sum.ORT()), "total/ort")
}

func benchRequest(size, steps int) runner.Request {
	req := baseRequest("Euler", 1)
	req.Width, req.Height, req.Steps = size, size, steps
	return req
}

func BenchmarkGenerateTiny64(b *testing.B) {
	benchGenerate(b, openShared(b, onnxgen.Config{}), benchRequest(64, 4))
}

func BenchmarkGenerateTiny512(b *testing.B) {
	benchGenerate(b, openShared(b, onnxgen.Config{}), benchRequest(512, 2))
}

// BenchmarkGenerateSD15 emits the full-size SD 1.5 shapes (about 4.3 GB) and
// runs 512² with 2 steps. It runs only with SDAPI_BENCH_SD15=1.
func BenchmarkGenerateSD15(b *testing.B) {
	if os.Getenv("SDAPI_BENCH_SD15") != "1" {
		b.Skip("set SDAPI_BENCH_SD15=1 to emit and run the 4.3 GB SD 1.5-sized pipeline")
	}
	benchGenerate(b, openShared(b, onnxgen.Config{Size: onnxgen.SD15}), benchRequest(512, 2))
}

// BenchmarkGenerateTinySDXL256 is the tiny SDXL pipeline (two text
// encoders, text_embeds and time_ids) at 256², 2 steps.
func BenchmarkGenerateTinySDXL256(b *testing.B) {
	benchGenerate(b, openShared(b, xlConfig), benchRequest(256, 2))
}

// BenchmarkGenerateSDXL emits the full-size SDXL base shapes (about 14 GB
// fp32: UNet 10.3 GB, CLIP-G 2.8 GB) and runs 1024² with 1 step, the
// CPU arena off (with it, the parts' kept peaks pass 24 GiB). It runs
// only with SDAPI_BENCH_SDXL=1, on a machine with the memory for it.
func BenchmarkGenerateSDXL(b *testing.B) {
	if os.Getenv("SDAPI_BENCH_SDXL") != "1" {
		b.Skip("set SDAPI_BENCH_SDXL=1 to emit and run the 14 GB SDXL-sized pipeline")
	}
	dir := emit(b, onnxgen.Config{Size: onnxgen.SDXL})
	r, err := Open(b.Context(), dir, Config{Threads: 2, NoCPUArena: true})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	benchGenerate(b, r, benchRequest(1024, 1))
}
