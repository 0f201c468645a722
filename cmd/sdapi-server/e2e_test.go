package main_test

// End-to-end tests of the real sdapi-server binary: TestMain builds it once,
// every test starts its own process on a free loopback port with a fresh
// --data-dir and talks HTTP to it. Nothing here sleeps for a fixed time:
// readiness is the "serving" log line plus a bounded poll, and every wait
// has a deadline.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sdapi/sdapi/internal/refserver"
	"github.com/sdapi/sdapi/internal/testenv"
)

const (
	startTimeout = 20 * time.Second // process start until it answers
	exitTimeout  = 10 * time.Second // SIGTERM or API stop until the process is gone
	httpTimeout  = 10 * time.Second // one HTTP exchange
)

// binary is the sdapi-server built by TestMain.
var binary string

// ortErr says why ONNX Runtime is missing; empty when it is there.
var ortErr string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sdapi-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		os.Exit(1)
	}
	if binary, err = refserver.ServerBinary(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	// The servers these tests start inherit the library's path.
	if lib, err := testenv.ORTLibrary(); err != nil {
		ortErr = err.Error()
	} else {
		os.Setenv("ONNXRUNTIME_SHARED_LIBRARY_PATH", lib)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestEveryOperation calls every operation of the spec once with a valid
// request and validates every answer.
func TestEveryOperation(t *testing.T) {
	t.Parallel()
	p := startServer(t, "")
	v := validator(t, p)
	ops := v.Operations()
	if len(ops) < 30 {
		t.Fatalf("spec lists only %d operations", len(ops))
	}
	// Minimal valid bodies where {} is not one.
	// Generation runs for real here: small sizes keep it quick on 2 cores.
	bodies := map[string]any{
		"/sdapi/v1/txt2img":            map[string]any{"width": 64, "height": 64, "steps": 2},
		"/sdapi/v1/img2img":            map[string]any{"init_images": []any{tinyPNG(t)}, "width": 64, "height": 64, "steps": 2},
		"/sdapi/v1/png-info":           map[string]any{"image": tinyPNG(t)},
		"/sdapi/v1/extra-batch-images": map[string]any{"imageList": []any{}},
	}
	stopRoutes := []string{"/sdapi/v1/server-kill", "/sdapi/v1/server-restart", "/sdapi/v1/server-stop"}
	for _, op := range ops {
		if strings.Contains(op.Path, "{") {
			t.Errorf("%s %s: path parameters are not covered by this test", op.Method, op.Path)
			continue
		}
		var body any
		if op.HasBody {
			body = map[string]any{}
			if b, ok := bodies[op.Path]; ok {
				body = b
			}
		}
		r := do(t, v, op.Method, p.url, op.Path, body)
		what := op.Method + " " + op.Path
		switch {
		case slices.Contains(stopRoutes, op.Path):
			wantNotFound(t, what+" without --api-server-stop", r)
		case op.Method == http.MethodGet || bodies[op.Path] != nil:
			// Reads and the operations given a real body (generation
			// runs on the emitted default model) must succeed.
			if r.Status != http.StatusOK {
				t.Errorf("%s: status %d, want 200; body %.300s", what, r.Status, r.Body)
			}
		default:
			// Other operations sent {} may refuse it (training answers its
			// honest message, interrogate 501), but a valid request must
			// reach its handler.
			switch r.Status {
			case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusUnprocessableEntity:
				if r.Status != http.StatusNotFound || bytes.Contains(r.Body, []byte(`"Not Found"`)) {
					t.Errorf("%s: status %d for a valid request; body %.300s", what, r.Status, r.Body)
				}
			}
		}
		if p.exited() {
			t.Fatalf("server exited after %s", what)
		}
	}
}

// TestDoneWhen is the "done when" list.
func TestDoneWhen(t *testing.T) {
	t.Parallel()

	t.Run("422 loc", func(t *testing.T) {
		t.Parallel()
		p := startServer(t, "")
		v := validator(t, p)
		r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/txt2img", `{"steps":"abc"}`)
		if r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422; body %s", r.Status, r.Body)
		}
		got := decode[struct {
			Detail []struct {
				Loc []any `json:"loc"`
			} `json:"detail"`
		}](t, r)
		if len(got.Detail) == 0 || !reflect.DeepEqual(got.Detail[0].Loc, []any{"body", "steps"}) {
			t.Errorf(`detail[0].loc: body %s, want ["body","steps"]`, r.Body)
		}
	})

	t.Run("unknown path", func(t *testing.T) {
		t.Parallel()
		p := startServer(t, "")
		wantNotFound(t, "GET /sdapi/v1/nope", call(t, http.MethodGet, p.url, "/sdapi/v1/nope", nil))
		wantNotFound(t, "POST /sdapi/v1/nope", call(t, http.MethodPost, p.url, "/sdapi/v1/nope", "{}"))
	})

	t.Run("api-auth", func(t *testing.T) {
		t.Parallel()
		p := startServer(t, "", "--api-auth", "user:pass")
		v := validator(t, p)
		for _, c := range []struct {
			name   string
			opts   []reqOpt
			status int
			detail string
		}{
			{"no credentials", nil, http.StatusUnauthorized, "Not authenticated"},
			{"wrong password", []reqOpt{basicAuth("user", "nope")}, http.StatusUnauthorized, "Incorrect username or password"},
			{"credentials", []reqOpt{basicAuth("user", "pass")}, http.StatusOK, ""},
		} {
			for _, path := range []string{"/sdapi/v1/progress", "/sdapi/v1/options"} {
				r := do(t, v, http.MethodGet, p.url, path, nil, c.opts...)
				if r.Status != c.status {
					t.Errorf("%s: GET %s: status %d, want %d; body %.200s", c.name, path, r.Status, c.status, r.Body)
					continue
				}
				if c.detail != "" {
					if got := decode[map[string]any](t, r)["detail"]; got != c.detail {
						t.Errorf("%s: GET %s: detail %v, want %q", c.name, path, got, c.detail)
					}
				}
			}
		}
	})

	t.Run("options survive a restart", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		p := startServer(t, dir)
		v := validator(t, p)
		before := decode[map[string]any](t, do(t, v, http.MethodGet, p.url, "/sdapi/v1/options", nil))
		if before["send_seed"] == false || before["samples_format"] == "jpg" {
			t.Fatalf("defaults already hold the new values: send_seed=%v samples_format=%v", before["send_seed"], before["samples_format"])
		}
		r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/options", `{"send_seed": false, "samples_format": "jpg"}`)
		if r.Status != http.StatusOK {
			t.Fatalf("POST /options: status %d; body %s", r.Status, r.Body)
		}
		p.terminate()

		p2 := startServer(t, dir)
		got := decode[map[string]any](t, do(t, validator(t, p2), http.MethodGet, p2.url, "/sdapi/v1/options", nil))
		if got["send_seed"] != false || got["samples_format"] != "jpg" {
			t.Errorf("after restart: send_seed=%v samples_format=%v, want false jpg", got["send_seed"], got["samples_format"])
		}
		raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		var file map[string]any
		if err := json.Unmarshal(raw, &file); err != nil {
			t.Fatalf("config.json: %v\n%s", err, raw)
		}
		if file["send_seed"] != false || file["samples_format"] != "jpg" {
			t.Errorf("config.json: send_seed=%v samples_format=%v, want false jpg", file["send_seed"], file["samples_format"])
		}
	})
}

