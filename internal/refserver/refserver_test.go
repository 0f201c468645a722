package refserver

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a fake server (REFSERVER_FAKE names how it
// behaves), so that Start and Stop are tested without building the real one;
// conformance, examples/txt2img and cmd/sdapi-load run the real one.
func TestMain(m *testing.M) {
	if mode := os.Getenv("REFSERVER_FAKE"); mode != "" {
		os.Exit(fake(mode))
	}
	os.Exit(m.Run())
}

func fake(mode string) int {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	fmt.Fprintf(os.Stderr, "level=INFO msg=starting args=%q\n", strings.Join(os.Args[1:], " "))
	switch mode {
	case "exit":
		fmt.Fprintln(os.Stderr, "level=ERROR msg=\"listen: address already in use\"")
		return 3
	case "silent":
		<-term
		return 0
	}
	if mode == "stubborn" {
		// Before the serving line, after which Stop may signal: the
		// runtime stops wanting SIGTERM a moment before it ignores it,
		// and a SIGTERM in between kills the process.
		signal.Ignore(syscall.SIGTERM)
	}
	fmt.Fprintln(os.Stderr, "level=INFO msg=serving url=http://127.0.0.1:4242 addr=127.0.0.1:4242")
	if mode == "stubborn" {
		select {} // until killed
	}
	<-term
	fmt.Fprint(os.Stderr, "level=INFO msg=stopped") // no newline: flushed at exit
	if mode == "fail" {
		return 2
	}
	return 0
}

func start(t *testing.T, mode string, timeout time.Duration, o Options) (*Server, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	o.Binary = os.Args[0]
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	o.Env = append(o.Env, "REFSERVER_FAKE="+mode)
	return Start(ctx, o)
}

func TestStartStop(t *testing.T) {
	var log LogBuffer
	data := t.TempDir()
	s, err := start(t, "ok", 30*time.Second, Options{DataDir: data, Args: []string{"--threads", "1"}, Log: &log, LogPrefix: "srv: "})
	if err != nil {
		t.Fatal(err)
	}
	if s.URL != "http://127.0.0.1:4242" {
		t.Errorf("URL %q", s.URL)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	want := fmt.Sprintf("srv: level=INFO msg=starting args=%q\n", "--port 0 --data-dir "+data+" --threads 1") +
		"srv: level=INFO msg=serving url=http://127.0.0.1:4242 addr=127.0.0.1:4242\n" +
		"srv: level=INFO msg=stopped\n"
	if got := log.String(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}

func TestStopExitStatus(t *testing.T) {
	s, err := start(t, "fail", 30*time.Second, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err == nil || !strings.Contains(err.Error(), "exit status 2") {
		t.Errorf("Stop: %v, want exit status 2", err)
	}
}

func TestStopKillsAfter(t *testing.T) {
	s, err := start(t, "stubborn", 30*time.Second, Options{KillAfter: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Stop: %v, want killed", err)
	}
}

func TestExitBeforeServing(t *testing.T) {
	_, err := start(t, "exit", 30*time.Second, Options{})
	if err == nil || !strings.Contains(err.Error(), "exited before serving") || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("err %v, want exited before serving with the log", err)
	}
}

func TestNoServingLine(t *testing.T) {
	_, err := start(t, "silent", 200*time.Millisecond, Options{})
	if err == nil || !strings.Contains(err.Error(), "no serving line") || !strings.Contains(err.Error(), "msg=starting") {
		t.Errorf("err %v, want no serving line with the log", err)
	}
}

func TestNoDataDir(t *testing.T) {
	if _, err := Start(t.Context(), Options{Binary: os.Args[0]}); err == nil {
		t.Error("Start without a data dir succeeded")
	}
}

func TestServingURL(t *testing.T) {
	for _, c := range []struct {
		line, url string
		ok        bool
	}{
		{`time=2025-01-01T00:00:00Z level=INFO msg=serving url=http://127.0.0.1:7860 addr=127.0.0.1:7860`, "http://127.0.0.1:7860", true},
		{`level=INFO msg=starting url=http://127.0.0.1:7860`, "", false},
		{`level=INFO msg=serving`, "", false},
		{`level=INFO msg="serving url=x"`, "", false},
	} {
		u, ok := ServingURL(c.line)
		if u != c.url || ok != c.ok {
			t.Errorf("ServingURL(%q) = %q, %v; want %q, %v", c.line, u, ok, c.url, c.ok)
		}
	}
}
