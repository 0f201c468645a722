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
	if c.limits != server.DefaultLimits() {
		t.Errorf("defaults %+v, want %+v", c.limits, server.DefaultLimits())
	}
	c, _, err = parseFlags([]string{"--max-body-bytes", "1000", "--max-pixels", "4096", "--max-steps", "20",
		"--max-prompt-chars", "30", "--max-batch-images", "4", "--max-images", "50"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := server.Limits{MaxBodyBytes: 1000, MaxPixels: 4096, MaxSteps: 20, MaxPromptChars: 30, MaxBatchImages: 4, MaxImages: 50}
	if c.limits != want {
		t.Errorf("parsed %+v, want %+v", c.limits, want)
	}
	for _, f := range []string{"--max-body-bytes", "--max-pixels", "--max-steps", "--max-prompt-chars", "--max-batch-images", "--max-images"} {
		if _, _, err := parseFlags([]string{f, "0"}, io.Discard); err == nil {
			t.Errorf("%s 0: no error", f)
		}
	}
}