// listeners returns the local addresses (hex, as /proc/net/tcp{,6} write
// them) of the TCP sockets listening on port.
func listeners(t *testing.T, port int) []string {
	t.Helper()
	var out []string
	suffix := fmt.Sprintf(":%04X", port)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(raw))
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local_address rem_address st ...; st 0A is LISTEN.
			if len(fields) < 4 || fields[3] != "0A" {
				continue
			}
			if addr, ok := strings.CutSuffix(fields[1], suffix); ok {
				out = append(out, addr)
			}
		}
	}
	return out
}

// externalIPv4 is a non-loopback IPv4 address of this machine, or nil.
func externalIPv4() net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip := n.IP.To4(); ip != nil && !ip.IsLoopback() && !ip.IsUnspecified() {
				return ip
			}
		}
	}
	return nil
}

func TestBindAddress(t *testing.T) {
	t.Parallel()
	const (
		loop4 = "0100007F"                         // 127.0.0.1
		any4  = "00000000"                         // 0.0.0.0
		any6  = "00000000000000000000000000000000" // :: (Go's dual-stack wildcard)
	)
	hasProc := func(t *testing.T) bool {
		t.Helper()
		if _, err := os.Stat("/proc/net/tcp"); err != nil {
			t.Log("no /proc/net/tcp; socket table check skipped")
			return false
		}
		return true
	}

	t.Run("default is loopback", func(t *testing.T) {
		t.Parallel()
		p := startServer(t, "")
		if !strings.HasPrefix(p.url, "http://127.0.0.1:") {
			t.Errorf("serving url %q, want http://127.0.0.1:PORT", p.url)
		}
		if hasProc(t) {
			ls := listeners(t, p.port)
			if len(ls) == 0 {
				t.Errorf("no listening socket on port %d in /proc/net/tcp{,6}", p.port)
			}
			for _, a := range ls {
				if a != loop4 {
					t.Errorf("listening on %s:%d, want only 127.0.0.1 (%s)", a, p.port, loop4)
				}
			}
		}
		ip := externalIPv4()
		if ip == nil {
			t.Log("no non-loopback IPv4 address; dial check skipped")
			return
		}
		addr := net.JoinHostPort(ip.String(), strconv.Itoa(p.port))
		if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			c.Close()
			t.Errorf("dial %s succeeded; the default must be loopback only", addr)
		}
	})

	t.Run("--listen is all interfaces", func(t *testing.T) {
		t.Parallel()
		p := startServer(t, "", "--listen")
		if hasProc(t) {
			ls := listeners(t, p.port)
			if !slices.Contains(ls, any4) && !slices.Contains(ls, any6) {
				t.Errorf("listening on %v:%d, want the wildcard address", ls, p.port)
			}
		}
		r := call(t, http.MethodGet, p.url, "/sdapi/v1/progress", nil)
		if r.Status != http.StatusOK {
			t.Errorf("GET /progress on loopback: %d", r.Status)
		}
		ip := externalIPv4()
		if ip == nil {
			t.Log("no non-loopback IPv4 address; dial check skipped")
			return
		}
		base := "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(p.port))
		if r := call(t, http.MethodGet, base, "/sdapi/v1/progress", nil); r.Status != http.StatusOK {
			t.Errorf("GET %s/sdapi/v1/progress: %d", base, r.Status)
		}
	})
}

