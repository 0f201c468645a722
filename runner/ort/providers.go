package ort

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// ErrProvider is wrapped by Open's error when Config.Device is "cuda" and
// the CUDA execution provider cannot be loaded, or the device is unknown.
var ErrProvider = errors.New("execution provider unavailable")

// Devices accepted in Config.Device.
const (
	DeviceCPU  = "cpu"
	DeviceCUDA = "cuda"
	DeviceAuto = "auto"
)

// sessionOptions builds the options shared by all four sessions and returns
// the execution provider actually used ("cpu" or "cuda").
func sessionOptions(cfg Config, log *slog.Logger) (*onnxruntime.SessionOptions, string, error) {
	dev := strings.ToLower(strings.TrimSpace(cfg.Device))
	if dev == "" {
		dev = DeviceCPU
	}
	if dev != DeviceCPU && dev != DeviceCUDA && dev != DeviceAuto {
		return nil, "", fmt.Errorf("%w: unknown device %q (want cpu, cuda or auto)", ErrProvider, cfg.Device)
	}
	opts, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, "", fmt.Errorf("ort: session options: %w", err)
	}
	fail := func(err error) (*onnxruntime.SessionOptions, string, error) {
		opts.Destroy()
		return nil, "", err
	}
	if cfg.Threads > 0 {
		if err := opts.SetIntraOpNumThreads(cfg.Threads); err != nil {
			return fail(fmt.Errorf("ort: intra-op threads: %w", err))
		}
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return fail(fmt.Errorf("ort: inter-op threads: %w", err))
	}
	if cfg.NoCPUArena {
		if err := opts.SetCpuMemArena(false); err != nil {
			return fail(fmt.Errorf("ort: cpu arena: %w", err))
		}
	}
	if dev == DeviceCPU {
		return opts, DeviceCPU, nil
	}
	if err := appendCUDA(opts); err != nil {
		if dev == DeviceCUDA {
			return fail(fmt.Errorf("%w: cuda: %w (the CUDA provider needs libonnxruntime_providers_cuda.so, CUDA and cuDNN next to libonnxruntime.so)", ErrProvider, err))
		}
		log.Warn("CUDA execution provider unavailable, falling back to CPU", "err", err)
		opts.Destroy()
		cpu := cfg
		cpu.Device = DeviceCPU
		return sessionOptions(cpu, log)
	}
	return opts, DeviceCUDA, nil
}

// appendCUDA adds the CUDA execution provider on device 0.
func appendCUDA(opts *onnxruntime.SessionOptions) error {
	co, err := onnxruntime.NewCUDAProviderOptions()
	if err != nil {
		return err
	}
	defer co.Destroy()
	if err := co.Update(map[string]string{"device_id": "0"}); err != nil {
		return err
	}
	return opts.AppendExecutionProviderCUDA(co)
}
