// Package clip tokenizes prompts for the CLIP text encoders of SD 1.x/2.x the way
// AUTOMATIC1111's webui does: CLIP BPE, A1111's attention syntax, 75-token chunks
// and the emphasis applied to the encoder output.
package clip

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"unicode"
)

// ErrTokenizer is wrapped by every error about a missing or malformed tokenizer file.
var ErrTokenizer = errors.New("invalid tokenizer")

// maxMerges is how many merges.txt lines HF CLIPTokenizer reads after the header
// (`split("\n")[1:49152-256-2+1]`).
const maxMerges = 49152 - 256 - 2

// maxCacheWords bounds the per-word BPE cache; it is cleared when full.
const maxCacheWords = 1 << 16

type pair struct{ a, b string }

// Tokenizer is a CLIP BPE tokenizer loaded from a diffusers tokenizer/ directory.
// It is safe for concurrent use.
type Tokenizer struct {
	encoder  map[string]int64
	ranks    map[pair]int
	byteEnc  [256]string
	pat      *regexp.Regexp
	specials map[string]int64

	bos, eos, pad, unk int64
	comma              int64 // id of ",</w>", or -1
	maxLength          int

	mu    sync.Mutex
	cache map[string][]int64
}

// BOS returns the start-of-text id (49406 for SD).
func (t *Tokenizer) BOS() int64 { return t.bos }

// EOS returns the end-of-text id (49407 for SD).
func (t *Tokenizer) EOS() int64 { return t.eos }

// Pad returns the padding id: EOS for SD1 (`<|endoftext|>`), 0 for SD2 (`!`).
func (t *Tokenizer) Pad() int64 { return t.pad }

// ModelMaxLength returns model_max_length from tokenizer_config.json (77 when absent).
func (t *Tokenizer) ModelMaxLength() int { return t.maxLength }

// Load reads vocab.json, merges.txt, special_tokens_map.json and tokenizer_config.json
// from dir. vocab.json and merges.txt are required; the two JSON configs are optional
// (HF CLIPTokenizer defaults apply: bos <|startoftext|>, eos = pad = unk <|endoftext|>),
// but malformed ones are errors. Errors wrap ErrTokenizer and name the file.
func Load(dir string) (*Tokenizer, error) {
	t := &Tokenizer{comma: -1, maxLength: SeqLen, cache: make(map[string][]int64)}
	if err := readJSON(filepath.Join(dir, "vocab.json"), true, &t.encoder); err != nil {
		return nil, err
	}
	if len(t.encoder) == 0 {
		return nil, fileErr(filepath.Join(dir, "vocab.json"), errors.New("empty vocabulary"))
	}
	if err := t.readMerges(filepath.Join(dir, "merges.txt")); err != nil {
		return nil, err
	}
	names := map[string]string{
		"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
		"pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
	}
	var cfg struct {
		ModelMaxLength *float64 `json:"model_max_length"`
	}
	cfgPath := filepath.Join(dir, "tokenizer_config.json")
	if err := readJSON(cfgPath, false, &cfg); err != nil {
		return nil, err
	}
	if cfg.ModelMaxLength != nil {
		if *cfg.ModelMaxLength < SeqLen {
			return nil, fileErr(cfgPath, fmt.Errorf("model_max_length %v is below %d", *cfg.ModelMaxLength, SeqLen))
		}
		if *cfg.ModelMaxLength < 1<<31 {
			t.maxLength = int(*cfg.ModelMaxLength)
		}
	}
	// Later files override earlier ones, as in transformers' from_pretrained.
	for _, p := range []string{cfgPath, filepath.Join(dir, "special_tokens_map.json")} {
		if err := readSpecials(p, names); err != nil {
			return nil, err
		}
	}
	ids := map[string]*int64{"bos_token": &t.bos, "eos_token": &t.eos, "pad_token": &t.pad, "unk_token": &t.unk}
	for key, dst := range ids {
		id, ok := t.encoder[names[key]]
		if !ok {
			return nil, fileErr(filepath.Join(dir, "vocab.json"), fmt.Errorf("%s %q is not in the vocabulary", key, names[key]))
		}
		*dst = id
	}
	if id, ok := t.encoder[",</w>"]; ok {
		t.comma = id
	}
	t.specials = map[string]int64{names["bos_token"]: t.bos, names["eos_token"]: t.eos}
	t.byteEnc = bytesToUnicode()
	t.pat = regexp.MustCompile(regexp.QuoteMeta(names["bos_token"]) + "|" + regexp.QuoteMeta(names["eos_token"]) +
		`|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`)
	return t, nil
}

func fileErr(path string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrTokenizer, path, err)
}

