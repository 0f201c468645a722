package main_test

// Helpers of the end-to-end tests: starting and stopping the real binary,
// requests validated against the spec.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sdapi/sdapi/internal/refserver"
	"github.com/sdapi/sdapi/internal/spectest"
)

var client = &http.Client{
	Timeout:   httpTimeout,
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
}

// logSink collects the server's stderr and reports every "serving" line.
type logSink struct {
	mu      sync.Mutex
	buf     bytes.Buffer // whole log
	partial []byte       // unterminated last line
	serving chan string  // url= of each "serving" line
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		if u, ok := refserver.ServingURL(line); ok {
			select {
			case l.serving <- u:
			default:
			}
		}
	}
	return len(p), nil
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// proc is one running sdapi-server.
type proc struct {
	t       *testing.T
	cmd     *exec.Cmd
	log     *logSink
	dataDir string
	port    int
	url     string // http://127.0.0.1:PORT
	done    chan struct{}
	waitErr error // valid once done is closed
}

// startServer starts the binary with --data-dir dataDir (a fresh one when
// empty) and args, on a free port unless args name --port, and waits until
// it answers. Cleanup stops it with SIGTERM and asserts exit code 0.
func startServer(t *testing.T, dataDir string, args ...string) *proc {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	pickPort := !slices.ContainsFunc(args, func(a string) bool {
		return a == "--port" || strings.HasPrefix(a, "--port=")
	})
	// A picked port can be taken by someone else before the server binds
	// it; try a few.
	for attempt := 1; ; attempt++ {
		full := append([]string{"--data-dir", dataDir}, args...)
		port := 0
		if pickPort {
			port = freePort(t)
			full = append(full, "--port", strconv.Itoa(port))
		}
		p, err := tryStart(t, dataDir, port, full)
		if err == nil {
			return p
		}
		if pickPort && attempt < 3 && strings.Contains(err.Error(), "address already in use") {
			t.Logf("port %d taken, retrying: %v", port, err)
			continue
		}
		t.Fatal(err)
	}
}

func tryStart(t *testing.T, dataDir string, port int, args []string) (*proc, error) {
	t.Helper()
	p := &proc{
		t:       t,
		log:     &logSink{serving: make(chan string, 8)},
		dataDir: dataDir,
		done:    make(chan struct{}),
	}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Stdout = p.log
	p.cmd.Stderr = p.log
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %v", binary, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var u string
	select {
	case u = <-p.log.serving:
	case <-p.done:
		return nil, fmt.Errorf("server exited before serving (%v):\n%s", p.waitErr, p.log)
	case <-ctx.Done():
		p.kill()
		return nil, fmt.Errorf("no serving line within %v:\n%s", startTimeout, p.log)
	}
	p.url = u
	pu, err := url.Parse(u)
	if err != nil {
		p.kill()
		return nil, fmt.Errorf("serving url %q: %v", u, err)
	}
	p.port, _ = strconv.Atoi(pu.Port())
	if port != 0 && p.port != port {
		p.kill()
		return nil, fmt.Errorf("asked for port %d, serving on %q", port, u)
	}
	t.Cleanup(p.cleanup)
	if err := p.waitAnswering(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// waitAnswering polls GET /sdapi/v1/progress until the server answers with
// any HTTP status (401 counts: it answers under --api-auth).
func (p *proc) waitAnswering(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/sdapi/v1/progress", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not answering: %v\n%s", p.url, last, p.log)
		case <-p.done:
			return fmt.Errorf("server exited (%v) while waiting for it to answer:\n%s", p.waitErr, p.log)
		case <-tick.C:
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitExit waits up to timeout for the process to exit and returns its
// exit code, failing the test if it does not exit.
func (p *proc) waitExit(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.kill()
		p.t.Fatalf("server did not exit within %v; killed\n%s", timeout, p.log)
	}
	return p.cmd.ProcessState.ExitCode()
}

// terminate sends SIGTERM, waits for the exit and asserts exit code 0.
func (p *proc) terminate() {
	p.t.Helper()
	if !p.exited() {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			p.t.Errorf("SIGTERM: %v", err)
		}
	}
	if code := p.waitExit(exitTimeout); code != 0 {
		p.t.Errorf("exit code after SIGTERM = %d (%v), want 0\n%s", code, p.waitErr, p.log)
	}
}

func (p *proc) cleanup() {
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(exitTimeout):
			p.kill()
			p.t.Errorf("server did not exit within %v of SIGTERM; killed", exitTimeout)
		}
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			p.t.Errorf("exit code after SIGTERM = %d (%v), want 0", code, p.waitErr)
		}
	}
	if p.t.Failed() {
		p.t.Logf("server log (%s):\n%s", p.url, p.log)
	}
}

// --- HTTP helpers ---

type reqOpt func(*http.Request)

func basicAuth(user, pass string) reqOpt {
	return func(r *http.Request) { r.SetBasicAuth(user, pass) }
}

func newReq(t *testing.T, method, base, path string, body any, opts ...reqOpt) *http.Request {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), httpTimeout)
	t.Cleanup(cancel)
	req, err := spectest.NewRequest(ctx, method, base, path, raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(req)
	}
	return req
}

// call sends a request without validating it against the spec.
func call(t *testing.T, method, base, path string, body any, opts ...reqOpt) spectest.Response {
	t.Helper()
	req := newReq(t, method, base, path, body, opts...)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return spectest.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func validator(t *testing.T, p *proc) *spectest.Validator {
	t.Helper()
	v, err := spectest.New(p.url)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// do sends a request and validates the exchange against the spec.
func do(t *testing.T, v *spectest.Validator, method, base, path string, body any, opts ...reqOpt) spectest.Response {
	t.Helper()
	return v.Do(t, client, newReq(t, method, base, path, body, opts...))
}

func decode[T any](t *testing.T, r spectest.Response) T {
	t.Helper()
	var out T
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("decode %T from %d %q: %v", out, r.Status, r.Body, err)
	}
	return out
}

func wantNotFound(t *testing.T, what string, r spectest.Response) {
	t.Helper()
	if r.Status != http.StatusNotFound {
		t.Errorf("%s: status %d, want 404; body %s", what, r.Status, r.Body)
		return
	}
	got := decode[map[string]any](t, r)
	if want := map[string]any{"detail": "Not Found"}; !reflect.DeepEqual(got, want) {
		t.Errorf("%s: body %s, want {\"detail\":\"Not Found\"}", what, r.Body)
	}
}

// tinyPNG is a valid 1×1 PNG, base64, for /png-info.
func tinyPNG(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// --- tests ---
