package main

import (
	"bufio"
	"bytes"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExampleAgainstReferenceServer builds cmd/sdapi-server, starts it on a
// free loopback port with a fresh data dir (it emits the tiny random-weight
// test model) and runs the example against it: generate, save, png-info,
// and three conformance checks through conformance.Run.
func TestExampleAgainstReferenceServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the reference server")
	}
	if os.Getenv("ONNXRUNTIME_SHARED_LIBRARY_PATH") == "" {
		if lib, _ := filepath.Abs("../../.cache/onnxruntime/libonnxruntime.so"); fileExists(lib) {
			t.Setenv("ONNXRUNTIME_SHARED_LIBRARY_PATH", lib)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "sdapi-server")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/sdapi-server").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
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
	cmd := exec.Command(bin, "--port", "0", "--data-dir", data)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			for _, f := range strings.Fields(sc.Text()) {
				if u, ok := strings.CutPrefix(f, "url="); ok && strings.Contains(sc.Text(), "msg=serving") {
					select {
					case urls <- u:
					default:
					}
				}
			}
		}
	}()
	select {
	case u := <-urls:
		return u
	case <-time.After(60 * time.Second):
		t.Fatal("the server printed no serving line within 60s")
	}
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
