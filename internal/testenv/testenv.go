// Package testenv finds what tests need from the machine, the ONNX Runtime
// library, and decides in one place what a test does when it is missing:
// under CI=true it fails (CI installs everything, so a missing library is a
// broken install step), elsewhere it skips with the reason.
//
// Tests only: the server reads its configuration once, in cmd/.
package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// CI reports whether the tests run under CI (CI=true), where nothing may be
// skipped for want of a dependency.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing ends tb for want of a dependency: a failure under CI, a skip elsewhere.
func Missing(tb testing.TB, reason string) {
	tb.Helper()
	if CI() {
		tb.Fatalf("%s (CI=true: a missing dependency fails)", reason)
	}
	tb.Skip(reason)
}

// ORTLibrary is the ONNX Runtime shared library the tests load:
// $ONNXRUNTIME_SHARED_LIBRARY_PATH, else the one `make onnxruntime` installs
// under the module's .cache/onnxruntime. The error says how to get it.
func ORTLibrary() (string, error) {
	lib := os.Getenv("ONNXRUNTIME_SHARED_LIBRARY_PATH")
	if lib == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		lib = filepath.Join(root, ".cache", "onnxruntime", "libonnxruntime.so")
	}
	if _, err := os.Stat(lib); err != nil {
		return "", fmt.Errorf("ONNX Runtime library not found (%v); set ONNXRUNTIME_SHARED_LIBRARY_PATH or run make onnxruntime", err)
	}
	return filepath.Abs(lib)
}

// RequireORT returns the library's path, or ends tb through Missing.
func RequireORT(tb testing.TB) string {
	tb.Helper()
	lib, err := ORTLibrary()
	if err != nil {
		Missing(tb, err.Error())
	}
	return lib
}

// moduleRoot is the nearest directory above the working directory (a
// package directory under go test) that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
