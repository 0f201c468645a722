package main_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Every sampler /samplers lists generates through the HTTP API under its own
// name, and info and the infotext name that sampler, never a fallback (A1111
// 1.10 falls back to samplers[0] for a name it does not list; aliases are
// not names to all_samplers_map, so they fall back too).
func TestEveryListedSamplerGenerates(t *testing.T) {
	t.Parallel()
	p := startServer(t, "")
	v := validator(t, p)
	samplers := decode[[]struct {
		Name string `json:"name"`
	}](t, do(t, v, http.MethodGet, p.url, "/sdapi/v1/samplers", nil))
	if len(samplers) < 20 {
		t.Fatalf("/samplers lists %d samplers, want A1111 1.10's 20", len(samplers))
	}
	for _, s := range samplers {
		name := s.Name
		r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/txt2img", map[string]any{
			"prompt": "a cat", "steps": 3, "width": 64, "height": 64, "seed": 1, "sampler_name": name})
		if r.Status != http.StatusOK {
			t.Errorf("%q: status %d %s", name, r.Status, r.Body)
			continue
		}
		var info struct {
			SamplerName string   `json:"sampler_name"`
			Infotexts   []string `json:"infotexts"`
		}
		if err := json.Unmarshal([]byte(decode[genAnswer](t, r).Info), &info); err != nil {
			t.Fatal(err)
		}
		if info.SamplerName != s.Name || len(info.Infotexts) != 1 || !strings.Contains(info.Infotexts[0], "Sampler: "+s.Name+",") {
			t.Errorf("asked %q: info sampler_name %q, infotexts %q; want %q", name, info.SamplerName, info.Infotexts, s.Name)
		}
	}
}
