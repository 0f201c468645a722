package clip

import "sort"

// Fix marks where a textual-inversion embedding's vectors go in a chunk
// (A1111's PromptChunkFix): Offset counts prompt tokens before it (BOS
// excluded), so its vectors start at sequence position Offset+1; Index is
// the embedding's index in the EmbeddingIndex.
type Fix struct {
	Offset int
	Index  int
}

// EmbeddingIndex is A1111's EmbeddingDatabase lookup: each embedding's name
// tokenized, found in a prompt by its token ids, the longest match first.
type EmbeddingIndex struct {
	vectors []int
	byFirst map[int64][]indexedName
}

type indexedName struct {
	ids   []int64
	index int
}

// NewEmbeddingIndex indexes embeddings by name; vectors[i] is how many
// vectors embedding i has. A later name equal to an earlier one replaces
// it, as register_embedding does.
func (t *Tokenizer) NewEmbeddingIndex(names []string, vectors []int) *EmbeddingIndex {
	x := &EmbeddingIndex{vectors: vectors, byFirst: map[int64][]indexedName{}}
	for i, name := range names {
		ids := t.Tokenize(name)
		if len(ids) == 0 {
			continue
		}
		list := x.byFirst[ids[0]]
		out := list[:0]
		for _, e := range list {
			if !equalIDs(e.ids, ids) {
				out = append(out, e)
			}
		}
		out = append(out, indexedName{ids: ids, index: i})
		// sorted(lookup, key=len(ids), reverse=True) is stable.
		sort.SliceStable(out, func(a, b int) bool { return len(out[a].ids) > len(out[b].ids) })
		x.byFirst[ids[0]] = out
	}
	return x
}

// at is find_embedding_at_position: the embedding whose name's ids start
// tokens[pos:], and how many tokens the name takes.
func (x *EmbeddingIndex) at(tokens []int64, pos int) (index, length int, ok bool) {
	if x == nil {
		return 0, 0, false
	}
	for _, e := range x.byFirst[tokens[pos]] {
		if pos+len(e.ids) <= len(tokens) && equalIDs(tokens[pos:pos+len(e.ids)], e.ids) {
			return e.index, len(e.ids), true
		}
	}
	return 0, 0, false
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
