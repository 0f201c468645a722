package server_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sdapi/sdapi/internal/spectest"
	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/catalog"
	"github.com/sdapi/sdapi/processing/options"
	"github.com/sdapi/sdapi/processing/styles"
	"github.com/sdapi/sdapi/server"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// waitTimeout bounds every wait on a channel; nothing here should come close.
const waitTimeout = 10 * time.Second

// optionDefs decodes the embedded spec once per test binary; options.New
// copies the defs, so the servers share nothing through them.
var optionDefs = sync.OnceValues(server.OptionDefs)

// testDirs is the on-disk state of one server: its data dir (config.json),
// model dirs and styles file. Two servers built on the same testDirs share
// settings, as a restarted A1111 does.
type testDirs struct {
	Data, Checkpoints, VAEs, StylesCSV string
}

func newTestDirs(t testing.TB) testDirs {
	t.Helper()
	root := t.TempDir()
	d := testDirs{
		Data:        filepath.Join(root, "data"),
		Checkpoints: filepath.Join(root, "models", "Stable-diffusion"),
		VAEs:        filepath.Join(root, "models", "VAE"),
		StylesCSV:   filepath.Join(root, "data", "styles.csv"),
	}
	for _, dir := range []string{d.Data, d.Checkpoints, d.VAEs} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// addCheckpoint installs a diffusers model directory named name.
func (d testDirs) addCheckpoint(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(d.Checkpoints, name)
	writeFile(t, filepath.Join(dir, "model_index.json"), `{"_class_name":"OnnxStableDiffusionPipeline"}`)
	return dir
}

// addVAE installs a VAE directory named name.
func (d testDirs) addVAE(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(d.VAEs, name)
	writeFile(t, filepath.Join(dir, "vae_decoder", "model.onnx"), "onnx")
	return dir
}

func writeFile(t testing.TB, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeLifecycle records Stop, Kill and Restart. Each call blocks until the
// test receives it from calls (or the test ends), so a handler that called
// it before replying would never reply.
type fakeLifecycle struct {
	calls chan string
	done  chan struct{}
}

func newFakeLifecycle(t testing.TB) *fakeLifecycle {
	f := &fakeLifecycle{calls: make(chan string), done: make(chan struct{})}
	t.Cleanup(func() { close(f.done) })
	return f
}

func (f *fakeLifecycle) record(name string) {
	select {
	case f.calls <- name:
	case <-f.done:
	}
}

func (f *fakeLifecycle) Stop()          { f.record("Stop") }
func (f *fakeLifecycle) Kill()          { f.record("Kill") }
func (f *fakeLifecycle) Restart() error { f.record("Restart"); return nil }

// wait returns the next recorded call, failing t after waitTimeout.
func (f *fakeLifecycle) wait(t testing.TB) string {
	t.Helper()
	select {
	case c := <-f.calls:
		return c
	case <-time.After(waitTimeout):
		t.Fatal("lifecycle: no call within timeout")
		return ""
	}
}

// assertNoCall fails t if a lifecycle call is pending right now.
func (f *fakeLifecycle) assertNoCall(t testing.TB) {
	t.Helper()
	select {
	case c := <-f.calls:
		t.Errorf("lifecycle: unexpected call %s", c)
	default:
	}
}

// testServer is a real server over loopback HTTP with real dependencies.
type testServer struct {
	URL     string
	Dirs    testDirs
	Echo    *echo.Echo
	Life    *fakeLifecycle
	State   *processing.State
	Options *options.Store
	V       *spectest.Validator
	Client  *http.Client
	// User and Password, when User is set, go into every request do sends.
	User, Password string
}

// newTestServer starts a server on fresh temp dirs.
func newTestServer(t testing.TB, opts ...func(*server.Config)) *testServer {
	t.Helper()
	return startServer(t, newTestDirs(t), nil, opts...)
}

// startServer starts a server on dirs. hook, if set, may add routes to the
// Echo app before it serves.
func startServer(t testing.TB, dirs testDirs, hook func(*echo.Echo), opts ...func(*server.Config)) *testServer {
	t.Helper()
	return startServerDeps(t, dirs, hook, nil, opts...)
}

// startServerDeps is startServer with withDeps, when set, completing the
// dependencies (Processor, Queue, Models) before the server is built.
func startServerDeps(t testing.TB, dirs testDirs, hook func(*echo.Echo), withDeps func(*server.Deps), opts ...func(*server.Config)) *testServer {
	t.Helper()
	cat, err := catalog.New(dirs.Checkpoints, dirs.VAEs)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := optionDefs()
	if err != nil {
		t.Fatal(err)
	}
	store, err := options.New(defs, filepath.Join(dirs.Data, "config.json"), server.CheckpointValidator(cat))
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{Flags: map[string]any{"api": true, "nowebui": true, "port": 7861}}
	for _, o := range opts {
		o(&cfg)
	}
	life := newFakeLifecycle(t)
	state := processing.NewState(nil)
	deps := server.Deps{
		Options:   store,
		State:     state,
		Catalog:   cat,
		Styles:    styles.Open(dirs.StylesCSV),
		Lifecycle: life,
	}
	if withDeps != nil {
		withDeps(&deps)
	}
	e, err := server.NewEcho(server.New(cfg, deps))
	if err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		hook(e)
	}
	ts := httptest.NewServer(e)
	t.Cleanup(ts.Close)
	v, err := spectest.New(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := ts.Client()
	client.Timeout = waitTimeout
	return &testServer{URL: ts.URL, Dirs: dirs, Echo: e, Life: life, State: state, Options: store, V: v, Client: client}
}

func withServerStop(c *server.Config) { c.ServerStop = true }

func withAuth(pairs ...server.Credential) func(*server.Config) {
	return func(c *server.Config) { c.APIAuth = pairs }
}

// newRequest builds a request to path; a non-nil body is sent as JSON.
func (s *testServer) newRequest(t testing.TB, method, path string, body []byte) *http.Request {
	t.Helper()
	req, err := spectest.NewRequest(t.Context(), method, s.URL, path, body)
	if err != nil {
		t.Fatal(err)
	}
	if s.User != "" {
		req.SetBasicAuth(s.User, s.Password)
	}
	return req
}

// do sends a request, validates the answer against the spec and checks the
// X-Process-Time header every response must carry.
func (s *testServer) do(t testing.TB, method, path string, body []byte) spectest.Response {
	t.Helper()
	return s.doReq(t, s.newRequest(t, method, path, body))
}

func (s *testServer) doReq(t testing.TB, req *http.Request) spectest.Response {
	t.Helper()
	res := s.V.Do(t, s.Client, req)
	if res.Header.Get("X-Process-Time") == "" {
		t.Errorf("%s %s: no X-Process-Time header", req.Method, req.URL.Path)
	}
	return res
}

// doRaw sends a request the spec cannot route (unknown path, wrong method)
// and returns the answer unvalidated, still checking X-Process-Time.
func (s *testServer) doRaw(t testing.TB, req *http.Request) spectest.Response {
	t.Helper()
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("X-Process-Time") == "" {
		t.Errorf("%s %s: no X-Process-Time header", req.Method, req.URL.Path)
	}
	return spectest.Response{Status: resp.StatusCode, Header: resp.Header, Body: buf.Bytes()}
}

// decode unmarshals b into a T, failing t if it is not JSON.
func decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T: %v\nbody: %s", v, err, b)
	}
	return v
}

