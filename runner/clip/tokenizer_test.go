package clip

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Ids: a printable ASCII byte c has id c-33 and c-33+256 with </w>; merges start at 512.
func TestTokenize(t *testing.T) {
	tok := loadTest(t, "")
	tests := []struct {
		name, text string
		want       []int64
	}{
		{"merges", "a cat", []int64{320, 515}},
		{"contraction and case", "It's a DOG!!", []int64{512, 513, 320, 517, 0, 256}},
		{"numbers split per digit", "4k 2024", []int64{275, 330, 273, 271, 273, 275}},
		{"attention punctuation", "(a:1.2)", []int64{263, 320, 281, 272, 269, 273, 264}},
		{"comma", "a,b", []int64{320, 267, 321}},
		{"whitespace collapse", "  a \t\n  cat  ", []int64{320, 515}},
		{"html entities unescaped twice", "a &amp;amp; cat &lt;", []int64{320, 261, 515, 283}},
		{"latin-1 letter", "É", []int64{127, 358}},
		{"cjk bytes", "日", []int64{162, 245, 354}},
		{"special token in text", "a <|endoftext|>", []int64{320, 49407}},
		{"empty", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tok.Tokenize(tc.text)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Tokenize(%q) = %v, want %v", tc.text, got, tc.want)
			}
			if again := tok.Tokenize(tc.text); !slices.Equal(again, got) {
				t.Errorf("cached Tokenize(%q) = %v, want %v", tc.text, again, got)
			}
		})
	}
}

func TestPreTokenizer(t *testing.T) {
	tok := loadTest(t, "")
	got := tok.pat.FindAllString(cleanText("(masterpiece:1.2) it's 4k ünïcödé 日本"), -1)
	want := strings.Fields("( masterpiece : 1 . 2 ) it 's 4 k ünïcödé 日本")
	if !slices.Equal(got, want) {
		t.Errorf("pieces = %q, want %q", got, want)
	}
}

func TestSpecialIDs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pad     string
		wantPad int64
	}{{"sd1 pad eos", "", 49407}, {"sd1 explicit", "<|endoftext|>", 49407}, {"sd2 pad bang", "!", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			tok := loadTest(t, tc.pad)
			if tok.BOS() != 49406 || tok.EOS() != 49407 || tok.Pad() != tc.wantPad || tok.ModelMaxLength() != 77 {
				t.Errorf("bos, eos, pad, max = %d, %d, %d, %d; want 49406, 49407, %d, 77",
					tok.BOS(), tok.EOS(), tok.Pad(), tok.ModelMaxLength(), tc.wantPad)
			}
		})
	}
}

func TestLoadBrokenDir(t *testing.T) {
	tests := []struct {
		name, file, content string // content "" removes the file
		wantFile            string
	}{
		{"no vocab", "vocab.json", "", "vocab.json"},
		{"bad vocab", "vocab.json", "{", "vocab.json"},
		{"empty vocab", "vocab.json", "{}", "vocab.json"},
		{"no merges", "merges.txt", "", "merges.txt"},
		{"bad merge line", "merges.txt", "#version: 0.2\na b c\n", "merges.txt"},
		{"bad specials", "special_tokens_map.json", `{"eos_token": 3}`, "special_tokens_map.json"},
		{"unknown pad", "special_tokens_map.json", `{"pad_token": "<pad>"}`, "vocab.json"},
		{"bad config", "tokenizer_config.json", "[]", "tokenizer_config.json"},
		{"short max length", "tokenizer_config.json", `{"model_max_length": 16}`, "tokenizer_config.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeTokenizer(t, "")
			p := filepath.Join(dir, tc.file)
			var err error
			if tc.content == "" {
				err = os.Remove(p)
			} else {
				err = os.WriteFile(p, []byte(tc.content), 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = Load(dir)
			if !errors.Is(err, ErrTokenizer) || !strings.Contains(err.Error(), tc.wantFile) {
				t.Errorf("Load: err = %v, want ErrTokenizer naming %s", err, tc.wantFile)
			}
		})
	}
}

func TestLoadOptionalConfigs(t *testing.T) {
	dir := writeTokenizer(t, "!")
	for _, f := range []string{"special_tokens_map.json", "tokenizer_config.json"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Pad() != 49407 || tok.ModelMaxLength() != 77 {
		t.Errorf("pad, max = %d, %d; want HF defaults 49407, 77", tok.Pad(), tok.ModelMaxLength())
	}
}

func TestTokenizeConcurrent(t *testing.T) {
	tok := loadTest(t, "")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				text := fmt.Sprintf("cat dog w%d x%d", i, j)
				if got := tok.Tokenize(text); len(got) < 4 || got[0] != 515 || got[1] != 517 {
					t.Errorf("Tokenize(%q) = %v", text, got)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkEncode200Tokens(b *testing.B) {
	tok := loadTest(b, "")
	words := []string{"a", "cat,", "(dog:1.2)", "it's", "[4k]", "日本"}
	var sb strings.Builder
	for n := 0; len(tok.Tokenize(sb.String())) < 200; n++ {
		sb.WriteString(words[n%len(words)] + " ")
	}
	prompt := sb.String()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tok.Encode(prompt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenizeUncached(b *testing.B) {
	tok := loadTest(b, "")
	prompt := strings.Repeat("masterpiece, best quality, ", 25)
	for b.Loop() {
		clear(tok.cache)
		tok.Tokenize(prompt)
	}
}