func TestServerStopRoutes(t *testing.T) {
	t.Parallel()

	t.Run("server-stop", func(t *testing.T) {
		t.Parallel()
		p := startServer(t, "", "--api-server-stop")
		r := do(t, validator(t, p), http.MethodPost, p.url, "/sdapi/v1/server-stop", nil)
		if r.Status != http.StatusOK || string(r.Body) != "Stopping." {
			t.Errorf("server-stop: %d %q, want 200 \"Stopping.\"", r.Status, r.Body)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("server-stop: Content-Type %q, want text/plain", ct)
		}
		if code := p.waitExit(exitTimeout); code != 0 {
			t.Errorf("exit code after server-stop = %d (%v), want 0", code, p.waitErr)
		}
	})

	t.Run("server-restart", func(t *testing.T) {
		t.Parallel()
		p := startServer(t, "", "--api-server-stop")
		v := validator(t, p)
		if r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/options", `{"send_seed": false}`); r.Status != http.StatusOK {
			t.Fatalf("POST /options: %d %s", r.Status, r.Body)
		}
		r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/server-restart", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("server-restart: %d %s", r.Status, r.Body)
		}
		// The process re-executes itself: same pid, a second "serving" line.
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		select {
		case u := <-p.log.serving:
			if u != p.url {
				t.Errorf("restarted on %s, want %s", u, p.url)
			}
		case <-p.done:
			t.Fatalf("process exited on restart (%v)", p.waitErr)
		case <-ctx.Done():
			t.Fatalf("no second serving line within %v", startTimeout)
		}
		if err := p.waitAnswering(ctx); err != nil {
			t.Fatal(err)
		}
		got := decode[map[string]any](t, do(t, v, http.MethodGet, p.url, "/sdapi/v1/options", nil))
		if got["send_seed"] != false {
			t.Errorf("after server-restart send_seed=%v, want false", got["send_seed"])
		}
		flags := decode[map[string]any](t, do(t, v, http.MethodGet, p.url, "/sdapi/v1/cmd-flags", nil))
		if flags["api_server_stop"] != true || flags["data_dir"] != p.dataDir {
			t.Errorf("after server-restart cmd-flags api_server_stop=%v data_dir=%v", flags["api_server_stop"], flags["data_dir"])
		}
		p.terminate()
	})

	t.Run("server-kill", func(t *testing.T) {
		t.Parallel()
		p := startServer(t, "", "--api-server-stop")
		v := validator(t, p)
		req := newReq(t, http.MethodPost, p.url, "/sdapi/v1/server-kill", nil)
		resp, err := client.Do(req)
		if err == nil {
			// The reply may be cut short by the exit; validate what came.
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil {
				if err := v.Validate(req.Context(), req, resp.StatusCode, resp.Header, body); err != nil {
					t.Errorf("contract violation: %v", err)
				}
				if resp.StatusCode != http.StatusOK {
					t.Errorf("server-kill: %d %s", resp.StatusCode, body)
				}
			}
		} else {
			t.Logf("server-kill: connection closed: %v", err)
		}
		if code := p.waitExit(exitTimeout); code != 0 {
			t.Errorf("exit code after server-kill = %d (%v), want 0 as A1111's os._exit(0)", code, p.waitErr)
		}
	})
}

