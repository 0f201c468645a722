package onnxgen

import (
	"strings"
)

// Special token ids of the real CLIP vocabulary.
const (
	StartOfText = 49406
	EndOfText   = 49407
)

// syntheticMerges is a small, self-consistent BPE merge list: every merge
// joins two symbols that exist in the vocabulary.
var syntheticMerges = [][2]string{
	{"t", "h"}, {"th", "e</w>"}, {"a", "n"}, {"an", "d</w>"}, {"i", "n"}, {"in", "g</w>"},
	{"e", "r"}, {"o", "n</w>"}, {"c", "a"}, {"ca", "t</w>"}, {"o", "f</w>"}, {"a", "t</w>"},
}

// byteSymbols returns CLIP's bytes_to_unicode table values in vocabulary
// order: printable bytes map to themselves, the rest to 256+n, listed after.
func byteSymbols() []string {
	var keep []int
	inKeep := make([]bool, 256)
	for _, r := range [][2]int{{'!', '~'}, {0xa1, 0xac}, {0xae, 0xff}} {
		for c := r[0]; c <= r[1]; c++ {
			keep = append(keep, c)
			inKeep[c] = true
		}
	}
	syms := make([]string, 0, 256)
	for _, c := range keep {
		syms = append(syms, string(rune(c)))
	}
	n := 0
	for c := range 256 {
		if !inKeep[c] {
			syms = append(syms, string(rune(256+n)))
			n++
		}
	}
	return syms
}

// tokenizerVocab returns the synthetic vocabulary: 256 byte symbols, their
// </w> variants, one token per merge, and the two special tokens at their
// real ids.
func tokenizerVocab() map[string]int {
	v := map[string]int{}
	for _, s := range byteSymbols() {
		v[s] = len(v)
	}
	for _, s := range byteSymbols() {
		v[s+"</w>"] = len(v)
	}
	for _, m := range syntheticMerges {
		v[m[0]+m[1]] = len(v)
	}
	v["<|startoftext|>"] = StartOfText
	v["<|endoftext|>"] = EndOfText
	return v
}

func tokenizerMerges() string {
	var sb strings.Builder
	sb.WriteString("#version: 0.2\n")
	for _, m := range syntheticMerges {
		sb.WriteString(m[0] + " " + m[1] + "\n")
	}
	return sb.String()
}

func specialTokensMap() map[string]any {
	tok := func(s string) map[string]any {
		return map[string]any{"content": s, "lstrip": false, "normalized": true, "rstrip": false, "single_word": false}
	}
	return map[string]any{
		"bos_token": tok("<|startoftext|>"),
		"eos_token": tok("<|endoftext|>"),
		"pad_token": "<|endoftext|>",
		"unk_token": tok("<|endoftext|>"),
	}
}

func tokenizerConfig() map[string]any {
	return map[string]any{
		"add_prefix_space": false,
		"bos_token":        "<|startoftext|>",
		"do_lower_case":    true,
		"eos_token":        "<|endoftext|>",
		"errors":           "replace",
		"model_max_length": 77,
		"pad_token":        "<|endoftext|>",
		"tokenizer_class":  "CLIPTokenizer",
		"unk_token":        "<|endoftext|>",
	}
}
