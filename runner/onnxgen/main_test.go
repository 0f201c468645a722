package onnxgen

import (
	"fmt"
	"os"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/internal/testenv"
)

// ortErr says why ONNX Runtime tests skip; empty when the environment is up.
var ortErr string

// TestMain initializes the ONNX Runtime environment once for the test
// binary, from ONNXRUNTIME_SHARED_LIBRARY_PATH or the library that the
// Makefile installs under .cache/.
func TestMain(m *testing.M) {
	code := func() int {
		lib, err := testenv.ORTLibrary()
		if err != nil {
			ortErr = err.Error()
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
		testenv.Missing(t, ortErr)
	}
}
