package ort

import (
	"fmt"
	"time"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/runner/clip"
)

// textCond is a batch of text conditionings, [b, seq, dim] row-major.
type textCond struct {
	data        []float32
	b, seq, dim int
	// pooled is SDXL's text_embeds, [b, pdim]; nil for SD1/SD2.
	pooled []float32
	pdim   int
}

// pooledRow returns image i's text_embeds (a view).
func (c textCond) pooledRow(i int) []float32 {
	return c.pooled[i*c.pdim : (i+1)*c.pdim]
}

// image returns image i's [seq, dim] rows (a view).
func (c textCond) image(i int) []float32 {
	n := c.seq * c.dim
	return c.data[i*n : (i+1)*n]
}

// conditioning tokenizes and encodes the prompts and negative prompts of
// the batch. As in A1111, every distinct prompt is encoded on its own (each
// 75-token chunk as a 77-token sequence, emphasis applied per chunk, chunks
// concatenated on the sequence axis), and prompts of one batch with fewer
// chunks are padded by repeating their last vector (prompt_parser's
// stack_conds). All chunks go through the text encoder in one call.
func (g *job) conditioning() (cond, uncond textCond, err error) {
	r := g.r
	opts := clip.Options{Emphasis: clip.ParseEmphasis(g.req.Emphasis), CommaBacktrack: g.req.CommaBacktrack}
	var rows, rows2 *tokenRows // rows2: SDXL's second encoder's
	switch {
	case len(g.req.Embeddings) == 0:
	case r.xl == nil:
		rows, opts.Embeddings = r.embeddingRows(g.req.Embeddings, "", r.textDim)
	case !r.xl.refiner():
		// A refiner's one encoder is 1280 wide: an SDXL embedding
		// (768+1280) does not fit it, as in A1111's EmbeddingDatabase.
		rows, rows2, opts.Embeddings = r.xlEmbeddingRows(g.req.Embeddings)
	}
	t0 := time.Now()
	type enc struct {
		first, n int // chunk range in all
	}
	var all, all2 []clip.Chunk           // all2: SDXL's second tokenizer
	var allFixes, allFixes2 [][]clip.Fix // per chunk of all, all2
	seen := map[string]enc{}
	tokenize := func(prompts []string) ([]enc, error) {
		out := make([]enc, len(prompts))
		for i, p := range prompts {
			if e, ok := seen[p]; ok {
				out[i] = e
				continue
			}
			chunks, fixes, err := r.tok.EncodeFixes(p, opts)
			if err != nil {
				return nil, apierr.Invalid("", "%w", err)
			}
			if r.xl != nil {
				c2, f2, err := r.xl.enc2.tok.EncodeFixes(p, opts)
				if err != nil {
					return nil, apierr.Invalid("", "%w", err)
				}
				if len(c2) != len(chunks) {
					return nil, apierr.Model("the two tokenizers split the prompt into %d and %d chunks", len(chunks), len(c2))
				}
				all2 = append(all2, c2...)
				allFixes2 = append(allFixes2, f2...)
			}
			e := enc{first: len(all), n: len(chunks)}
			all = append(all, chunks...)
			allFixes = append(allFixes, fixes...)
			seen[p] = e
			out[i] = e
		}
		return out, nil
	}
	ce, err := tokenize(g.req.Prompts)
	if err != nil {
		return cond, uncond, err
	}
	ue, err := tokenize(g.negatives())
	if err != nil {
		return cond, uncond, err
	}
	g.timing.Tokenize += time.Since(t0).Nanoseconds()

	// The embeddings used, for "TI hashes": the prompts', then the
	// negative prompts' (A1111 encodes uncond first and puts the later
	// call's hashes in front).
	used := func(es []enc) {
		seen := map[int]bool{}
		for _, e := range es {
			for _, fs := range allFixes[e.first : e.first+e.n] {
				for _, f := range fs {
					if !seen[f.Index] {
						seen[f.Index] = true
						g.embeddings = append(g.embeddings, rows.names[f.Index])
					}
				}
			}
		}
	}
	used(ce)
	used(ue)
	if len(g.embeddings) == 0 {
		rows, rows2 = nil, nil // the tables need no rows for this batch
	}
	if r.xl == nil {
		if g.text, err = r.textSession(g.req.LoRAs, rows); err != nil {
			return cond, uncond, err
		}
		if rows != nil {
			for i := range all {
				rows.placeFixes(&all[i], allFixes[i], g.text.vocab)
			}
		}
	} else if err := g.xlSessions(rows, rows2, all, all2, allFixes, allFixes2); err != nil {
		return cond, uncond, err
	}

	var z, pooled []float32
	if r.xl != nil {
		z, pooled, err = g.encodeXL(all, all2, opts.Emphasis)
	} else {
		z, err = g.encodeChunks(all, opts.Emphasis)
	}
	if err != nil {
		return cond, uncond, err
	}
	stack := func(es []enc) textCond {
		k := 0
		for _, e := range es {
			k = max(k, e.n)
		}
		row := clip.SeqLen * r.textDim
		c := textCond{b: len(es), seq: k * clip.SeqLen, dim: r.textDim}
		c.data = make([]float32, c.b*c.seq*c.dim)
		for i, e := range es {
			dst := c.image(i)
			copy(dst, z[e.first*row:(e.first+e.n)*row])
			last := z[(e.first+e.n)*row-r.textDim : (e.first+e.n)*row]
			for j := e.n * clip.SeqLen; j < c.seq; j++ {
				copy(dst[j*c.dim:], last)
			}
		}
		if pooled != nil { // A1111 keeps the first chunk's pooled output
			c.pdim = r.xl.pooledDim
			c.pooled = make([]float32, c.b*c.pdim)
			for i, e := range es {
				copy(c.pooledRow(i), pooled[e.first*c.pdim:(e.first+1)*c.pdim])
			}
		}
		return c
	}
	cond, uncond = stack(ce), stack(ue)
	if r.xl != nil {
		g.zeroEmptyNegatives(&uncond)
	}
	return cond, uncond, nil
}

