package clip

import (
	"slices"
	"strings"
	"testing"
)

const (
	idA, idCat, idDog, idComma = 320, 515, 517, 267
	bos, eos                   = 49406, 49407
)

// chunk builds the expected Chunk: BOS, toks, EOS, then pad; mults default to 1.
func chunk(pad int64, toks []int64, mults map[int]float32) Chunk {
	var c Chunk
	c.IDs[0] = bos
	for i := range c.Multipliers {
		c.Multipliers[i] = 1
	}
	copy(c.IDs[1:], toks)
	c.IDs[len(toks)+1] = eos
	for i := len(toks) + 2; i < SeqLen; i++ {
		c.IDs[i] = pad
	}
	for i, m := range mults {
		c.Multipliers[i+1] = m
	}
	return c
}

func rep(id int64, n int) []int64 { return slices.Repeat([]int64{id}, n) }

func words(w string, n int) string { return strings.Repeat(w+" ", n) }

func TestEncode(t *testing.T) {
	tok := loadTest(t, "")
	w11, w09 := float32(1.1), float32(1/1.1)
	tests := []struct {
		name   string
		prompt string
		opts   Options
		want   []Chunk
	}{
		{"empty prompt", "", DefaultOptions(), []Chunk{chunk(eos, nil, nil)}},
		{"weights", "(a) [cat] (dog:1.5)", DefaultOptions(),
			[]Chunk{chunk(eos, []int64{idA, idCat, idDog}, map[int]float32{0: w11, 1: w09, 2: 1.5})}},
		{"emphasis None keeps brackets", "(a) BREAK", Options{Emphasis: EmphasisNone, CommaBacktrack: 20},
			[]Chunk{chunk(eos, []int64{263, idA, 264, 65, 81, 68, 64, 330}, nil)}}, // "break" lowercased
		{"exactly 75", words("a", 75), DefaultOptions(), []Chunk{chunk(eos, rep(idA, 75), nil)}},
		{"76 spills", words("a", 76), DefaultOptions(),
			[]Chunk{chunk(eos, rep(idA, 75), nil), chunk(eos, rep(idA, 1), nil)}},
		{"200 tokens", words("a", 200), DefaultOptions(),
			[]Chunk{chunk(eos, rep(idA, 75), nil), chunk(eos, rep(idA, 75), nil), chunk(eos, rep(idA, 50), nil)}},
		{"break", "a BREAK cat", DefaultOptions(),
			[]Chunk{chunk(eos, []int64{idA}, nil), chunk(eos, []int64{idCat}, nil)}},
		{"leading break gives an empty chunk", "BREAK cat", DefaultOptions(),
			[]Chunk{chunk(eos, nil, nil), chunk(eos, []int64{idCat}, nil)}},
		{"trailing break adds no chunk", "cat BREAK", DefaultOptions(),
			[]Chunk{chunk(eos, []int64{idCat}, nil)}},
		{"double break adds an empty chunk", "cat BREAK BREAK", DefaultOptions(),
			[]Chunk{chunk(eos, []int64{idCat}, nil), chunk(eos, nil, nil)}},
		{"sd1 pads with eos", "a cat", DefaultOptions(), []Chunk{chunk(eos, []int64{idA, idCat}, nil)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tok.EncodeWith(tc.prompt, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("EncodeWith(%q) =\n%v\nwant\n%v", tc.prompt, got, tc.want)
			}
		})
	}
}

func TestEncodeCommaBacktrack(t *testing.T) {
	tok := loadTest(t, "")
	// 70 × a, a comma at position 70, then 10 × cat with weight 1.1.
	prompt := words("a", 70) + ", (" + words("cat", 10) + ")"
	head := append(rep(idA, 70), idComma)
	cats := map[int]float32{}
	for i := range 10 {
		cats[i] = 1.1
	}
	got, err := tok.Encode(prompt)
	if err != nil {
		t.Fatal(err)
	}
	want := []Chunk{chunk(eos, head, nil), chunk(eos, rep(idCat, 10), cats)}
	if !slices.Equal(got, want) {
		t.Errorf("backtrack:\n%v\nwant\n%v", got, want)
	}

	// With the option off, the chunk is cut at 75 tokens.
	got, err = tok.EncodeWith(prompt, Options{Emphasis: EmphasisOriginal})
	if err != nil {
		t.Fatal(err)
	}
	first := map[int]float32{71: 1.1, 72: 1.1, 73: 1.1, 74: 1.1}
	rest := map[int]float32{0: 1.1, 1: 1.1, 2: 1.1, 3: 1.1, 4: 1.1, 5: 1.1}
	want = []Chunk{chunk(eos, append(head, rep(idCat, 4)...), first), chunk(eos, rep(idCat, 6), rest)}
	if !slices.Equal(got, want) {
		t.Errorf("no backtrack:\n%v\nwant\n%v", got, want)
	}

	// A comma more than 20 tokens back does not move text.
	got, err = tok.Encode(words("a", 50) + "," + words("cat", 30))
	if err != nil {
		t.Fatal(err)
	}
	want = []Chunk{
		chunk(eos, append(append(rep(idA, 50), idComma), rep(idCat, 24)...), nil),
		chunk(eos, rep(idCat, 6), nil),
	}
	if !slices.Equal(got, want) {
		t.Errorf("far comma:\n%v\nwant\n%v", got, want)
	}

	// A comma arriving on a full chunk opens the next one.
	got, err = tok.Encode(words("a", 75) + ", cat")
	if err != nil {
		t.Fatal(err)
	}
	want = []Chunk{chunk(eos, rep(idA, 75), nil), chunk(eos, []int64{idComma, idCat}, nil)}
	if !slices.Equal(got, want) {
		t.Errorf("comma at 76:\n%v\nwant\n%v", got, want)
	}
}

func TestEncodeSD2Pad(t *testing.T) {
	tok := loadTest(t, "!")
	got, err := tok.Encode("a cat BREAK BREAK")
	if err != nil {
		t.Fatal(err)
	}
	want := []Chunk{chunk(0, []int64{idA, idCat}, nil), chunk(0, nil, nil)}
	if !slices.Equal(got, want) {
		t.Errorf("sd2:\n%v\nwant\n%v", got, want)
	}
	// A full chunk has its EOS last and no padding.
	got, err = tok.Encode(words("a", 75))
	if err != nil || got[0].IDs[SeqLen-1] != eos || got[0].IDs[SeqLen-2] != idA {
		t.Errorf("sd2 full chunk = %v, %v", got, err)
	}
}

func TestPadChunks(t *testing.T) {
	tok := loadTest(t, "!")
	long, _ := tok.Encode(words("a", 100))
	short, _ := tok.Encode("")
	c, u := tok.PadChunks(long, short)
	if len(c) != 2 || len(u) != 2 || u[1] != tok.EmptyChunk() || !slices.Equal(c, long) || len(short) != 1 {
		t.Errorf("PadChunks = %d, %d chunks; uncond[1] = %v", len(c), len(u), u[len(u)-1])
	}
	if e := tok.EmptyChunk(); e.IDs[0] != bos || e.IDs[1] != eos || e.IDs[2] != 0 {
		t.Errorf("EmptyChunk = %v", e.IDs)
	}
	u2, c2 := tok.PadChunks(short, long)
	if len(u2) != 2 || len(c2) != 2 {
		t.Errorf("PadChunks reversed = %d, %d", len(u2), len(c2))
	}
}
