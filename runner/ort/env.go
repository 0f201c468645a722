// Package ort is the ONNX Runtime implementation of runner.Runner: it loads a
// Stable Diffusion 1.x/2.x pipeline in the diffusers ONNX layout and
// generates images with AUTOMATIC1111's (v1.10) sampling math.
//
// Call Init once per process with the path of libonnxruntime.so, then Open a
// model directory. Only cmd/ imports this package.
package ort

import (
	"errors"
	"fmt"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// envMu guards the process-wide ONNX Runtime environment.
var envMu sync.Mutex

// Init loads the ONNX Runtime shared library at libPath and creates the
// process-wide environment (log level error). Calling it again while the
// environment is up does nothing and returns nil.
func Init(libPath string) error {
	envMu.Lock()
	defer envMu.Unlock()
	if onnxruntime.IsInitialized() {
		return nil
	}
	if libPath == "" {
		return errors.New("ort: no ONNX Runtime library path")
	}
	onnxruntime.SetSharedLibraryPath(libPath)
	if err := onnxruntime.InitializeEnvironment(onnxruntime.WithLogLevelError()); err != nil {
		return fmt.Errorf("ort: initialize ONNX Runtime from %s: %w", libPath, err)
	}
	return nil
}

// Shutdown destroys the environment created by Init. Close every Runner
// first. Calling it when the environment is down does nothing.
func Shutdown() {
	envMu.Lock()
	defer envMu.Unlock()
	if onnxruntime.IsInitialized() {
		_ = onnxruntime.DestroyEnvironment() // nothing useful to do with a failure at exit
	}
}
