package clip

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testMerges are the synthetic merges; merged symbols get ids 512+rank, as in CLIP.
var testMerges = []string{"i t</w>", "' s</w>", "c a", "ca t</w>", "d o", "do g</w>"}

// writeTokenizer writes a synthetic diffusers tokenizer/ directory like the one the
// project's emitted test model uses: 256 byte symbols, their </w> variants, a few
// merges, and the specials at 49406/49407. pad is the pad token ("" for none given).
func writeTokenizer(t testing.TB, pad string) string {
	t.Helper()
	dir := t.TempDir()
	vocab := map[string]int{}
	enc := bytesToUnicode()
	syms := make([]string, 0, 256)
	for b := 0; b < 256; b++ {
		if r := []rune(enc[b])[0]; r < 256 {
			syms = append(syms, enc[b])
		}
	}
	for b := 0; b < 256; b++ {
		if r := []rune(enc[b])[0]; r >= 256 {
			syms = append(syms, enc[b])
		}
	}
	for i, s := range syms {
		vocab[s] = i
		vocab[s+"</w>"] = 256 + i
	}
	for i, m := range testMerges {
		vocab[strings.ReplaceAll(m, " ", "")] = 512 + i
	}
	vocab["<|startoftext|>"] = 49406
	vocab["<|endoftext|>"] = 49407
	writeJSON(t, filepath.Join(dir, "vocab.json"), vocab)
	merges := "#version: 0.2\n" + strings.Join(testMerges, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "merges.txt"), []byte(merges), 0o644); err != nil {
		t.Fatal(err)
	}
	specials := map[string]any{
		"bos_token": map[string]any{"content": "<|startoftext|>", "lstrip": false},
		"eos_token": "<|endoftext|>",
		"unk_token": "<|endoftext|>",
	}
	if pad != "" {
		specials["pad_token"] = pad
	}
	writeJSON(t, filepath.Join(dir, "special_tokens_map.json"), specials)
	writeJSON(t, filepath.Join(dir, "tokenizer_config.json"), map[string]any{
		"model_max_length": 77, "tokenizer_class": "CLIPTokenizer", "pad_token": "<|endoftext|>",
	})
	return dir
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func loadTest(t testing.TB, pad string) *Tokenizer {
	t.Helper()
	tok, err := Load(writeTokenizer(t, pad))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
