package clip

import (
	"errors"
	"slices"
	"testing"
)

func TestParseAttention(t *testing.T) {
	tests := []struct {
		name, text string
		want       []Weighted
	}{
		// The golden examples of A1111's parse_prompt_attention docstring.
		{"doc normal", "normal text", []Weighted{{"normal text", 1}}},
		{"doc important", "an (important) word", []Weighted{{"an ", 1}, {"important", 1.1}, {" word", 1}}},
		{"doc unbalanced", "(unbalanced", []Weighted{{"unbalanced", 1.1}}},
		{"doc literal", `\(literal\]`, []Weighted{{"(literal]", 1}}},
		{"doc merge", "(unnecessary)(parens)", []Weighted{{"unnecessaryparens", 1.1}}},
		{"doc house", "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).", []Weighted{
			{"a ", 1}, {"house", 1.5730000000000004}, {" ", 1.1}, {"on", 1}, {" a ", 1.1},
			{"hill", 0.55}, {", sun, ", 1.1}, {"sky", 1.4641000000000006}, {".", 1.1},
		}},
		// Further cases, derived by hand from the same function.
		{"square", "[a]", []Weighted{{"a", 1 / 1.1}}},
		{"unbalanced square", "x [a", []Weighted{{"x ", 1}, {"a", 1 / 1.1}}},
		{"stray closers", "a) b]", []Weighted{{"a) b]", 1}}},
		{"backslash; a lone one is dropped", `a\\b \x`, []Weighted{{`a\b x`, 1}}},
		{"lone colon", "a: b", []Weighted{{"a: b", 1}}},
		{"weight without paren", "a:1.2)", []Weighted{{"a:1.2)", 1}}},
		{"signed weight", "(a:-1)", []Weighted{{"a", -1}}},
		{"unicode digits", "(a:١.٥)", []Weighted{{"a", 1.5}}},
		{"empty", "", []Weighted{{"", 1}}},
		{"empty parens", "()", []Weighted{{"", 1}}},
		{"break", "a BREAK b", []Weighted{{"a", 1}, {"BREAK", -1}, {"b", 1}}},
		{"break first", "BREAK a", []Weighted{{"", 1}, {"BREAK", -1}, {"a", 1}}},
		{"break needs word boundary", "aBREAK BREAKs éBREAK", []Weighted{{"aBREAK BREAKs éBREAK", 1}}},
		{"break newlines", "a\n BREAK\n\nb", []Weighted{{"a", 1}, {"BREAK", -1}, {"b", 1}}},
		{"break inside parens is scaled", "(a BREAK b)", []Weighted{{"a", 1.1}, {"BREAK", -1.1}, {"b", 1.1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAttention(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("ParseAttention(%q) = %v, want %v", tc.text, got, tc.want)
			}
		})
	}
}

func TestParseAttentionBadWeight(t *testing.T) {
	for _, text := range []string{"(a:1.2.3)", "(a:.)"} {
		if _, err := ParseAttention(text); !errors.Is(err, ErrPrompt) {
			t.Errorf("ParseAttention(%q): err = %v, want ErrPrompt", text, err)
		}
	}
	// Without an open paren the weight group is just text, as in A1111.
	if got, err := ParseAttention("a:1.2.3)"); err != nil || !slices.Equal(got, []Weighted{{"a:1.2.3)", 1}}) {
		t.Errorf("ParseAttention(%q) = %v, %v", "a:1.2.3)", got, err)
	}
}
