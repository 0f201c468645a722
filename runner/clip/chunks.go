package clip

import "fmt"

const (
	// ChunkLen is how many prompt tokens one chunk holds (A1111's chunk_length).
	ChunkLen = 75
	// SeqLen is the text encoder's sequence length: BOS + ChunkLen + EOS.
	SeqLen = ChunkLen + 2
	// DefaultCommaBacktrack is A1111's opts.comma_padding_backtrack default.
	DefaultCommaBacktrack = 20
)

// Chunk is one 77-token text encoder input with A1111's per-token emphasis multipliers
// (1 for BOS, EOS and padding).
type Chunk struct {
	IDs         [SeqLen]int64
	Multipliers [SeqLen]float32
}

// Options are the A1111 settings that change tokenization.
type Options struct {
	// Emphasis is opts.emphasis; with EmphasisNone the prompt is not parsed for
	// attention or BREAK at all, as in A1111.
	Emphasis Emphasis
	// CommaBacktrack is opts.comma_padding_backtrack; 0 disables it.
	CommaBacktrack int
	// Embeddings, when set, are the textual-inversion embeddings whose
	// names become Fixes.
	Embeddings *EmbeddingIndex
}

// DefaultOptions returns A1111 1.10's defaults: Original emphasis, backtrack 20.
func DefaultOptions() Options {
	return Options{Emphasis: EmphasisOriginal, CommaBacktrack: DefaultCommaBacktrack}
}

// Encode tokenizes prompt into chunks with DefaultOptions.
func (t *Tokenizer) Encode(prompt string) ([]Chunk, error) {
	return t.EncodeWith(prompt, DefaultOptions())
}

// EncodeWith is A1111's FrozenCLIPEmbedderWithCustomWordsBase.tokenize_line plus the
// SD2 padding of process_tokens: the prompt is parsed for attention, tokenized, and
// packed into chunks of 75 tokens; a full chunk breaks after the last comma when that
// comma is within CommaBacktrack tokens of the end; BREAK starts a new chunk; an empty
// prompt gives one chunk. It returns an error wrapping ErrPrompt when A1111 would fail.
func (t *Tokenizer) EncodeWith(prompt string, o Options) ([]Chunk, error) {
	chunks, _, err := t.EncodeFixes(prompt, o)
	return chunks, err
}

// EncodeFixes is EncodeWith that also returns, per chunk, the embeddings
// of o.Embeddings found in the prompt (A1111's chunk.fixes); their token
// positions hold id 0, as in A1111.
func (t *Tokenizer) EncodeFixes(prompt string, o Options) ([]Chunk, [][]Fix, error) {
	parsed := []Weighted{{prompt, 1}}
	if o.Emphasis != EmphasisNone {
		var err error
		if parsed, err = ParseAttention(prompt); err != nil {
			return nil, nil, err
		}
	}
	var (
		chunks    []Chunk
		toks      []int64
		mults     []float64
		fixes     []Fix
		allFixes  [][]Fix
		lastComma = -1
	)
	next := func() {
		chunks = append(chunks, t.finish(toks, mults))
		allFixes = append(allFixes, fixes)
		toks, mults, fixes, lastComma = nil, nil, nil, -1
	}
	for _, p := range parsed {
		if p.IsBreak() {
			next()
			continue
		}
		tokens := t.Tokenize(p.Text)
		for pos := 0; pos < len(tokens); {
			tok := tokens[pos]
			if tok == t.comma {
				lastComma = len(toks)
			} else if o.CommaBacktrack != 0 && len(toks) == ChunkLen && lastComma != -1 && len(toks)-lastComma <= o.CommaBacktrack {
				at := lastComma + 1
				relocT := append([]int64(nil), toks[at:]...)
				relocM := append([]float64(nil), mults[at:]...)
				toks, mults = toks[:at], mults[:at]
				next()
				toks, mults = relocT, relocM
			}
			if len(toks) == ChunkLen {
				next()
			}
			idx, nameLen, ok := o.Embeddings.at(tokens, pos)
			if !ok {
				toks = append(toks, tok)
				mults = append(mults, p.Weight)
				pos++
				continue
			}
			// As tokenize_line: an embedding that does not fit starts a
			// new chunk; its positions hold id 0. A later comma backtrack
			// moves the zeros but, as in A1111, not the fix.
			n := o.Embeddings.vectors[idx]
			if n > ChunkLen {
				// A1111 builds a chunk longer than the text encoder takes
				// and fails in it.
				return nil, nil, fmt.Errorf("%w: an embedding of %d vectors does not fit in a chunk of %d tokens", ErrPrompt, n, ChunkLen)
			}
			if len(toks)+n > ChunkLen {
				next()
			}
			fixes = append(fixes, Fix{Offset: len(toks), Index: idx})
			for range n {
				toks = append(toks, 0)
				mults = append(mults, p.Weight)
			}
			pos += nameLen
		}
	}
	if len(toks) > 0 || len(chunks) == 0 {
		next()
	}
	return chunks, allFixes, nil
}

// finish frames toks as BOS + toks + EOS, pads with EOS to SeqLen, then (SD2, where
// pad != EOS) replaces everything after the first EOS with pad, as process_tokens does.
func (t *Tokenizer) finish(toks []int64, mults []float64) Chunk {
	var c Chunk
	c.IDs[0] = t.bos
	for i := range c.Multipliers {
		c.Multipliers[i] = 1
	}
	for i := 1; i < SeqLen; i++ {
		c.IDs[i] = t.eos
	}
	for i, id := range toks {
		c.IDs[i+1] = id
		c.Multipliers[i+1] = float32(mults[i])
	}
	if t.pad != t.eos {
		for i, id := range c.IDs {
			if id == t.eos {
				for j := i + 1; j < SeqLen; j++ {
					c.IDs[j] = t.pad
				}
				break
			}
		}
	}
	return c
}

// EmptyChunk is A1111's empty_chunk: BOS, EOS, then padding, all multipliers 1.
func (t *Tokenizer) EmptyChunk() Chunk { return t.finish(nil, nil) }

// PadChunks appends empty chunks to the shorter of cond and uncond so both have the
// same count, as A1111 does for a batch of texts (empty_chunk) and with the
// pad_cond_uncond option ("Pad conds" in the infotext). That option is off by default
// in A1111 1.10, which then runs cond and uncond as separate UNet calls when their
// lengths differ; padding changes the image. The inputs are not modified.
func (t *Tokenizer) PadChunks(cond, uncond []Chunk) ([]Chunk, []Chunk) {
	pad := func(cs []Chunk, n int) []Chunk {
		out := append([]Chunk(nil), cs...)
		for len(out) < n {
			out = append(out, t.EmptyChunk())
		}
		return out
	}
	n := max(len(cond), len(uncond))
	return pad(cond, n), pad(uncond, n)
}
