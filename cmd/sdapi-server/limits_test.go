package main

import (
	"io"
	"testing"

	"github.com/sdapi/sdapi/server"
)

// Ensure the limit flags default to server.DefaultLimits, set each field,
// and refuse a value that server.Config would read as "the default".
func TestLimitFlags(t *testing.T) {
	c, _, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// --max-pixels defaults to 0: derived from the machine's memory at
	// start (resolveMemory).
	want := server.DefaultLimits()
	want.MaxPixels = 0
	if c.limits != want {
		t.Errorf("defaults %+v, want %+v", c.limits, want)
	}
	c, _, err = parseFlags([]string{"--max-body-bytes", "1000", "--max-pixels", "4096", "--max-steps", "20",
		"--max-prompt-chars", "30", "--max-batch-images", "4", "--max-images", "50"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want = server.Limits{MaxBodyBytes: 1000, MaxPixels: 4096, MaxSteps: 20, MaxPromptChars: 30, MaxBatchImages: 4, MaxImages: 50}
	if c.limits != want {
		t.Errorf("parsed %+v, want %+v", c.limits, want)
	}
	for _, f := range []string{"--max-body-bytes", "--max-steps", "--max-prompt-chars", "--max-batch-images", "--max-images"} {
		if _, _, err := parseFlags([]string{f, "0"}, io.Discard); err == nil {
			t.Errorf("%s 0: no error", f)
		}
	}
	if _, _, err := parseFlags([]string{"--max-pixels", "-1"}, io.Discard); err == nil {
		t.Errorf("--max-pixels -1: no error")
	}
}

// The default per-image pixel limit follows the machine's memory: the
// project's 24 GiB machine allows 512×512 at any batch size and the
// 1024×1024 of a 2× hires fix of 512².
func TestPixelLimitFromMemory(t *testing.T) {
	tests := []struct {
		mem      int64
		atLeast  int64
		lessThan int64
	}{
		{24 << 30, 1024 * 1024, 1200 * 1200},
		{16 << 30, 768 * 768, 1024 * 1024},
		{4 << 30, 256 * 256, 600 * 600},
	}
	for _, tc := range tests {
		got := pixelLimit(tc.mem)
		if got < tc.atLeast || got >= tc.lessThan {
			t.Errorf("%d GiB: %d pixels, want [%d, %d)", tc.mem>>30, got, tc.atLeast, tc.lessThan)
		}
		if b := memoryBudget(tc.mem); b <= 0 || b >= tc.mem {
			t.Errorf("%d GiB: budget %d", tc.mem>>30, b)
		}
	}
	for _, tc := range []struct {
		text string
		want int64
		ok   bool
	}{
		{"MemTotal:       24576000 kB\nMemFree: 1 kB\n", 24576000 << 10, true},
		{"MemFree: 1 kB\n", 0, false},
		{"MemTotal: x kB\n", 0, false},
	} {
		got, err := memTotal([]byte(tc.text))
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("memTotal(%q) = %d, %v", tc.text, got, err)
		}
	}
	if mem, err := machineMemory(); err != nil || mem <= 0 {
		t.Errorf("machineMemory() = %d, %v", mem, err)
	}
}
