package ort

// Textual-inversion embeddings. A1111 (sd_hijack.EmbeddingsWithFixes)
// replaces the token embeddings at an embedding's positions with its
// vectors before the text transformer runs. The ONNX text encoder looks
// its token embeddings up with a Gather in a [vocab, dim] table, so the
// runner appends the embeddings' vectors to that table (a patched text
// encoder session, cached like a LoRA set) and gives those positions the
// ids of the appended rows. Every loaded embedding is appended, so the
// session serves any prompt until the embeddings change. The pooled
// output is not used by SD 1.x/2.x; SDXL's text_encoder_2 pools at
// argmax of the ids, which poolAtEOS keeps at the EOS token. On SDXL
// each encoder gets its own rows (clip_l, clip_g) at the same positions.

import (
	"fmt"
	"strings"

	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/clip"
)

// tokenRows are the rows appended to the token table.
type tokenRows struct {
	rows  []float32 // every usable embedding's vectors, row-major
	start []int     // first row of embedding i (index order)
	count []int     // its vectors
	names []string
	dim   int // the encoder's width
	key   string
	label string
}

// embeddingRows collects the request's embeddings a text encoder of width
// dim can use, their vectors for encoder ("" for SD 1.x/2.x; SDXL's
// encoders take "clip_l" and "clip_g"), and indexes their names.
func (r *Runner) embeddingRows(es []runner.Embedding, encoder string, dim int) (*tokenRows, *clip.EmbeddingIndex) {
	tr := &tokenRows{dim: dim}
	var key []string
	for _, e := range es {
		v := e.Rows[encoder]
		if e.Vectors <= 0 || len(v) != e.Vectors*dim {
			continue
		}
		tr.start = append(tr.start, len(tr.rows)/dim)
		tr.count = append(tr.count, e.Vectors)
		tr.names = append(tr.names, e.Name)
		tr.rows = append(tr.rows, v...)
		key = append(key, fmt.Sprintf("%s\x00%d\x00%p", e.Name, e.Vectors, &v[0]))
	}
	if len(tr.names) == 0 {
		return nil, nil
	}
	tr.key = "embeddings\x00" + strings.Join(key, "\x01")
	tr.label = fmt.Sprintf("embeddings:%d", len(tr.names))
	return tr, r.tok.NewEmbeddingIndex(tr.names, tr.count)
}

// xlEmbeddingRows are the rows of SDXL's two encoders: an embedding with
// both clip_l (CLIP-L's width) and clip_g (CLIP-G's) vectors goes into
// both tables, at the same index, so one fix places both (A1111's two
// embedders each look the embedding up by name and use their own key).
func (r *Runner) xlEmbeddingRows(es []runner.Embedding) (rows1, rows2 *tokenRows, idx *clip.EmbeddingIndex) {
	x := r.xl
	var both []runner.Embedding
	for _, e := range es {
		if e.Vectors > 0 && len(e.Rows["clip_l"]) == e.Vectors*x.enc1.dim && len(e.Rows["clip_g"]) == e.Vectors*x.enc2.dim {
			both = append(both, e)
		}
	}
	rows1, idx = r.embeddingRows(both, "clip_l", x.enc1.dim)
	rows2, _ = r.embeddingRows(both, "clip_g", x.enc2.dim)
	return rows1, rows2, idx
}

// placeFixes gives each fix's positions the ids of its rows in a table
// whose original rows number vocab: the vectors start after BOS at the
// fix's offset and stop at the end of the 77 positions, as
// EmbeddingsWithFixes does.
func (tr *tokenRows) placeFixes(c *clip.Chunk, fixes []clip.Fix, vocab int) {
	for _, f := range fixes {
		n := min(clip.SeqLen-f.Offset-1, tr.count[f.Index])
		base := int64(vocab + tr.start[f.Index])
		for j := range n {
			c.IDs[f.Offset+1+j] = base + int64(j)
		}
	}
}
