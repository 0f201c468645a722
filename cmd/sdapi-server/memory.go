package main

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/sdapi/sdapi/runner/ort"
	"github.com/sdapi/sdapi/server"
)

// resolveMemory reads the machine's memory once at start, sets the UNet's
// memory budget (batches run in sub-batches that fit it) and, unless
// --max-pixels was given, the per-image pixel limit that one UNet sample
// within the budget allows, and logs them. When the memory cannot be read
// the budget stays 0 (whole batches) and the limit is
// server.DefaultLimits'.
func resolveMemory(log *slog.Logger, cfg *config) {
	given := cfg.limits.MaxPixels > 0
	mem, err := machineMemory()
	if err != nil {
		if !given {
			cfg.limits.MaxPixels = server.DefaultLimits().MaxPixels
		}
		log.Warn("machine memory unknown: batches run whole", "err", err, "max_pixels", cfg.limits.MaxPixels)
		return
	}
	cfg.memoryBudget = memoryBudget(mem)
	if !given {
		cfg.limits.MaxPixels = pixelLimit(mem)
	}
	log.Info("memory limits", "machine_bytes", mem, "unet_budget_bytes", cfg.memoryBudget,
		"max_pixels", cfg.limits.MaxPixels, "max_pixels_from", map[bool]string{true: server.MaxPixelsFlag, false: "memory"}[given])
}

// weightsReserve is the memory kept out of the UNet's activation budget:
// SD 1.5's weights in fp32 (UNet 3.4 GB, text encoder 0.5 GB, VAE 0.3 GB),
// the VAE decoder's activations at the largest allowed size, and the
// server's own images and buffers.
const weightsReserve = 6 << 30

// memoryBudget is the memory a UNet call's activations may use on a
// machine with mem bytes: what the reserve leaves, and never less than a
// quarter of mem.
func memoryBudget(mem int64) int64 {
	return max(mem-weightsReserve, mem/4)
}

// pixelLimit is the default per-image pixel limit (--max-pixels) for a
// machine with mem bytes: the largest image one UNet sample of which fits
// the budget (ort.UNetSampleBytes has the memory model).
func pixelLimit(mem int64) int64 {
	return ort.MaxPixelsFor(memoryBudget(mem))
}

// machineMemory is the memory this process may use: the machine's
// (/proc/meminfo MemTotal) or, when lower, its cgroup's limit (v2
// memory.max, v1 memory.limit_in_bytes).
func machineMemory() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("machine memory: %w", err)
	}
	total, err := memTotal(b)
	if err != nil {
		return 0, err
	}
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && v > 0 && v < total {
			total = v // "max" (no limit) does not parse
		}
	}
	return total, nil
}

// memTotal reads MemTotal (kB) from /proc/meminfo's text, in bytes.
func memTotal(meminfo []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || kb <= 0 {
				return 0, fmt.Errorf("machine memory: MemTotal %q", f[1])
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("machine memory: no MemTotal in /proc/meminfo")
}