// assertJSON checks that got is JSON equal to want (key order and
// whitespace do not matter).
func assertJSON(t testing.TB, got []byte, want string) {
	t.Helper()
	g, w := decode[any](t, got), decode[any](t, []byte(want))
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body:\n got %s\nwant %s", got, want)
	}
}

// assertStatus fails t unless res has status want.
func assertStatus(t testing.TB, res spectest.Response, want int) {
	t.Helper()
	if res.Status != want {
		t.Fatalf("status: got %d, want %d\nbody: %s", res.Status, want, res.Body)
	}
}

// assertGolden compares got, as indented JSON, with testdata/name; with
// -update it rewrites the file instead.
func assertGolden(t testing.TB, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatalf("golden %s: %v", name, err)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run with -update to create it)", name, err)
	}
	assertJSON(t, buf.Bytes(), string(want))
}

// detailItem is one entry of FastAPI's 422 detail list.
type detailItem struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// validationDetail decodes a 422 body strictly: a detail list whose items
// each have loc, msg and type.
func validationDetail(t testing.TB, body []byte) []detailItem {
	t.Helper()
	var raw struct {
		Detail []map[string]json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("422 body: %v\nbody: %s", err, body)
	}
	if len(raw.Detail) == 0 {
		t.Fatalf("422 body has no detail items: %s", body)
	}
	for i, item := range raw.Detail {
		for _, k := range []string{"loc", "msg", "type"} {
			if _, ok := item[k]; !ok {
				t.Errorf("detail[%d] has no %q: %s", i, k, body)
			}
		}
	}
	return decode[struct{ Detail []detailItem }](t, body).Detail
}

// a1111Error is A1111's api_middleware error body.
type a1111Error struct {
	Error  string `json:"error"`
	Detail string `json:"detail"`
	Body   string `json:"body"`
	Errors string `json:"errors"`
}

// quote is s as a JSON string literal.
func quote(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // unreachable: strings always marshal
	}
	return string(b)
}
