package scripts_test

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/options"
	"github.com/sdapi/sdapi/processing/scripts"
	"github.com/sdapi/sdapi/processing/upscale"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/onnxgen"
	"github.com/sdapi/sdapi/runner/ort"
)

// The scripts also run on the real runner: ONNX Runtime on the tiny
// random-weight model the project emits (skipped without the library).

var (
	ortSkip string        // why real runs skip; "" when they can run
	real    runner.Runner // the emitted tiny model, opened once
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		lib := os.Getenv("ONNXRUNTIME_SHARED_LIBRARY_PATH")
		if lib == "" {
			lib = filepath.Join("..", "..", ".cache", "onnxruntime", "libonnxruntime.so")
		}
		if _, err := os.Stat(lib); err != nil {
			ortSkip = fmt.Sprintf("ONNX Runtime library not found (%v)", err)
			return m.Run()
		}
		if err := ort.Init(lib); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer ort.Shutdown()
		dir, err := os.MkdirTemp("", "sdapi-scripts-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		model := filepath.Join(dir, "tiny")
		if err := onnxgen.Emit(model, onnxgen.Config{Size: onnxgen.Tiny}); err != nil {
			fmt.Fprintln(os.Stderr, "emit:", err)
			return 1
		}
		r, err := ort.Open(context.Background(), model, ort.Config{Threads: 2})
		if err != nil {
			fmt.Fprintln(os.Stderr, "open:", err)
			return 1
		}
		defer r.Close()
		real = r
		return m.Run()
	}())
}

type realModels struct{}

func (realModels) Runner(context.Context, string, string) (runner.Runner, error) { return real, nil }
func (realModels) HasCheckpoint(string) bool                                     { return false }
func (realModels) VAEHash(string) string                                         { return "" }

func realProcessor(t *testing.T) *processing.Processor {
	t.Helper()
	if ortSkip != "" {
		t.Skip(ortSkip)
	}
	store, err := options.New([]options.Def{
		{Key: "sd_model_checkpoint", Type: options.KindString, Nullable: true},
		{Key: "samples_format", Default: "png", Type: options.KindString},
		{Key: "enable_prompt_comments", Default: true, Type: options.KindBool},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	return &processing.Processor{
		Options:   store,
		State:     processing.NewState(nil),
		Models:    realModels{},
		OutputDir: t.TempDir(),
		Rand:      func() uint32 { return 4242 },
		Scripts:   processing.NewScripts(scripts.Builtin(upscale.NewRegistry(), nil)...),
	}
}

func rgbAt(img image.Image, x, y int) [3]int {
	r, g, b, _ := img.At(img.Bounds().Min.X+x, img.Bounds().Min.Y+y).RGBA()
	return [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
}

func near(a, b [3]int, tol int) bool {
	for i := range a {
		if d := a[i] - b[i]; d > tol || d < -tol {
			return false
		}
	}
	return true
}

func TestRealComments(t *testing.T) {
	pr := realProcessor(t)
	p := txt2img()
	p.Steps = 2
	p.Prompt = "a cat # not sampled\nred"
	out, err := pr.Run(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Raw) != 1 || !strings.HasPrefix(out.Infotexts[0], "a cat \nred\n") {
		t.Errorf("images %d, infotext %q: want one image of the stripped prompt", len(out.Raw), out.Infotexts[0])
	}
}

func TestRealLoopback(t *testing.T) {
	pr := realProcessor(t)
	p := named(img2img(64, 64), "loopback", 2.0, 0.3, "Aggressive", "None")
	p.Steps = 2
	out, err := pr.Run(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Raw) != 3 || out.Raw[0].Bounds().Dx() != 128 {
		t.Fatalf("images %d (first %v), want a 128-wide grid and two loops", len(out.Raw), out.Raw[0].Bounds())
	}
	if near(rgbAt(out.Raw[1], 10, 10), rgbAt(out.Raw[2], 10, 10), 0) && near(rgbAt(out.Raw[1], 40, 40), rgbAt(out.Raw[2], 40, 40), 0) {
		t.Error("the second loop returned the first loop's image unchanged")
	}
	if !strings.Contains(out.Infotexts[0], "Denoising strength: 0.75") || !strings.Contains(out.Infotexts[0], "Denoising curve: Aggressive") {
		t.Errorf("infotext = %q, want the first loop's with the loopback params", out.Infotexts[0])
	}
}

// TestRealOutpainting: both outpainting scripts keep the original where
// their masks are black (the runner's overlay) and paint the new border.
func TestRealOutpainting(t *testing.T) {
	orig := [3]int{200, 100, 55} // solid(…, 200)
	for _, tc := range []struct {
		name   string
		args   []any
		w, h   int // result size
		inside image.Point
	}{
		{"outpainting mk2", []any{"", 16.0, 0.0, []any{"left", "up"}, 1.0, 0.05}, 128, 128, image.Pt(100, 100)},
		{"poor man's outpainting", []any{32.0, 0.0, 1.0, []any{"right"}}, 128, 64, image.Pt(20, 30)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := realProcessor(t)
			p := named(img2img(64, 64), tc.name, tc.args...)
			p.Steps, p.Seed = 2, 7
			out, err := pr.Run(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Raw) != 1 {
				t.Fatalf("images = %d, want 1", len(out.Raw))
			}
			img := out.Raw[0]
			if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
				t.Fatalf("result %v, want %dx%d", b, tc.w, tc.h)
			}
			if got := rgbAt(img, tc.inside.X, tc.inside.Y); !near(got, orig, 2) {
				t.Errorf("original area at %v = %v, want %v kept", tc.inside, got, orig)
			}
			if got := rgbAt(img, 2, 2); near(got, orig, 2) && near(rgbAt(img, tc.w-3, 2), orig, 2) {
				t.Errorf("the new border at the corners is the original colour %v", got)
			}
		})
	}
}
