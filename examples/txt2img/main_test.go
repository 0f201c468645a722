package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdapi/sdapi/internal/refserver"
	"github.com/sdapi/sdapi/internal/testenv"
)

// TestExampleAgainstReferenceServer builds cmd/sdapi-server, starts it on a
// free loopback port with a fresh data dir (it emits the tiny random-weight
// test model) and runs the example against it: generate, save, png-info,
// and three conformance checks through conformance.Run.
func TestExampleAgainstReferenceServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the reference server")
	}
	t.Setenv("ONNXRUNTIME_SHARED_LIBRARY_PATH", testenv.RequireORT(t))
	dir := t.TempDir()
	bin, err := refserver.ServerBinary(dir)
	if err != nil {
		t.Fatal(err)
	}
	url := startServer(t, bin, filepath.Join(dir, "data"))

	img := filepath.Join(dir, "out.png")
	var stdout, stderr bytes.Buffer
	code := run([]string{"--server", url, "--width", "64", "--height", "64", "--steps", "2", "--out", img,
		"--conform", "--label-filter", "LIST-004 || TXT2IMG-001 || INFO-003"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("example exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil || cfg.Width != 64 || cfg.Height != 64 {
		t.Errorf("saved image: %dx%d, %v; want a 64x64 PNG", cfg.Width, cfg.Height, err)
	}
	out := stdout.String()
	for _, want := range []string{"saved " + img, "infotext:\na lighthouse at dusk, oil painting\nSteps: 2, ", "3 passed, 0 failed, "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func startServer(t *testing.T, bin, data string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	srv, err := refserver.Start(ctx, refserver.Options{Binary: bin, DataDir: data, KillAfter: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv.URL
}
