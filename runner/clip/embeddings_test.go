package clip

import (
	"reflect"
	"testing"
)

// TestEncodeFixes checks tokenize_line's embedding rules: the name's
// tokens become the embedding's vectors (id 0, the prompt weight), the
// longest name wins, and an embedding that does not fit starts a chunk.
func TestEncodeFixes(t *testing.T) {
	tok := loadTest(t, "")
	w11 := float32(1.1)
	tests := []struct {
		name    string
		names   []string
		vectors []int
		prompt  string
		want    []Chunk
		fixes   [][]Fix
	}{
		{"none", []string{"cat"}, []int{2}, "a dog", []Chunk{chunk(eos, []int64{idA, idDog}, nil)}, [][]Fix{nil}},
		{"two vectors", []string{"cat"}, []int{2}, "a cat dog",
			[]Chunk{chunk(eos, []int64{idA, 0, 0, idDog}, nil)}, [][]Fix{{{Offset: 1, Index: 0}}}},
		{"weighted", []string{"cat"}, []int{1}, "(cat) a",
			[]Chunk{chunk(eos, []int64{0, idA}, map[int]float32{0: w11})}, [][]Fix{{{Offset: 0, Index: 0}}}},
		{"longest name first", []string{"cat", "cat dog"}, []int{1, 3}, "cat dog a",
			[]Chunk{chunk(eos, []int64{0, 0, 0, idA}, nil)}, [][]Fix{{{Offset: 0, Index: 1}}}},
		{"does not fit", []string{"cat"}, []int{4}, words("a", 73) + "cat",
			[]Chunk{chunk(eos, rep(idA, 73), nil), chunk(eos, rep(0, 4), nil)}, [][]Fix{nil, {{Offset: 0, Index: 0}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			o.Embeddings = tok.NewEmbeddingIndex(tt.names, tt.vectors)
			got, fixes, err := tok.EncodeFixes(tt.prompt, o)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("chunks = %v\nwant %v", got, tt.want)
			}
			if !reflect.DeepEqual(fixes, tt.fixes) {
				t.Fatalf("fixes = %v, want %v", fixes, tt.fixes)
			}
		})
	}
}
