package main_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/internal/safetensors"
	"github.com/sdapi/sdapi/internal/testenv"
	"github.com/sdapi/sdapi/runner/onnxgen"
)

// TestExtraNetworks runs A1111's extra networks through the HTTP API on
// the emitted model: a LoRA changes the image at 1 and leaves it alone at
// 0, unknown and disabled ones change nothing, an embedding's name
// changes the image, the infotext carries both hashes, /loras and
// /embeddings list the files (malformed ones as A1111 does, without a
// crash), and a repeated LoRA builds no new session.
func TestExtraNetworks(t *testing.T) {
	t.Parallel()
	if ortErr != "" {
		testenv.Missing(t, ortErr)
	}
	dir := t.TempDir()
	loraDir := filepath.Join(dir, "models", "Lora")
	embDir := filepath.Join(dir, "embeddings")
	for _, d := range []string{loraDir, embDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := onnxgen.Config{Size: onnxgen.Tiny} // the model the server emits
	loraPath := filepath.Join(loraDir, "test.safetensors")
	if err := onnxgen.EmitLoRA(loraPath, cfg, onnxgen.LoRAOptions{Seed: 7, Name: "test", F16: true}); err != nil {
		t.Fatal(err)
	}
	embPath := filepath.Join(embDir, "testemb.safetensors")
	if err := onnxgen.EmitEmbedding(embPath, cfg, 2, 7); err != nil {
		t.Fatal(err)
	}
	wide := filepath.Join(embDir, "wide.safetensors")
	if err := safetensors.WriteFile(wide, []safetensors.WriteTensor{{Name: "emb_params", Shape: []int64{1, 768}, Data: make([]float32, 768)}}, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(loraDir, "broken.safetensors"), filepath.Join(embDir, "broken.safetensors")} {
		if err := os.WriteFile(p, []byte("\xff\xff\xff\xff\xff\xff\xff\x7fnot safetensors"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(loraDir, "old.pt"), []byte("pickle"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startServer(t, dir)
	v := validator(t, p)

	gen := func(prompt string, extra map[string]any) (image.Image, string) {
		t.Helper()
		body := map[string]any{"prompt": prompt, "negative_prompt": "blurry", "seed": 5, "steps": 2, "width": 64, "height": 64}
		for k, val := range extra {
			body[k] = val
		}
		r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/txt2img", body)
		if r.Status != http.StatusOK {
			t.Fatalf("%q: status %d %s", prompt, r.Status, r.Body)
		}
		g := decode[genAnswer](t, r)
		raw, err := base64.StdEncoding.DecodeString(g.Images[0])
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		var info struct{ Infotexts []string }
		if err := json.Unmarshal([]byte(g.Info), &info); err != nil {
			t.Fatal(err)
		}
		return img, info.Infotexts[0]
	}
	base, baseText := gen("a cat", nil)
	if strings.Contains(baseText, "hashes") {
		t.Errorf("plain prompt infotext has hashes: %s", baseText)
	}
	loraHash, err := safetensors.AddnetHash(loraPath)
	if err != nil {
		t.Fatal(err)
	}
	embSum, err := safetensors.FileSHA256(embPath)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		prompt string
		extra  map[string]any
		same   bool
		infotx string // a part of the infotext, "" for none
	}{
		{"lora 1", "a cat <lora:test:1>", nil, false, `Lora hashes: "test: ` + loraHash[:12] + `"`},
		{"lora 0", "a cat <lora:test:0>", nil, true, `Lora hashes: "test: ` + loraHash[:12] + `"`},
		{"named unet only", "a cat <lora:test:te=0:unet=0.5>", nil, false, ""},
		{"unknown lora", "a cat <lora:missing:1>", nil, true, ""},
		{"pickle lora", "a cat <lora:old:1>", nil, true, ""},
		{"disabled", "a cat <lora:test:1>", map[string]any{"disable_extra_networks": true}, true, ""},
		{"embedding", "a cat testemb", nil, false, `TI hashes: "testemb: ` + embSum[:12] + `"`},
	}
	for _, tt := range tests {
		img, text := gen(tt.prompt, tt.extra)
		if same := equalPixels(base, img); same != tt.same {
			t.Errorf("%s: image same as without: %v, want %v", tt.name, same, tt.same)
		}
		if !strings.HasPrefix(text, tt.prompt+"\n") {
			t.Errorf("%s: infotext does not start with the prompt as given: %q", tt.name, text)
		}
		if tt.infotx != "" && !strings.Contains(text, tt.infotx) {
			t.Errorf("%s: infotext %q lacks %q", tt.name, text, tt.infotx)
		}
	}
	if !strings.Contains(p.log.String(), "Lora not found: missing") {
		t.Errorf("log does not report the unknown LoRA:\n%s", p.log)
	}

	type loraItem struct {
		Name     string         `json:"name"`
		Alias    string         `json:"alias"`
		Path     string         `json:"path"`
		Metadata map[string]any `json:"metadata"`
	}
	loras := decode[[]loraItem](t, do(t, v, http.MethodGet, p.url, "/sdapi/v1/loras", nil))
	byName := map[string]loraItem{}
	for _, l := range loras {
		byName[l.Name] = l
	}
	if l := byName["test"]; l.Alias != "test" || l.Path != loraPath || l.Metadata["ss_network_dim"] != "4" || l.Metadata["ss_tag_frequency"] == nil {
		t.Errorf("test lora listed as %+v", l)
	}
	if _, ok := byName["test"].Metadata["ss_tag_frequency"].(map[string]any); !ok {
		t.Errorf("JSON metadata value not decoded: %#v", byName["test"].Metadata["ss_tag_frequency"])
	}
	for _, name := range []string{"broken", "old"} {
		if l, ok := byName[name]; !ok || len(l.Metadata) != 0 || l.Alias != name {
			t.Errorf("%s listed as %+v (present %v), want metadata {}", name, l, ok)
		}
	}
	for _, want := range []string{"broken.safetensors", "old.pt"} {
		if !regexp.MustCompile(`lora skipped.*` + regexp.QuoteMeta(want)).MatchString(p.log.String()) {
			t.Errorf("log does not say why %s is skipped", want)
		}
	}

	type embItem struct{ Shape, Vectors int }
	embs := decode[struct {
		Loaded  map[string]embItem `json:"loaded"`
		Skipped map[string]embItem `json:"skipped"`
	}](t, do(t, v, http.MethodGet, p.url, "/sdapi/v1/embeddings", nil))
	if e, ok := embs.Loaded["testemb"]; !ok || e.Shape != 32 || e.Vectors != 2 || len(embs.Loaded) != 1 {
		t.Errorf("loaded embeddings %+v", embs.Loaded)
	}
	if e, ok := embs.Skipped["wide"]; !ok || e.Shape != 768 || len(embs.Skipped) != 1 {
		t.Errorf("skipped embeddings %+v", embs.Skipped)
	}
	if !strings.Contains(p.log.String(), filepath.Join(embDir, "broken.safetensors")) {
		t.Errorf("log does not name the malformed embedding")
	}

	// The same LoRA again is served from the cache: no new session.
	builds := func() int {
		r := call(t, http.MethodGet, p.url, "/metrics", nil)
		m := regexp.MustCompile(`(?m)^sdapi_patched_session_builds (\d+)`).FindSubmatch(r.Body)
		if m == nil {
			t.Fatalf("/metrics has no sdapi_patched_session_builds:\n%s", r.Body)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	before := builds()
	gen("a dog <lora:test:1>", nil)
	if after := builds(); after != before {
		t.Errorf("a cached LoRA set built %d sessions", after-before)
	}
	if r := call(t, http.MethodGet, p.url, "/metrics", nil); !strings.Contains(string(r.Body), `sdapi_patched_session_bytes{part="unet",set="lora test:1"}`) {
		t.Errorf("/metrics lacks the cached set's memory:\n%s", r.Body)
	}

	// refresh-loras finds a file added later.
	if err := onnxgen.EmitLoRA(filepath.Join(loraDir, "later.safetensors"), cfg, onnxgen.LoRAOptions{Seed: 8}); err != nil {
		t.Fatal(err)
	}
	if r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/refresh-loras", nil); r.Status != http.StatusOK {
		t.Fatalf("refresh-loras: %d %s", r.Status, r.Body)
	}
	if n := len(decode[[]loraItem](t, do(t, v, http.MethodGet, p.url, "/sdapi/v1/loras", nil))); n != 4 {
		t.Errorf("after refresh %d loras, want 4", n)
	}
}

func equalPixels(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				return false
			}
		}
	}
	return true
}
