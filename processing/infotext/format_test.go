package infotext

import (
	"reflect"
	"testing"
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Euler a", "Euler a"},
		{`say "hi"`, `say "hi"`}, // no , : or \n: unchanged, quotes and all
		{"a, b", `"a, b"`},
		{"k: v", `"k: v"`},
		{"x\ny", `"x\ny"`},
		{"ü, <&>", `"ü, <&>"`}, // ensure_ascii=False, no HTML escaping
		{"a\u2028b, c", "\"a\u2028b, c\""},
		{"tab\t, \\ \"q\"", `"tab\t, \\ \"q\""`},
		{"ctl\x01,", `"ctl\u0001,"`},
	}
	for _, tc := range tests {
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestUnquote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{`"a, b"`, "a, b"},
		{`"\u00fc\n"`, "ü\n"},
		{`"`, `"`},
		{`"bad \x"`, `"bad \x"`},
		{`"a" "b"`, `"a" "b"`},
	}
	for _, tc := range tests {
		if got := Unquote(tc.in); got != tc.want {
			t.Errorf("Unquote(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name, prompt, neg string
		params            []KV
		want              string
	}{
		{
			name:   "a1111 example",
			prompt: "a cat", neg: "blurry",
			params: []KV{{"Steps", 20}, {"Sampler", "Euler a"}, {"Schedule type", "Automatic"}, {"CFG scale", 7.0},
				{"Seed", 123}, {"Face restoration", nil}, {"Size", "512x512"}, {"Version", "v1.10.1"}},
			want: "a cat\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7.0, Seed: 123, Size: 512x512, Version: v1.10.1",
		},
		{
			name:   "no negative, quoting, bare key, bools and floats; only the ends are trimmed",
			prompt: "  dog  ",
			params: []KV{{"Tiling", "Tiling"}, {"Lora hashes", "a: 1, b: 2"}, {"Denoising strength", 0.75},
				{"Token merging ratio", 1e-05}, {"Big", 1e16}, {"Flag", true}},
			want: "dog  \nTiling, Lora hashes: \"a: 1, b: 2\", Denoising strength: 0.75, Token merging ratio: 1e-05, Big: 1e+16, Flag: True",
		},
		{
			name:   "empty params leaves no trailing newline",
			prompt: "only",
			want:   "only",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Format(tc.prompt, tc.neg, tc.params); got != tc.want {
				t.Errorf("Format =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// TestFormatParseRoundTrip checks that Parse recovers what Format wrote,
// including values that need quoting.
func TestFormatParseRoundTrip(t *testing.T) {
	prompt := "masterpiece, 1girl\n(detailed:1.2)"
	neg := "lowres, bad anatomy\nextra digits"
	params := []KV{
		{"Steps", 28}, {"Sampler", "DPM++ 2M"}, {"CFG scale", 6.5}, {"Seed", 42}, {"Size", "832x1216"},
		{"Model", "sdxl: base, v1"}, {"Lora hashes", "x: \"q\", y: 2"}, {"Emoji", "🐱 → ✓"},
	}
	p := Parse(Format(prompt, neg, params))
	want := map[string]any{
		"Prompt": prompt, "Negative prompt": neg, "Steps": "28", "Sampler": "DPM++ 2M", "CFG scale": "6.5",
		"Seed": "42", "Size-1": "832", "Size-2": "1216", "Model": "sdxl: base, v1",
		"Lora hashes": "x: \"q\", y: 2", "Emoji": "🐱 → ✓",
	}
	for k, v := range want {
		if got, _ := p.Get(k); got != v {
			t.Errorf("%q = %#v, want %#v", k, got, v)
		}
	}
	// 1.10 stores the prompts after the parameters.
	wantOrder := []string{"Steps", "Sampler", "CFG scale", "Seed", "Size-1", "Size-2", "Model", "Lora hashes", "Emoji", "Prompt", "Negative prompt", "Clip skip"}
	if got := p.Keys()[:len(wantOrder)]; !reflect.DeepEqual(got, wantOrder) {
		t.Errorf("key order = %q, want %q", got, wantOrder)
	}
}