func TestSIGTERMIdle(t *testing.T) {
	t.Parallel()
	p := startServer(t, "")
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.waitExit(5 * time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d (%v), want 0", code, p.waitErr)
	}
	t.Logf("exited %v after SIGTERM", time.Since(start).Round(time.Millisecond))
}

func TestCmdFlags(t *testing.T) {
	t.Parallel()
	const password = "s3cret-Pa55"

	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		p := startServer(t, "")
		r := do(t, validator(t, p), http.MethodGet, p.url, "/sdapi/v1/cmd-flags", nil)
		flags := decode[map[string]any](t, r)
		want := map[string]any{
			// FlagsModel types port str (argparse default None).
			"port":            strconv.Itoa(p.port),
			"listen":          false,
			"api_server_stop": false,
			"data_dir":        p.dataDir,
			"api_auth":        nil,
			"api":             true, // A1111's --api --nowebui
			"nowebui":         true,
			"max_batch_count": float64(16), // A1111's default for a flag this server lacks
		}
		for k, w := range want {
			if g, ok := flags[k]; !ok || g != w {
				t.Errorf("cmd-flags %s = %#v (present %v), want %#v", k, g, ok, w)
			}
		}
		// --styles-file is a list in A1111 (action="append").
		if got, want := flags["styles_file"], []any{filepath.Join(p.dataDir, "styles.csv")}; !reflect.DeepEqual(got, want) {
			t.Errorf("cmd-flags styles_file = %#v, want %#v", got, want)
		}
		for k := range flags {
			if strings.Contains(k, "-") {
				t.Errorf("cmd-flags key %q: A1111 names use underscores", k)
			}
		}
	})

	t.Run("set", func(t *testing.T) {
		t.Parallel()
		p := startServer(t, "", "--api-server-stop", "--listen", "--api-auth", "admin:"+password)
		r := do(t, validator(t, p), http.MethodGet, p.url, "/sdapi/v1/cmd-flags", nil, basicAuth("admin", password))
		if r.Status != http.StatusOK {
			t.Fatalf("cmd-flags: %d %s", r.Status, r.Body)
		}
		if bytes.Contains(r.Body, []byte(password)) {
			t.Errorf("cmd-flags leaks the --api-auth password: %s", r.Body)
		}
		flags := decode[map[string]any](t, r)
		if flags["port"] != strconv.Itoa(p.port) || flags["api_server_stop"] != true || flags["listen"] != true || flags["data_dir"] != p.dataDir {
			t.Errorf("cmd-flags port=%v api_server_stop=%v listen=%v data_dir=%v; want %d true true %s",
				flags["port"], flags["api_server_stop"], flags["listen"], flags["data_dir"], p.port, p.dataDir)
		}
		if a, ok := flags["api_auth"]; !ok || a == nil {
			t.Errorf("cmd-flags api_auth = %v, want a redacted non-null value", a)
		}
	})

	t.Run("port 0", func(t *testing.T) {
		t.Parallel()
		p := startServer(t, "", "--port", "0")
		if p.port == 0 {
			t.Fatalf("serving line names no bound port: %s", p.url)
		}
		if r := call(t, http.MethodGet, p.url, "/sdapi/v1/progress", nil); r.Status != http.StatusOK {
			t.Errorf("GET /progress on the bound port: %d", r.Status)
		}
	})
}
