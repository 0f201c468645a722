package main_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The server logs the per-image pixel limit it derived from the machine's
// memory; 512×512 at batch_size 4 and, where the memory allows 1024², a 2×
// hires fix of 512² pass the limits (n_iter 0 checks them without the
// minutes a CPU takes to sample them; runner/ort's sub-batch test covers
// the run), and an image over the limit is a 422 whose message says which
// flag raises it.
func TestPixelLimitFromMemoryE2E(t *testing.T) {
	t.Parallel()
	p := startServer(t, "")
	m := regexp.MustCompile(`msg="memory limits" machine_bytes=(\d+) unet_budget_bytes=(\d+) max_pixels=(\d+) max_pixels_from=memory`).FindStringSubmatch(p.log.String())
	if m == nil {
		t.Fatalf("no memory limits line in the log:\n%s", p.log)
	}
	limit, _ := strconv.Atoi(m[3])
	everyday := []map[string]any{
		{"steps": 1, "width": 512, "height": 512, "batch_size": 4, "n_iter": 0},
		{"steps": 1, "width": 512, "height": 512, "enable_hr": true, "hr_scale": 2, "denoising_strength": 0.5, "n_iter": 0},
	}
	for i, body := range everyday {
		if i == 1 && limit < 1024*1024 {
			t.Logf("this machine's memory allows %d pixels per image, less than a 2× hires fix of 512²", limit)
			continue
		}
		if res := call(t, http.MethodPost, p.url, "/sdapi/v1/txt2img", body); res.Status != http.StatusOK {
			t.Errorf("%v: status %d %s, want 200", body, res.Status, res.Body)
		}
	}

	side := 8 * (isqrt(limit)/8 + 1) // the least multiple of 8 whose square is over the limit
	res := call(t, http.MethodPost, p.url, "/sdapi/v1/txt2img", map[string]any{"steps": 1, "width": side, "height": side})
	if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "raise it with --max-pixels") {
		t.Errorf("%d×%d: status %d %s, want 422 naming --max-pixels", side, side, res.Status, res.Body)
	}
}

func isqrt(n int) int {
	r := 0
	for (r+1)*(r+1) <= n {
		r++
	}
	return r
}
