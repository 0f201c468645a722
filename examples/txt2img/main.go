// Command txt2img is an example client of an sdapi server (or A1111 v1.10)
// built on the generated client in gen/: it generates one image with
// POST /sdapi/v1/txt2img, saves it as a PNG, reads its infotext back through
// POST /sdapi/v1/png-info and, with --conform, judges the server with the
// conformance harness called as a library (conformance.Run).
//
//	go run ./examples/txt2img --server http://127.0.0.1:7860 --prompt "a lighthouse at dusk" \
//	    --width 256 --height 256 --steps 20 --out lighthouse.png [--conform --label-filter 'listings || txt2img']
//
// It exits 1 when a step fails (or a conformance check fails), 2 on a usage error.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/sdapi/sdapi/conformance"
	"github.com/sdapi/sdapi/gen"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type options struct {
	server, user, password string
	prompt, negative       string
	width, height, steps   int
	seed                   int
	sampler, out           string
	conform                bool
	labelFilter            string
	timeout                time.Duration
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("txt2img", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.server, "server", "http://127.0.0.1:7860", "base URL of the server")
	fs.StringVar(&o.user, "user", os.Getenv("SDAPI_USER"), "HTTP basic auth user (--api-auth), or $SDAPI_USER")
	fs.StringVar(&o.password, "password", os.Getenv("SDAPI_PASSWORD"), "HTTP basic auth password, or $SDAPI_PASSWORD")
	fs.StringVar(&o.prompt, "prompt", "a lighthouse at dusk, oil painting", "prompt")
	fs.StringVar(&o.negative, "negative-prompt", "", "negative prompt")
	fs.IntVar(&o.width, "width", 256, "image width (at least 8; the image is width//8·8 wide, as in A1111)")
	fs.IntVar(&o.height, "height", 256, "image height")
	fs.IntVar(&o.steps, "steps", 20, "sampling steps")
	fs.IntVar(&o.seed, "seed", 1234, "seed (-1: random)")
	fs.StringVar(&o.sampler, "sampler", "Euler a", "sampler name (GET /sdapi/v1/samplers)")
	fs.StringVar(&o.out, "out", "txt2img.png", "where to save the image")
	fs.BoolVar(&o.conform, "conform", false, "then run the conformance harness against the server")
	fs.StringVar(&o.labelFilter, "label-filter", "listings || txt2img || pnginfo", "conformance checks to run with --conform")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "limit for the generation request")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "txt2img: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ctx := context.Background()
	if err := generate(ctx, o, stdout); err != nil {
		fmt.Fprintln(stderr, "txt2img:", err)
		return 1
	}
	if o.conform && !judge(o, stdout) {
		return 1
	}
	return 0
}

// generate runs txt2img, saves the first image and reads its infotext back.
func generate(ctx context.Context, o options, stdout io.Writer) error {
	var opts []gen.ClientOption
	opts = append(opts, gen.WithHTTPClient(&http.Client{Timeout: o.timeout}))
	if o.user != "" {
		opts = append(opts, gen.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.SetBasicAuth(o.user, o.password)
			return nil
		}))
	}
	c, err := gen.NewClientWithResponses(o.server, opts...)
	if err != nil {
		return err
	}

	// 1. Generate. The generated types use pointers for optional fields.
	req := gen.Text2imgapiSdapiV1Txt2imgPostJSONRequestBody{
		Prompt: &o.prompt, NegativePrompt: &o.negative, Seed: &o.seed, SamplerName: &o.sampler,
		Steps: &o.steps, Width: &o.width, Height: &o.height,
	}
	start := time.Now()
	res, err := c.Text2imgapiSdapiV1Txt2imgPostWithResponse(ctx, req)
	if err != nil {
		return fmt.Errorf("txt2img: %w", err)
	}
	if res.JSON200 == nil {
		return fmt.Errorf("txt2img: %s: %s", res.Status(), truncate(string(res.Body), 500))
	}
	if res.JSON200.Images == nil || len(*res.JSON200.Images) == 0 {
		return errors.New("txt2img: the answer carries no image (send_images false?)")
	}
	var info struct {
		Seed      int64    `json:"seed"`
		Infotexts []string `json:"infotexts"`
	}
	_ = json.Unmarshal([]byte(res.JSON200.Info), &info) // info is a JSON document in a string
	fmt.Fprintf(stdout, "generated %d image(s) in %s (seed %d)\n", len(*res.JSON200.Images), time.Since(start).Round(time.Millisecond), info.Seed)

	// 2. Save. Images are plain base64 PNGs.
	png, err := base64.StdEncoding.DecodeString((*res.JSON200.Images)[0])
	if err != nil {
		return fmt.Errorf("decode image: %w", err)
	}
	if err := os.WriteFile(o.out, png, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "saved %s (%d bytes)\n", o.out, len(png))

	// 3. Read the infotext back from the saved file.
	saved, err := os.ReadFile(o.out)
	if err != nil {
		return err
	}
	pi, err := c.PnginfoapiSdapiV1PngInfoPostWithResponse(ctx, gen.PnginfoapiSdapiV1PngInfoPostJSONRequestBody{
		Image: base64.StdEncoding.EncodeToString(saved),
	})
	if err != nil {
		return fmt.Errorf("png-info: %w", err)
	}
	if pi.JSON200 == nil {
		return fmt.Errorf("png-info: %s: %s", pi.Status(), truncate(string(pi.Body), 500))
	}
	if pi.JSON200.Info == "" {
		return fmt.Errorf("png-info: %s carries no infotext (the server did not embed parameters)", o.out)
	}
	fmt.Fprintf(stdout, "infotext:\n%s\n", pi.JSON200.Info)
	if len(info.Infotexts) > 0 && info.Infotexts[0] != pi.JSON200.Info {
		return fmt.Errorf("png-info: the saved infotext differs from the one txt2img reported:\n%q\n%q", pi.JSON200.Info, info.Infotexts[0])
	}
	return nil
}

// judge runs the conformance harness against the server, as sdapi-conform
// does; Ginkgo prints its usual console output (to the process's standard
// output) and judge the closing line.
func judge(o options, stdout io.Writer) bool {
	cfg := conformance.DefaultConfig()
	cfg.Target, cfg.User, cfg.Password = o.server, o.user, o.password
	cfg.Identity = "examples/txt2img --server " + o.server
	fmt.Fprintf(stdout, "conformance (%s) against %s\n", o.labelFilter, o.server)
	res := conformance.Run(cfg, conformance.RunOptions{LabelFilter: o.labelFilter, NoColor: true})
	fmt.Fprintf(stdout, "%d passed, %d failed, %d skipped\n", res.Passed, res.Failed, res.Skipped)
	return res.OK
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