func readJSON(path string, required bool, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !required {
		return nil
	}
	if err != nil {
		return fileErr(path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fileErr(path, err)
	}
	return nil
}

// readSpecials overrides names with the special tokens found in a HF config file;
// values are strings or AddedToken objects ({"content": …}).
func readSpecials(path string, names map[string]string) error {
	var raw map[string]json.RawMessage
	if err := readJSON(path, false, &raw); err != nil {
		return err
	}
	for key := range names {
		v, ok := raw[key]
		if !ok || string(v) == "null" {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			names[key] = s
			continue
		}
		var obj struct {
			Content *string `json:"content"`
		}
		if err := json.Unmarshal(v, &obj); err != nil || obj.Content == nil {
			return fileErr(path, fmt.Errorf("%s: want a string or an object with content", key))
		}
		names[key] = *obj.Content
	}
	return nil
}

func (t *Tokenizer) readMerges(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fileErr(path, err)
	}
	defer f.Close()
	t.ranks = make(map[pair]int)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for line := 0; sc.Scan(); line++ {
		// Like HF, the first line (`#version: 0.2`) is skipped unconditionally.
		if line == 0 {
			continue
		}
		if line > maxMerges {
			break
		}
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return fileErr(path, fmt.Errorf("line %d: want 2 symbols, got %d", line+1, len(f)))
		}
		t.ranks[pair{f[0], f[1]}] = line - 1
	}
	if err := sc.Err(); err != nil {
		return fileErr(path, err)
	}
	return nil
}

// bytesToUnicode is GPT-2/CLIP's reversible byte → printable rune table.
func bytesToUnicode() [256]string {
	var tab [256]string
	printable := func(b int) bool {
		return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
	}
	n := 0
	for b := 0; b < 256; b++ {
		if printable(b) {
			tab[b] = string(rune(b))
		} else {
			tab[b] = string(rune(256 + n))
			n++
		}
	}
	return tab
}

// isPySpace matches Python's str.isspace (and `\s` of Python's re module).
func isPySpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1C && r <= 0x1F) }

// cleanText is CLIP's basic_clean + whitespace_clean + lower, without ftfy.
func cleanText(s string) string {
	s = html.UnescapeString(html.UnescapeString(s))
	return strings.ToLower(strings.Join(strings.FieldsFunc(s, isPySpace), " "))
}

// Tokenize returns the token ids of text without BOS/EOS, as
// `tokenizer(text, add_special_tokens=False)` does.
func (t *Tokenizer) Tokenize(text string) []int64 {
	var ids []int64
	for _, piece := range t.pat.FindAllString(cleanText(text), -1) {
		ids = append(ids, t.word(piece)...)
	}
	return ids
}

func (t *Tokenizer) word(piece string) []int64 {
	if id, ok := t.specials[piece]; ok {
		return []int64{id}
	}
	t.mu.Lock()
	ids, ok := t.cache[piece]
	t.mu.Unlock()
	if ok {
		return ids
	}
	var sb strings.Builder
	for i := 0; i < len(piece); i++ {
		sb.WriteString(t.byteEnc[piece[i]])
	}
	for _, sym := range t.bpe(sb.String()) {
		id, ok := t.encoder[sym]
		if !ok {
			id = t.unk
		}
		ids = append(ids, id)
	}
	t.mu.Lock()
	if len(t.cache) >= maxCacheWords {
		clear(t.cache)
	}
	t.cache[piece] = ids
	t.mu.Unlock()
	return ids
}

// bpe splits a byte-encoded word into symbols, the last one ending in `</w>`, and
// repeatedly merges the adjacent pair with the lowest rank.
func (t *Tokenizer) bpe(w string) []string {
	syms := make([]string, 0, len(w))
	for _, r := range w {
		syms = append(syms, string(r))
	}
	if len(syms) == 0 {
		return nil
	}
	syms[len(syms)-1] += "</w>"
	for len(syms) > 1 {
		best, bestRank := pair{}, -1
		for i := 0; i+1 < len(syms); i++ {
			if r, ok := t.ranks[pair{syms[i], syms[i+1]}]; ok && (bestRank < 0 || r < bestRank) {
				best, bestRank = pair{syms[i], syms[i+1]}, r
			}
		}
		if bestRank < 0 {
			break
		}
		out := syms[:0:0]
		for i := 0; i < len(syms); i++ {
			if i+1 < len(syms) && syms[i] == best.a && syms[i+1] == best.b {
				out = append(out, best.a+best.b)
				i++
			} else {
				out = append(out, syms[i])
			}
		}
		syms = out
	}
	return syms
}
