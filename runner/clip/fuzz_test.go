package clip

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// attentionSeeds are prompts A1111 users write: weights, nesting, escapes,
// BREAK, unclosed brackets and the weights Python's float() accepts.
var attentionSeeds = []string{
	"a (cat:1.2) on a [mat], ((masterpiece))",
	`\(literal\) \[brackets\] \\ backslash`,
	"first BREAK second BREAKfast",
	"(unclosed [also unclosed",
	"(a:1.2.3)",
	"(a:-.5) (b:+2) (c:١٫٥) (d:.)",
	"))]]::((",
	"",
}

// FuzzParseAttention checks A1111's parse_prompt_attention port: never a
// panic, errors only for syntax A1111 fails on too (ErrPrompt), never an
// empty result, runs of equal weight merged, and text without any syntax
// returned whole at weight 1.
func FuzzParseAttention(f *testing.F) {
	for _, s := range attentionSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		res, err := ParseAttention(text)
		if err != nil {
			if !errors.Is(err, ErrPrompt) {
				t.Fatalf("error %v does not wrap ErrPrompt", err)
			}
			return
		}
		if len(res) == 0 {
			t.Fatal("empty result")
		}
		for i := 0; i+1 < len(res); i++ {
			if res[i].Weight == res[i+1].Weight {
				t.Fatalf("runs %d and %d have the same weight %v: %q", i, i+1, res[i].Weight, text)
			}
		}
		if text != "" && !strings.ContainsAny(text, `\()[]:`) && !strings.Contains(text, "BREAK") {
			if len(res) != 1 || res[0].Text != text || res[0].Weight != 1 {
				t.Fatalf("plain %q parsed as %+v", text, res)
			}
		}
	})
}

// FuzzEncode runs a prompt through emphasis parsing and the tokenizer's
// chunking (comma backtrack included): never a panic, at least one chunk,
// and every chunk framed BOS … EOS.
func FuzzEncode(f *testing.F) {
	for _, s := range attentionSeeds {
		f.Add(s)
	}
	f.Add(strings.Repeat("word, ", 80))
	tok := loadTest(f, "")
	f.Fuzz(func(t *testing.T, text string) {
		chunks, err := tok.Encode(text)
		if err != nil {
			if !errors.Is(err, ErrPrompt) {
				t.Fatalf("error %v does not wrap ErrPrompt", err)
			}
			return
		}
		if len(chunks) == 0 {
			t.Fatal("no chunks")
		}
		for i, c := range chunks {
			if c.IDs[0] != tok.bos {
				t.Fatalf("chunk %d does not start with BOS: %v", i, c.IDs)
			}
			// At most 75 prompt tokens follow BOS, so the frame always
			// ends in EOS (or the SD2 padding after it).
			if last := c.IDs[SeqLen-1]; last != tok.eos && last != tok.pad || !slices.Contains(c.IDs[1:], tok.eos) {
				t.Fatalf("chunk %d does not end with EOS: %v", i, c.IDs)
			}
		}
	})
}