// negatives returns one negative prompt per image ("" when none are given).
func (g *job) negatives() []string {
	if len(g.req.NegativePrompts) == len(g.req.Prompts) {
		return g.req.NegativePrompts
	}
	return make([]string, len(g.req.Prompts))
}

// encodeChunks runs the text encoder on chunks ([n, 77] ids) and applies
// emphasis to each chunk's rows. It returns [n, 77, dim] values: the last
// hidden state, or with clip skip the earlier one through the final layer
// norm (clipskip.go).
func (g *job) encodeChunks(chunks []clip.Chunk, mode clip.Emphasis) ([]float32, error) {
	r := g.r
	n := len(chunks)
	ids := make([]int64, 0, n*clip.SeqLen)
	for _, c := range chunks {
		ids = append(ids, c.IDs[:]...)
	}
	var out []float32
	var err error
	if skip := r.clipSkip(g.req.ClipSkip); skip > 1 {
		out, err = g.encodeHidden(ids, n, skip)
	} else {
		out, err = g.encodeLast(ids, n)
	}
	if err != nil {
		return nil, err
	}
	row := clip.SeqLen * r.textDim
	for i, c := range chunks {
		if err := clip.ApplyEmphasis(mode, out[i*row:(i+1)*row], [2]int{clip.SeqLen, r.textDim}, c.Multipliers[:]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// encodeLast returns the text encoder's last_hidden_state for ids.
func (g *job) encodeLast(ids []int64, n int) ([]float32, error) {
	r := g.r
	var vs values
	defer vs.destroy()
	if err := vs.add(intValue(r.idsElem, onnxruntime.NewShape(int64(n), clip.SeqLen), ids)); err != nil {
		return nil, fmt.Errorf("text_encoder input: %w", err)
	}
	if err := vs.add(outputValue(r.text.out[0].Elem, onnxruntime.NewShape(int64(n), clip.SeqLen, int64(r.textDim)))); err != nil {
		return nil, fmt.Errorf("text_encoder output: %w", err)
	}
	sess := r.text.sess
	if g.text != nil {
		sess = g.text.sess
	}
	t0 := time.Now()
	err := sess.RunWithOptions(vs[:1], vs[1:], g.ro)
	g.timing.TextEncoder += time.Since(t0).Nanoseconds()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.text.name, err)
	}
	z, err := floatsOf(vs[1])
	if err != nil {
		return nil, err
	}
	return append([]float32(nil), z...), nil
}
