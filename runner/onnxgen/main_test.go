package onnxgen

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
)

// ortErr says why ONNX Runtime tests skip; empty when the environment is up.
var ortErr string

// TestMain initializes the ONNX Runtime environment once for the test
// binary, from ONNXRUNTIME_SHARED_LIBRARY_PATH or the library that the
// Makefile installs under .cache/.
func TestMain(m *testing.M) {
	lib := os.Getenv("ONNXRUNTIME_SHARED_LIBRARY_PATH")
	if lib == "" {
		lib = filepath.Join("..", "..", ".cache", "onnxruntime", "libonnxruntime.so")
	}
	code := func() int {
		if _, err := os.Stat(lib); err != nil {
			ortErr = fmt.Sprintf("ONNX Runtime library not found (%v); set ONNXRUNTIME_SHARED_LIBRARY_PATH or install it into .cache/onnxruntime", err)
			return m.Run()
		}
		ort.SetSharedLibraryPath(lib)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			fmt.Fprintf(os.Stderr, "onnxgen tests: initialize ONNX Runtime from %s: %v\n", lib, err)
			return 1
		}
		defer func() {
			if err := ort.DestroyEnvironment(); err != nil {
				fmt.Fprintf(os.Stderr, "onnxgen tests: destroy ONNX Runtime environment: %v\n", err)
			}
		}()
		return m.Run()
	}()
	os.Exit(code)
}

func requireORT(t testing.TB) {
	t.Helper()
	if ortErr != "" {
		t.Skip(ortErr)
	}
}
