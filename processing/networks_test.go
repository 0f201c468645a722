package processing

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/internal/safetensors"
	"github.com/sdapi/sdapi/processing/extranet"
	"github.com/sdapi/sdapi/processing/options"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/runnertest"
)

// loraDir writes minimal safetensors LoRA files and returns their
// directory.
func loraDir(t *testing.T, names ...string) *extranet.Loras {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		w := []safetensors.WriteTensor{{Name: "lora_te_x.lora_down.weight", Shape: []int64{1, 2}, Data: []float32{1, 2}}}
		if err := safetensors.WriteFile(filepath.Join(dir, n+".safetensors"), w, map[string]string{"ss_output_name": n + "-alias"}); err != nil {
			t.Fatal(err)
		}
	}
	return extranet.NewLoras(dir, nil)
}

// TestNetworksPerBatch: every prompt loses its tags, the batch takes the
// first prompt's LoRAs, the hires pass its own prompts' LoRAs, an alias
// finds its file, disable_extra_networks applies none, and the infotext
// keeps the prompt as written and gets "Lora hashes" of both passes.
func TestNetworksPerBatch(t *testing.T) {
	tests := []struct {
		name      string
		prompts   []string
		hrPrompt  string
		disable   bool
		wantFirst []runner.LoRA
		wantHR    []runner.LoRA
		hashes    []string
	}{
		{
			name:      "first prompt's networks for the batch",
			prompts:   []string{"a <lora:one:0.5>", "b <lora:two:1>"},
			wantFirst: []runner.LoRA{{Name: "one", TE: 0.5, UNet: 0.5}},
			hashes:    []string{"one: "},
		},
		{
			name:      "alias and unknown",
			prompts:   []string{"a <lora:two-alias:1:0.2> <lora:nope:1>"},
			wantFirst: []runner.LoRA{{Name: "two-alias", TE: 1, UNet: 0.2}},
			hashes:    []string{"two-alias: "},
		},
		{
			name:      "hires prompt",
			prompts:   []string{"a <lora:one:1>"},
			hrPrompt:  "b <lora:two:0.3>",
			wantFirst: []runner.LoRA{{Name: "one", TE: 1, UNet: 1}},
			wantHR:    []runner.LoRA{{Name: "two", TE: 0.3, UNet: 0.3}},
			hashes:    []string{"one: ", "two: "},
		},
		{
			name:    "disabled",
			prompts: []string{"a <lora:one:1>"},
			disable: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr, spy := newProcessor(t)
			pr.Loras = loraDir(t, "one", "two")
			p := smallTxt2Img()
			if tt.hrPrompt != "" {
				p = hiresParams("Lanczos")
				p.HRPrompt = tt.hrPrompt
			}
			p.Prompt, p.Prompts = "", tt.prompts
			p.BatchSize = len(tt.prompts)
			p.DisableExtraNetworks = tt.disable
			res, err := pr.Process(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			calls := spy.Calls()
			for _, c := range calls {
				for _, pt := range c.Prompts {
					if strings.Contains(pt, "<lora") {
						t.Errorf("runner got a tag: %q", pt)
					}
				}
			}
			check := func(got, want []runner.LoRA) {
				t.Helper()
				for i := range got {
					got[i].Path = ""
				}
				if !slices.Equal(got, want) {
					t.Errorf("LoRAs %+v, want %+v", got, want)
				}
			}
			check(calls[0].LoRAs, tt.wantFirst)
			if tt.hrPrompt != "" {
				check(calls[1].LoRAs, tt.wantHR)
			}
			text := res.Infotexts[0]
			if !strings.HasPrefix(text, tt.prompts[0]) {
				t.Errorf("infotext %q does not keep the prompt", text)
			}
			for _, h := range tt.hashes {
				if !strings.Contains(text, h) {
					t.Errorf("infotext %q lacks %q", text, h)
				}
			}
			if len(tt.hashes) == 0 && strings.Contains(text, "Lora hashes") {
				t.Errorf("infotext %q has Lora hashes", text)
			}
		})
	}
}

// TestTIHashes: the runner's used embeddings become "TI hashes" with each
// file's short sha256, and every loaded embedding reaches the runner.
func TestTIHashes(t *testing.T) {
	pr, spy := newProcessor(t)
	spy.Info.EmbeddingWidth = 2
	dir := t.TempDir()
	for _, n := range []string{"emb", "other"} {
		w := []safetensors.WriteTensor{{Name: "emb_params", Shape: []int64{1, 2}, Data: []float32{1, 2}}}
		if err := safetensors.WriteFile(filepath.Join(dir, n+".safetensors"), w, nil); err != nil {
			t.Fatal(err)
		}
	}
	pr.Embeddings = extranet.NewEmbeddings(dir, nil)
	spy.GenerateFn = func(ctx context.Context, call int, req runner.Request) (runner.Result, error) {
		res := runnertest.SolidByIndex(req)
		res.Embeddings = []string{"emb"}
		return res, nil
	}
	res, err := pr.Process(context.Background(), smallTxt2Img())
	if err != nil {
		t.Fatal(err)
	}
	if got := len(spy.Calls()[0].Embeddings); got != 2 {
		t.Errorf("runner got %d embeddings, want 2", got)
	}
	sum, _ := safetensors.FileSHA256(filepath.Join(dir, "emb.safetensors"))
	if want := `TI hashes: "emb: ` + sum[:12] + `"`; !strings.Contains(res.Infotexts[0], want) {
		t.Errorf("infotext %q lacks %q", res.Infotexts[0], want)
	}
}

// TestSdLoraOption: sd_lora adds its LoRA at extra_networks_default_multiplier
// to every prompt (the infotext shows the tag) unless the prompt names it.
func TestSdLoraOption(t *testing.T) {
	for _, tc := range []struct {
		prompt, wantPrompt string
		want               []runner.LoRA
	}{
		{"a cat", "a cat<lora:one:0.5>", []runner.LoRA{{Name: "one", TE: 0.5, UNet: 0.5}}},
		{"a cat <lora:one:1>", "a cat <lora:one:1>", []runner.LoRA{{Name: "one", TE: 1, UNet: 1}}},
	} {
		pr, spy := newProcessor(t)
		defs := append(testOptionDefs(),
			options.Def{Key: "sd_lora", Default: "None", Type: options.KindString},
			options.Def{Key: "extra_networks_default_multiplier", Default: 1.0, Type: options.KindNumber})
		store, err := options.New(defs, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := store.SetFromAPI(context.Background(), map[string]any{"sd_lora": "one", "extra_networks_default_multiplier": 0.5}); err != nil {
			t.Fatal(err)
		}
		pr.Options = store
		pr.Loras = loraDir(t, "one")
		p := smallTxt2Img()
		p.Prompt = tc.prompt
		res, err := pr.Process(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		got := spy.Calls()[0].LoRAs
		for i := range got {
			got[i].Path = ""
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: LoRAs %+v, want %+v", tc.prompt, got, tc.want)
		}
		if !strings.HasPrefix(res.Infotexts[0], tc.wantPrompt+"\n") {
			t.Errorf("%q: infotext %q, want prompt %q", tc.prompt, res.Infotexts[0], tc.wantPrompt)
		}
	}
}
