// Package refserver builds the reference server (cmd/sdapi-server) and runs
// it as a separate process on a free loopback port, for the tests and tools
// that judge it from outside: the conformance suite, the examples, the load
// check. It imports only the standard library, so that a harness using it
// still imports nothing of the server side (internal/archtest checks this):
// the server is exec'd, never linked in.
package refserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Package is the import path of the reference server's command.
const Package = "github.com/sdapi/sdapi/cmd/sdapi-server"

// Build compiles pkg (Package when empty; a relative path is relative to
// the working directory) into the binary out with the go command on PATH.
// Under go test that is the toolchain running the test, since go test puts
// its own GOROOT/bin first on PATH.
func Build(out, pkg string) error {
	if pkg == "" {
		pkg = Package
	}
	if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// BinaryEnv names a prebuilt sdapi-server that ServerBinary returns instead
// of building one: `make test` builds it once for every package that runs it.
const BinaryEnv = "SDAPI_SERVER_BIN"

// ServerBinary is the reference server to run: $SDAPI_SERVER_BIN when set,
// else Package built into dir.
func ServerBinary(dir string) (string, error) {
	if bin := os.Getenv(BinaryEnv); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("%s: %w", BinaryEnv, err)
		}
		return bin, nil
	}
	bin := filepath.Join(dir, "sdapi-server")
	return bin, Build(bin, "")
}

// Options says how to start the server.
type Options struct {
	Binary  string   // the sdapi-server binary, e.g. from Build
	DataDir string   // --data-dir; required, so that no run touches a shared one
	Args    []string // further flags, after --port 0 --data-dir DataDir
	Env     []string // added to this process's environment (which the server inherits)
	// Log receives the server's stderr, one Write per line with its
	// newline, each line after LogPrefix; nil discards it. Writes come
	// from another goroutine.
	Log       io.Writer
	LogPrefix string
	// KillAfter bounds how long Stop waits after SIGTERM before it kills
	// the process; 0 waits for the server's own --shutdown-timeout.
	KillAfter time.Duration
}

// Server is a running sdapi-server process.
type Server struct {
	URL string // http://127.0.0.1:PORT, from the "serving" log line

	cmd       *exec.Cmd
	killAfter time.Duration
	done      chan struct{} // closed once the process has exited and its log is read
	waitErr   error         // the exit status; valid once done is closed
}

// Start starts the server on a free loopback port (--port 0) and waits,
// until ctx is done, for slog's `msg=serving url=...` line. When the server
// exits or ctx ends first, the error carries the log so far; the process
// is gone by then.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.DataDir == "" {
		return nil, errors.New("refserver: no data dir")
	}
	lw := &lineWriter{log: o.Log, prefix: o.LogPrefix, serving: make(chan string, 1)}
	cmd := exec.Command(o.Binary, append([]string{"--port", "0", "--data-dir", o.DataDir}, o.Args...)...)
	if len(o.Env) > 0 {
		cmd.Env = append(os.Environ(), o.Env...)
	}
	// A writer rather than a pipe: exec copies stderr until the process
	// closes it, so a server that logs long lines never blocks on a full
	// pipe, and Wait returns only once the log is read.
	cmd.Stderr = lw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", o.Binary, err)
	}
	s := &Server{cmd: cmd, killAfter: o.KillAfter, done: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		lw.flush()
		close(s.done)
	}()
	select {
	case s.URL = <-lw.serving:
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("%s exited before serving (%v):\n%s", o.Binary, s.waitErr, lw.startup())
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-s.done
		return nil, fmt.Errorf("%s: no serving line: %w\n%s", o.Binary, context.Cause(ctx), lw.startup())
	}
}

// Stop sends SIGTERM and waits for the exit, killing the process after
// Options.KillAfter when that is set. It returns the exit status: nil for
// exit code 0. Stop may be called again; it returns the same status.
func (s *Server) Stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	if s.killAfter <= 0 {
		<-s.done
		return s.waitErr
	}
	t := time.NewTimer(s.killAfter)
	defer t.Stop()
	select {
	case <-s.done:
		return s.waitErr
	case <-t.C:
		_ = s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("killed: no exit within %v of SIGTERM: %w", s.killAfter, s.waitErr)
	}
}

// LogBuffer is an Options.Log that keeps the whole log, for a caller that
// shows it when something fails later: the server writes it from another
// goroutine while the caller may read it.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ServingURL reads the url of slog's text line
// `... msg=serving url=http://127.0.0.1:1234 ...`.
func ServingURL(line string) (string, bool) {
	fields := strings.Fields(line)
	if !slices.Contains(fields, "msg=serving") {
		return "", false
	}
	for _, f := range fields {
		if u, ok := strings.CutPrefix(f, "url="); ok {
			return u, true
		}
	}
	return "", false
}

// lineWriter splits the server's stderr into lines: until the first
// "serving" line it keeps them (for a start error) and reports that line's
// url; every line goes to log.
type lineWriter struct {
	log     io.Writer
	prefix  string
	serving chan string // the first serving url

	mu      sync.Mutex
	partial []byte       // unterminated last line
	before  bytes.Buffer // the lines before the serving line
	served  bool
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.line(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

// flush hands on an unterminated last line once the process has exited.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.line(string(w.partial))
		w.partial = nil
	}
}

// line handles one line; w.mu is held.
func (w *lineWriter) line(l string) {
	if !w.served {
		if u, ok := ServingURL(l); ok {
			w.served = true
			w.before.Reset() // only a start error shows these
			w.serving <- u   // buffered, sent once
		} else {
			w.before.WriteString(l + "\n")
		}
	}
	if w.log != nil {
		// A failing log writer must not stall or stop the server.
		_, _ = io.WriteString(w.log, w.prefix+l+"\n")
	}
}

func (w *lineWriter) startup() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.before.String()
}
